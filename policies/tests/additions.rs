//! Command-line additions become a source merged last.

mod common;

use arbiter_policies::{Access, Additions, Endpoint, ErrorKind, Policy, Source};
use common::*;

fn with(additions: &Additions) -> Policy {
    let src = additions.to_source().unwrap_or_else(|e| panic!("{e}"));
    Policy::load(&[Source::Builtin("default".into()), src], &vars())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn paths_are_added_and_replace_profile_rules() {
    let p = with(&Additions {
        ro: vec!["/data".into(), "rel/dir".into()],
        rw: vec!["/home/u/.ssh".into()],
        rx: vec!["/opt/tool".into()],
        deny: vec!["/home/u/proj/secret".into()],
        ..Additions::default()
    });
    assert!(allowed(&p, "/data/x", Access::READ) && !allowed(&p, "/data/x", Access::WRITE));
    assert!(
        allowed(&p, "/home/u/proj/rel/dir/x", Access::READ),
        "relative to $PWD"
    );
    assert!(
        allowed(&p, "/home/u/.ssh/id", Access::WRITE),
        "replaces the profile's deny"
    );
    assert!(allowed(&p, "/opt/tool/bin/t", Access::EXEC));
    assert!(!allowed(&p, "/home/u/proj/secret/x", Access::READ));
    let info = p.rule(
        p.decide_path("/data".as_ref(), Access::READ)
            .decision
            .rule
            .unwrap(),
    );
    assert_eq!(info.origin.origin, "command line");
    assert_eq!(info.text, "fs /data: allow ro");
}

#[test]
fn paths_are_taken_literally() {
    let p = with(&Additions {
        ro: vec!["/odd/$HOME/*".into()],
        ..Additions::default()
    });
    assert!(allowed(&p, "/odd/$HOME/*", Access::READ));
    assert!(!allowed(&p, "/odd/$HOME/x", Access::READ));
}

#[test]
fn network_additions() {
    let p = with(&Additions {
        connect: vec![
            "example.com:443".into(),
            "[::1]:8080".into(),
            "udp:192.0.2.53:53".into(),
            "unix:/run/user/1000/bus".into(),
            "unix:@app".into(),
        ],
        bind: vec![
            "127.0.0.1:8000-8100".into(),
            "*:9000".into(),
            "unix:/home/u/proj/s.sock".into(),
        ],
        resolve: vec!["*.example.org".into()],
        ..Additions::default()
    });
    assert!(
        p.decide_resolve("example.com").allow,
        "a host connect also allows resolving it"
    );
    assert!(
        p.decide_connect(&tcp("192.0.2.1:443"), &["example.com"])
            .allow
    );
    assert!(
        !p.decide_connect(&tcp("192.0.2.1:80"), &["example.com"])
            .allow
    );
    assert!(p.decide_connect(&tcp("[::1]:8080"), &[]).allow);
    assert!(p.decide_connect(&udp("192.0.2.53:53"), &[]).allow);
    assert!(!p.decide_connect(&tcp("192.0.2.53:53"), &[]).allow);
    assert!(
        p.decide_connect(&Endpoint::Unix("/run/user/1000/bus".into()), &[])
            .allow
    );
    assert!(
        p.decide_connect(&Endpoint::Abstract(b"app".to_vec()), &[])
            .allow
    );
    assert!(p.decide_bind(&tcp("127.0.0.1:8050")).decision.allow);
    assert!(p.decide_bind(&tcp("0.0.0.0:9000")).decision.allow);
    assert!(
        p.decide_bind(&Endpoint::Unix("/home/u/proj/s.sock".into()))
            .decision
            .allow
    );
    assert!(p.decide_resolve("a.example.org").allow);
    assert!(!p.decide_resolve("example.net").allow);
}

#[test]
fn bad_values_are_errors_naming_them() {
    let e = Additions {
        connect: vec!["example.com".into(), "::1:80".into(), "a.com:http".into()],
        bind: vec!["localhost:80".into()],
        resolve: vec!["a*b".into()],
        ..Additions::default()
    }
    .to_source()
    .unwrap_err();
    let msgs: Vec<String> = e.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(msgs.len(), 5, "{msgs:#?}");
    assert!(
        msgs[0].starts_with("command line: --connect \"example.com\": no port"),
        "{}",
        msgs[0]
    );
    assert!(msgs[1].contains("--connect \"::1:80\"") && msgs[1].contains("brackets"));
    assert!(msgs[2].contains("--connect \"a.com:http\": bad port \"http\""));
    assert!(msgs[3].contains("--bind \"localhost:80\"") && msgs[3].contains("local address"));
    assert!(msgs[4].contains("--resolve \"a*b\""));
    assert!(e
        .diagnostics()
        .iter()
        .all(|d| d.kind == ErrorKind::BadAddition));
}

#[test]
fn nothing_to_add() {
    assert!(Additions::default().is_empty());
    let p = with(&Additions::default());
    assert!(!allowed(&p, "/data", Access::READ));
}
