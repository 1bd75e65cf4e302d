//! The master's answers as the request core applies them: a reply is returned instead of
//! performing, a call is offered once, routes offer rule-allowed calls, a wrong reply comes
//! back to the master.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arbiter_policies::{Policy, Source, Vars};
use arbiter_protocol::{At, Call as Wire, Checked, PathArg};

use super::{Arguments, Master};
use crate::audit::Audit;
use crate::core::{Caller, Outcome, RequestCore, Transport};

/// `granted/` is readable by a rule, `other/` writable by no rule, `denied/` denied.
fn setup() -> (tempfile::TempDir, PathBuf, Policy) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    for d in ["granted", "other", "denied"] {
        std::fs::create_dir(root.join(d)).unwrap();
        std::fs::write(root.join(d).join("f"), d).unwrap();
    }
    let text = format!(
        "version = 1\n[[fs]]\npath = \"{0}/granted\"\nallow = \"ro\"\n\
         [[fs]]\npath = \"{0}/denied\"\ndeny = true\n",
        root.display()
    );
    let origin = "test".into();
    let policy = Policy::load(&[Source::Text { origin, text }], &Vars::default()).unwrap();
    (tmp, root, policy)
}

fn caller() -> Caller {
    Caller {
        pid: std::process::id() as i32,
        tid: None,
        exe: None,
        uid: 0,
        gid: 0,
        transport: Transport::Shim,
    }
}

fn arg(p: &Path) -> PathArg<'_> {
    PathArg {
        at: At::Absolute,
        path: p.as_os_str().as_bytes(),
    }
}

fn open(core: &RequestCore, path: &Path) -> Outcome {
    let call = Wire::Open {
        path: arg(path),
        flags: libc::O_RDONLY,
        mode: 0,
        umask: 0o022,
    };
    core.handle(&caller(), &Checked::new(call, 0).unwrap(), &[])
}

fn read(out: Outcome) -> Result<String, i32> {
    match out.fd {
        Some(fd) => {
            let mut s = String::new();
            std::fs::File::from(fd).read_to_string(&mut s).unwrap();
            Ok(s)
        }
        None => Err(out.errno),
    }
}

/// Runs `program` on a broker thread against a core whose master is served by `answer`
/// (on a tokio runtime here), until the program is done.
fn with_master<T: Send + 'static>(
    policy: Policy,
    routes: &[&str],
    answer: impl Fn(super::Call) + Send + 'static,
    program: impl FnOnce(&RequestCore) -> T + Send + 'static,
) -> (T, Vec<Arguments>) {
    let (mut master, decider) = Master::channel();
    master.route(routes);
    let core = RequestCore::new(Arc::new(policy), Audit::disabled()).with_decider(decider);
    let worker = std::thread::spawn(move || program(&core));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let seen = rt.block_on(async move {
        let mut seen = Vec::new();
        // Ends when the core (the hook's only holder) is dropped with the worker.
        while let Ok(call) = master.receive().await {
            seen.push(call.arguments().clone());
            answer(call);
        }
        seen
    });
    (worker.join().unwrap(), seen)
}

#[test]
fn a_master_reply_with_an_fd_is_what_the_program_gets() {
    let (_tmp, root, policy) = setup();
    let own = root.join("granted/f");
    let other = root.join("other/f");
    let (got, seen) = with_master(
        policy,
        &[],
        move |call| {
            let fd = std::fs::File::open(&own).unwrap().into();
            call.reply_with_fds(0, vec![fd]).unwrap();
        },
        move |core| read(open(core, &other)),
    );
    assert_eq!(got.as_deref(), Ok("granted"));
    assert!(matches!(&seen[..], [Arguments::Open { path, .. }] if path.ends_with("other/f")));
}

#[test]
fn a_replied_call_is_offered_once_and_nothing_is_performed() {
    let (_tmp, root, policy) = setup();
    let (from, to) = (root.join("other/f"), root.join("other/g"));
    let (f2, t2) = (from.clone(), to.clone());
    let (out, seen) = with_master(
        policy,
        &[],
        |call| call.reply(0).unwrap(),
        move |core| {
            let call = Wire::Rename {
                from: arg(&f2),
                to: arg(&t2),
                flags: 0,
            };
            let out = core.handle(&caller(), &Checked::new(call, 0).unwrap(), &[]);
            (out.result, out.errno)
        },
    );
    assert_eq!(out, (0, 0));
    // Source and destination are both undecided: one question, and no rename happened.
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(from.exists() && !to.exists());
}

#[test]
fn a_wrong_reply_comes_back_and_the_call_can_still_be_denied() {
    let (_tmp, root, policy) = setup();
    let other = root.join("other/f");
    let (got, _) = with_master(
        policy,
        &[],
        |call| {
            let wrong = call.reply(0).unwrap_err();
            assert!(wrong.to_string().contains("descriptor"), "{wrong}");
            wrong.into_call().deny(libc::EPERM);
        },
        move |core| read(open(core, &other)),
    );
    assert_eq!(got, Err(libc::EPERM));
}

#[test]
fn a_routed_family_offers_rule_allowed_calls_but_never_rule_denied_ones() {
    let (_tmp, root, policy) = setup();
    let (granted, denied) = (root.join("granted/f"), root.join("denied/f"));
    let (got, seen) = with_master(
        policy,
        &["open"],
        |call| call.deny(libc::EPERM),
        move |core| (read(open(core, &granted)), read(open(core, &denied))),
    );
    assert_eq!(got, (Err(libc::EPERM), Err(libc::EACCES)));
    assert_eq!(seen.len(), 1, "{seen:?}");
    // Control: unrouted, the rule's allow stands without asking.
    let (_tmp, root, policy) = setup();
    let granted = root.join("granted/f");
    let (got, seen) = with_master(
        policy,
        &[],
        |call| call.deny(libc::EPERM),
        move |core| read(open(core, &granted)),
    );
    assert_eq!(got.as_deref(), Ok("granted"));
    assert!(seen.is_empty());
}

/// Regression: the open path asked only the policy whether it may create, so a decider's
/// "perform" could never create a file no rule covered (EACCES).
#[test]
fn a_performed_create_creates_the_file() {
    let (_tmp, root, policy) = setup();
    let new = root.join("other/new");
    let n2 = new.clone();
    let (out, seen) = with_master(
        policy,
        &[],
        |call| call.perform(),
        move |core| {
            let call = Wire::Open {
                path: arg(&n2),
                flags: libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                mode: 0o644,
                umask: 0o022,
            };
            let out = core.handle(&caller(), &Checked::new(call, 0).unwrap(), &[]);
            (out.fd.is_some(), out.errno)
        },
    );
    assert_eq!(out, (true, 0));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(new.is_file());
}
