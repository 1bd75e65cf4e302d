//! The request core asks its decider only about what the policy leaves to its default, and
//! acts on the answer with the same integrity rules as for the policy's own decisions.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arbiter_policies::{Policy, Source, Vars};
use arbiter_protocol::{At, Call, Checked, PathArg};

use super::decider::{Answer, Decider, Question, Subject};
use super::{Caller, RequestCore, Transport};
use crate::audit::Audit;

/// Answers `answer` and remembers the paths it was asked about.
struct Fixed {
    answer: Answer,
    asked: Mutex<Vec<PathBuf>>,
}

impl Decider for Fixed {
    fn name(&self) -> &'static str {
        "master"
    }
    fn decide(&self, q: &Question<'_>) -> Answer {
        if let Subject::Path { path, .. } = q.subject {
            self.asked.lock().unwrap().push(path.to_path_buf());
        }
        self.answer
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    granted: PathBuf,
    other: PathBuf,
    denied: PathBuf,
}

/// `granted/f` is readable by a rule, `other/f` by no rule, `denied/f` denied by a rule.
fn setup() -> (Setup, Policy) {
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
    let policy = Policy::load(
        &[Source::Text {
            origin: "test".into(),
            text,
        }],
        &Vars::default(),
    )
    .unwrap();
    let s = Setup {
        granted: root.join("granted/f"),
        other: root.join("other/f"),
        denied: root.join("denied/f"),
        _tmp: tmp,
    };
    (s, policy)
}

fn open(core: &RequestCore, path: &std::path::Path) -> Result<String, i32> {
    use std::os::unix::ffi::OsStrExt;
    let caller = Caller {
        pid: std::process::id() as i32,
        tid: None,
        exe: None,
        uid: 0,
        gid: 0,
        transport: Transport::Shim,
    };
    let call = Call::Open {
        path: PathArg {
            at: At::Absolute,
            path: path.as_os_str().as_bytes(),
        },
        flags: libc::O_RDONLY,
        mode: 0,
        umask: 0o022,
    };
    let checked = Checked::new(call, 0).unwrap();
    let out = core.handle(&caller, &checked, &[]);
    match out.fd {
        Some(fd) => {
            let mut s = String::new();
            std::fs::File::from(fd).read_to_string(&mut s).unwrap();
            Ok(s)
        }
        None => Err(out.errno),
    }
}

fn core_with(answer: Answer) -> (Setup, RequestCore, Arc<Fixed>) {
    let (s, policy) = setup();
    let fixed = Arc::new(Fixed {
        answer,
        asked: Mutex::new(Vec::new()),
    });
    let core = RequestCore::new(Arc::new(policy), Audit::disabled()).with_decider(fixed.clone());
    (s, core, fixed)
}

#[test]
fn an_undecided_path_is_the_deciders_and_rules_are_the_policys() {
    let (s, core, fixed) = core_with(Answer::Allow);
    // Control: without a decider, the default denies the undecided file.
    let (_, policy) = setup();
    let plain = RequestCore::new(Arc::new(policy), Audit::disabled());
    assert_eq!(open(&plain, &s.other), Err(libc::EACCES));

    assert_eq!(open(&core, &s.other).as_deref(), Ok("other"));
    assert_eq!(open(&core, &s.granted).as_deref(), Ok("granted"));
    // A rule's denial is final: the decider's "allow" is never asked for it.
    assert_eq!(open(&core, &s.denied), Err(libc::EACCES));
    let asked = fixed.asked.lock().unwrap().clone();
    assert!(asked.contains(&s.other), "asked: {asked:?}");
    assert!(!asked.contains(&s.granted), "asked: {asked:?}");
    assert!(!asked.contains(&s.denied), "asked: {asked:?}");
}

#[test]
fn a_decider_denies_with_its_errno_or_keeps_the_default() {
    let (s, core, _) = core_with(Answer::Deny(libc::EPERM));
    assert_eq!(open(&core, &s.other), Err(libc::EPERM));
    assert_eq!(open(&core, &s.granted).as_deref(), Ok("granted"));
    let (s, core, _) = core_with(Answer::Default);
    assert_eq!(open(&core, &s.other), Err(libc::EACCES));
}
