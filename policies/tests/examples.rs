//! The example policies under `policies/examples/` load, and do what their comments say.

mod common;

use arbiter_policies::{check, Access, Endpoint, Policy, Source};
use common::*;
use std::path::{Path, PathBuf};

fn example(name: &str) -> Policy {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    Policy::load(&[Source::File(path)], &vars()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_example_checks_clean() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let d = check(&[Source::File(path.clone())], &vars());
        assert!(d.is_empty(), "{}: {d:#?}", path.display());
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn project_example() {
    let p = example("project.toml");
    assert!(allowed(&p, "/home/u/proj/target/debug/app", Access::EXEC));
    assert!(!allowed(&p, "/home/u/proj/src/main.rs", Access::EXEC));
    let d = p
        .decide_path(Path::new("/home/u/proj/.env"), Access::READ)
        .decision;
    assert_eq!((d.allow, d.errno), (false, libc::ENOENT));
    assert!(
        p.decide_connect(&tcp("192.0.2.1:443"), &["static.crates.io"])
            .allow
    );
    assert!(
        !p.decide_connect(&tcp("192.0.2.1:443"), &["example.com"])
            .allow
    );
    assert!(!p.decide_connect(&tcp("169.254.169.254:80"), &[]).allow);
    assert!(
        !allowed(&p, "/home/u/.cargo/credentials.toml", Access::READ),
        "the default's secret stays denied"
    );
}

#[test]
fn web_server_example() {
    let p = example("web-server.toml");
    assert!(p.decide_bind(&tcp("127.0.0.1:8080")).decision.allow);
    assert!(!p.decide_bind(&tcp("0.0.0.0:8080")).decision.allow);
    let b = p.decide_bind(&Endpoint::Unix("/home/u/proj/run/app.sock".into()));
    assert_eq!(
        (b.decision.allow, b.mode, b.replace_stale),
        (true, Some(0o660), true)
    );
    assert!(p.decide_connect(&tcp("10.20.3.4:5432"), &[]).allow);
    assert!(
        p.decide_connect(&Endpoint::Unix("/run/postgresql/.s.PGSQL.5432".into()), &[])
            .allow
    );
}

#[test]
fn untrusted_tool_example() {
    let p = example("untrusted-tool.toml");
    assert!(allowed(&p, "/home/u/proj/input/a", Access::READ));
    assert!(!allowed(&p, "/home/u/proj/input/a", Access::WRITE));
    let d = p
        .decide_path(Path::new("/home/u/proj/out/r"), Access::WRITE)
        .decision;
    assert_eq!(
        (d.allow, d.audit),
        (true, arbiter_policies::AuditSetting::All)
    );
    let d = p
        .decide_path(Path::new("/home/u/.bashrc"), Access::READ)
        .decision;
    assert_eq!(
        (d.allow, d.errno, d.audit),
        (false, libc::EPERM, arbiter_policies::AuditSetting::Silent)
    );
}

#[test]
fn desktop_app_example() {
    let p = example("desktop-app.toml");
    assert!(
        p.decide_connect(&Endpoint::Unix("/run/user/1000/bus".into()), &[])
            .allow
    );
    assert!(
        p.decide_connect(&Endpoint::Unix("/run/user/1000/wayland-0".into()), &[])
            .allow
    );
    assert!(
        !p.decide_connect(&Endpoint::Unix("/run/user/1000/pipewire-0".into()), &[])
            .allow
    );
    assert!(
        p.decide_connect(&Endpoint::Abstract(b"/tmp/.X11-unix/X0".to_vec()), &[])
            .allow
    );
    assert!(allowed(&p, "/home/u/.config/myapp/settings", Access::WRITE));
    assert!(!allowed(&p, "/home/u/.config/other/settings", Access::READ));
}
