//! Helpers shared by the integration tests.
#![allow(dead_code)]

use arbiter_policies::{Access, Diagnostic, Endpoint, Policy, Source, Vars};
use std::path::Path;

/// The variables every test uses: home /home/u, pwd /home/u/proj, tmpdir /tmp.
pub fn vars() -> Vars {
    Vars {
        home: Some("/home/u".into()),
        pwd: "/home/u/proj".into(),
        tmpdir: "/tmp".into(),
        xdg_runtime_dir: Some("/run/user/1000".into()),
        ..Vars::default()
    }
}

pub fn text(t: &str) -> Source {
    Source::Text {
        origin: "test.toml".into(),
        text: t.into(),
    }
}

/// Loads one text source, panicking with the diagnostics on error.
pub fn policy(t: &str) -> Policy {
    match Policy::load(&[text(t)], &vars()) {
        Ok(p) => p,
        Err(e) => panic!("policy failed to load:\n{e}"),
    }
}

/// Loads one text source that must fail; returns its diagnostics.
pub fn errors(t: &str) -> Vec<Diagnostic> {
    match Policy::load(&[text(t)], &vars()) {
        Ok(_) => panic!("policy loaded but should not:\n{t}"),
        Err(e) => e.diagnostics().to_vec(),
    }
}

pub fn allowed(p: &Policy, path: &str, access: Access) -> bool {
    p.decide_path(Path::new(path), access).decision.allow
}

/// The origin line of the rule that decided, or 0 for the default.
pub fn line(p: &Policy, path: &str, access: Access) -> u32 {
    p.decide_path(Path::new(path), access)
        .decision
        .rule
        .map_or(0, |r| p.rule(r).origin.line)
}

pub fn tcp(s: &str) -> Endpoint {
    Endpoint::Tcp(s.parse().unwrap())
}

pub fn udp(s: &str) -> Endpoint {
    Endpoint::Udp(s.parse().unwrap())
}
