//! The services and protocols lookups (`getservbyname`, `getservbyport`, `getprotobyname`,
//! `getprotobynumber` and their `_r` forms) are brokered: each is one call the broker
//! answers from its own libc and decides as a read of `/etc/services` (`/etc/protocols`),
//! with glibc's answers (entries, aliases, "not found", `ERANGE` for a short buffer) and
//! without the program's process loading an NSS module (with `services: db files`, ld.so's
//! search for a missing `libnss_db.so.2`: ~100 probes, each stopped for the broker).

use std::path::{Path, PathBuf};
use std::process::Output;

use arbiter_tests::{
    arbiter_as, assert_code, compile_dynamic_and_static, have, invoker_and_nobody, native_as,
    stdout, Sandbox,
};

/// The lookups helper, dynamic and (when a static libc exists) static, in `sb`, readable
/// by uid 65534.
fn helpers(sb: &Sandbox) -> Vec<PathBuf> {
    let built = compile_dynamic_and_static("netdb_calls", &sb.dir, &[]);
    for b in &built {
        std::fs::set_permissions(b, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    built
}

fn native(sb: &Sandbox, nobody: bool, program: &Path, args: &[&str]) -> Output {
    native_as(nobody, program)
        .args(args)
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

fn under_arbiter(sb: &Sandbox, nobody: bool, extra: &[&str], cmd: &[&str]) -> Output {
    arbiter_as(nobody)
        .args(["run", "-q"])
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

/// The system's python3, which uid 65534 can run too.
const PYTHON3: &str = "/usr/bin/python3";

/// Python's forms (the non-reentrant functions, through libpython): found, aliases, any
/// protocol, not found.
const PYTHON: &str = r#"
import socket
def t(f, *a):
    try:
        return repr(f(*a))
    except OSError as e:
        return "error " + str(e)
for f, a in [
    (socket.getservbyname, ("http", "tcp")), (socket.getservbyname, ("www", "tcp")),
    (socket.getservbyname, ("domain",)), (socket.getservbyname, ("http", "udp")),
    (socket.getservbyname, ("no-such-service",)), (socket.getservbyport, (22,)),
    (socket.getservbyport, (53, "udp")), (socket.getservbyport, (1, "udp")),
    (socket.getprotobyname, ("tcp",)), (socket.getprotobyname, ("UDP",)),
    (socket.getprotobyname, ("no-such-protocol",)),
]:
    print(f.__name__, a, t(f, *a))
"#;

/// The line of `out` that starts with `what `.
fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{what} ")))
        .unwrap_or_else(|| panic!("no line {what:?} in\n{out}"))
}

/// The records of `log`.
fn records(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_form_answers_as_natively_for_root_and_nobody() {
    let sb = Sandbox::new();
    let built = helpers(&sb);
    let dynamic = &built[0];
    for nobody in invoker_and_nobody() {
        let n = native(&sb, nobody, dynamic, &[]);
        assert_code(&n, 0);
        let n = stdout(&n);
        // The control: this host's databases hold what the comparison relies on.
        if !line(&n, "servbyname_r http/tcp").contains("port=80 proto=tcp aliases=www,") {
            println!("SKIP: this host's /etc/services has no `http 80/tcp www`:\n{n}");
            return;
        }
        assert!(line(&n, "servbyname_r small").contains("rc=34 errno=34 null"));
        assert!(line(&n, "protobyname_r missing").contains("rc=0 errno=0 null"));
        for b in &built {
            let a = under_arbiter(&sb, nobody, &[], &[b.to_str().unwrap()]);
            assert_code(&a, 0);
            assert_eq!(stdout(&a), n, "{} as nobody={nobody}", b.display());
        }
        if Path::new(PYTHON3).exists() {
            let n = native_as(nobody, PYTHON3)
                .args(["-c", PYTHON])
                .current_dir(&sb.dir)
                .output()
                .unwrap();
            assert_code(&n, 0);
            let a = under_arbiter(&sb, nobody, &[], &[PYTHON3, "-c", PYTHON]);
            assert_code(&a, 0);
            assert_eq!(stdout(&a), stdout(&n), "python3 as nobody={nobody}");
            assert!(stdout(&n).contains("getservbyname ('www', 'tcp') 80"));
        } else {
            println!("SKIP: {PYTHON3} is not installed (the C helper ran)");
        }
    }
}

/// Before the lookups were brokered, glibc in the program loaded the NSS modules itself:
/// every probe of ld.so's search for `libnss_db.so.2` reached the broker as an `openat` or
/// `stat`, and no lookup was recorded as such.
#[test]
fn each_lookup_is_one_recorded_call_and_the_program_loads_no_nss_module() {
    let sb = Sandbox::new();
    let dynamic = &helpers(&sb)[0];
    let log = sb.log("audit.log");
    let a = under_arbiter(
        &sb,
        false,
        &["--audit", log.to_str().unwrap(), "--audit-level", "all"],
        &[dynamic.to_str().unwrap()],
    );
    assert_code(&a, 0);
    let recs = records(&log);
    let calls: Vec<&serde_json::Value> = recs.iter().filter(|r| r["type"] == "call").collect();
    for (call, file) in [
        ("getservbyname", "/etc/services"),
        ("getservbyport", "/etc/services"),
        ("getprotobyname", "/etc/protocols"),
        ("getprotobynumber", "/etc/protocols"),
    ] {
        let mine: Vec<_> = calls.iter().filter(|r| r["call"] == call).collect();
        assert!(!mine.is_empty(), "no {call} record");
        let real = std::fs::canonicalize(file).unwrap();
        for r in &mine {
            assert_eq!(r["decision"], "allow", "{r}");
            assert_eq!(r["paths"][0], real.to_str().unwrap(), "{r}");
            assert_eq!(r["transport"], "shim", "{r}");
        }
    }
    let http = calls
        .iter()
        .find(|r| r["call"] == "getservbyname" && r["args"]["name"] == "http")
        .expect("the http lookup");
    assert_eq!(http["args"]["proto"], "tcp", "{http}");
    assert_eq!(http["result"]["value"], 0, "{http}");
    let missing = calls
        .iter()
        .find(|r| r["call"] == "getservbyname" && r["args"]["name"] == "no-such-service")
        .expect("the missing lookup");
    assert_eq!(missing["result"]["errno"], "ENOENT", "{missing}");
    let port = calls
        .iter()
        .find(|r| r["call"] == "getservbyport" && r["args"]["port"] == 22)
        .expect("the port 22 lookup, in host byte order");
    assert_eq!(port["args"]["proto"], "tcp", "{port}");
    let nss: Vec<_> = calls
        .iter()
        .filter(|r| r.to_string().contains("libnss_"))
        .collect();
    assert!(nss.is_empty(), "the program loaded NSS modules: {nss:?}");
}

#[test]
fn a_policy_refusing_the_database_file_refuses_the_lookup() {
    let sb = Sandbox::new();
    let built = helpers(&sb);
    for nobody in invoker_and_nobody() {
        // The native control: both databases answer.
        let n = native(&sb, nobody, &built[0], &[]);
        assert_code(&n, 0);
        let n = stdout(&n);
        assert!(line(&n, "servbyname_r http/tcp").contains("rc=0 errno=0 name=http"));
        assert!(line(&n, "protobyname_r tcp").contains("rc=0 errno=0 name=tcp"));
        for b in &built {
            let log = sb.log(&format!("deny-{nobody}.log"));
            let _ = std::fs::remove_file(&log);
            let a = under_arbiter(
                &sb,
                nobody,
                &["--deny", "/etc/services", "--audit", log.to_str().unwrap()],
                &[b.to_str().unwrap()],
            );
            assert_code(&a, 0);
            let a = stdout(&a);
            let what = format!("{} as nobody={nobody}:\n{a}", b.display());
            // As glibc answers when it cannot read the file: the error, errno the same.
            for l in [
                "servbyname_r http/tcp",
                "servbyname_r missing",
                "servbyport_r 22/tcp",
                "servbyport_r not-a-port",
            ] {
                assert!(line(&a, l).ends_with("rc=13 errno=13 null"), "{l}: {what}");
            }
            assert!(
                line(&a, "servbyname http/tcp").ends_with("errno=13 null"),
                "{what}"
            );
            // The other database is another file: still answered.
            assert_eq!(
                line(&a, "protobyname_r tcp"),
                line(&n, "protobyname_r tcp"),
                "{what}"
            );
            assert_eq!(
                line(&a, "protobynumber 6"),
                line(&n, "protobynumber 6"),
                "{what}"
            );
            let recs = records(&log);
            if b == &built[0] {
                // Through the shim: the lookup itself is the refused call.
                let r = recs
                    .iter()
                    .find(|r| r["call"] == "getservbyname")
                    .unwrap_or_else(|| panic!("no getservbyname record: {recs:?}"));
                assert_eq!(r["decision"], "deny", "{r}");
                assert_eq!(r["result"]["errno"], "EACCES", "{r}");
                assert!(r["hint"].as_str().unwrap().contains("/etc/services"), "{r}");
            } else {
                // Static: glibc's own open of the file, refused by the seccomp transport.
                assert!(
                    recs.iter().any(|r| r["call"] == "open"
                        && r["decision"] == "deny"
                        && r["paths"][0] == "/etc/services"),
                    "{recs:?}"
                );
            }
        }
        // And the pair: refusing the protocols file refuses protocol lookups only.
        let a = under_arbiter(
            &sb,
            nobody,
            &["--deny", "/etc/protocols"],
            &[built[0].to_str().unwrap()],
        );
        assert_code(&a, 0);
        let a = stdout(&a);
        assert!(
            line(&a, "protobyname_r tcp").ends_with("rc=13 errno=13 null"),
            "{a}"
        );
        assert!(
            line(&a, "protobynumber 6").ends_with("errno=13 null"),
            "{a}"
        );
        assert_eq!(
            line(&a, "servbyname_r http/tcp"),
            line(&n, "servbyname_r http/tcp")
        );
    }
    if have("python3") {
        let probe = "import socket\ntry:\n    socket.getservbyname('http', 'tcp'); print('found')\nexcept OSError as e:\n    print('refused', e)";
        let a = under_arbiter(
            &sb,
            false,
            &["--deny", "/etc/services"],
            &["python3", "-c", probe],
        );
        assert_code(&a, 0);
        assert!(stdout(&a).starts_with("refused"), "{}", stdout(&a));
        let n = native(&sb, false, Path::new("python3"), &["-c", probe]);
        assert_eq!(stdout(&n), "found\n");
    }
}

/// `getaddrinfo` with a service name reads the services database too: refusing
/// `/etc/services` refuses that route as it refuses `getservbyname` (red team s10a finding
/// 01: the broker's `getaddrinfo` looked the name up undecided, so `--deny /etc/services`
/// left `getaddrinfo(NULL, "ssh")` answering 22). glibc's answer when it cannot read the
/// file is `EAI_SERVICE`, which the static build (its own in-process read refused by the
/// policy) gets too; a numeric service needs no read. Native control: both routes answer 22.
#[test]
fn a_policy_refusing_services_refuses_getaddrinfo_service_names_too() {
    let sb = Sandbox::new();
    let built = compile_dynamic_and_static("service_lookup", &sb.dir, &[]);
    for nobody in invoker_and_nobody() {
        for helper in &built {
            let prog = helper.to_str().unwrap();
            let n = native(&sb, nobody, helper, &[]);
            assert_eq!(
                stdout(&n),
                "servbyname => 22\ngetaddrinfo => 22\n",
                "native control"
            );
            let denied = under_arbiter(&sb, nobody, &["--deny", "/etc/services"], &[prog]);
            assert_eq!(
                stdout(&denied),
                "servbyname => none\ngetaddrinfo => none\n",
                "{prog}, nobody={nobody}: {}",
                String::from_utf8_lossy(&denied.stderr)
            );
            let allowed = under_arbiter(&sb, nobody, &[], &[prog]);
            assert_eq!(stdout(&allowed), stdout(&n), "{prog}, nobody={nobody}");
        }
    }
}
