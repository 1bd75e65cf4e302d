//! Reverse lookups are brokered under the resolve rules like forward ones: `getnameinfo`
//! gives a host name only when a resolve rule allows it (else, as when no name exists, the
//! numeric form, or `EAI_NONAME` with `NI_NAMEREQD`); numeric forms stay in-process.

use std::process::Command;

use arbiter_tests::{assert_code, have, stdout, Sandbox};

const PROBE: &str = r#"
import socket
for flags in (0, socket.NI_NAMEREQD, socket.NI_NUMERICHOST | socket.NI_NUMERICSERV):
    try:
        print(socket.getnameinfo(("127.0.0.1", 80), flags))
    except socket.gaierror as e:
        print("gaierror", e.errno == socket.EAI_NONAME)
"#;

fn python(sb: &Sandbox, extra: &[&str]) -> String {
    let out = sb.run(extra, &["python3", "-c", PROBE]);
    assert_code(&out, 0);
    stdout(&out)
}

#[test]
fn a_reverse_name_is_given_only_under_a_resolve_rule() {
    if !have("python3") {
        println!("SKIP: python3 is not installed");
        return;
    }
    let native = Command::new("python3")
        .args(["-c", PROBE])
        .output()
        .unwrap();
    let native = String::from_utf8_lossy(&native.stdout).into_owned();
    let named = "('localhost', 'http')\n('localhost', 'http')\n('127.0.0.1', '80')\n";
    if native != named {
        println!("SKIP: 127.0.0.1 has no name `localhost` here: {native:?}");
        return;
    }
    let sb = Sandbox::new();
    assert_eq!(
        python(&sb, &[]),
        "('127.0.0.1', 'http')\ngaierror True\n('127.0.0.1', '80')\n",
        "without a resolve rule the name is withheld"
    );
    assert_eq!(python(&sb, &["--resolve", "localhost"]), named);
    assert_eq!(
        python(&sb, &["--resolve", "*.example.test"]),
        "('127.0.0.1', 'http')\ngaierror True\n('127.0.0.1', '80')\n",
        "a rule for other names does not give this one"
    );
}

#[test]
fn a_withheld_reverse_name_is_audited_with_the_name() {
    if !have("python3") {
        println!("SKIP: python3 is not installed");
        return;
    }
    let sb = Sandbox::new();
    let log = sb.log("audit.log");
    let out = sb.run(
        &["--audit", log.to_str().unwrap()],
        &[
            "python3",
            "-c",
            "import socket; socket.getnameinfo(('127.0.0.1', 80), 0)",
        ],
    );
    assert_code(&out, 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let r = records
        .iter()
        .find(|r| r["call"] == "getnameinfo")
        .expect("a getnameinfo record");
    if r["endpoint"].is_null() {
        println!("SKIP: 127.0.0.1 has no reverse name here");
        return;
    }
    assert_eq!(r["decision"], "deny", "{r}");
    assert!(r["endpoint"].as_str().unwrap().starts_with("name:"), "{r}");
}
