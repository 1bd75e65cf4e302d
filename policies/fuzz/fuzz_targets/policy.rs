//! Feeds arbitrary bytes to the policy loader and, when they load, to every decision.
//! Loading must never panic; decisions must never panic.
#![no_main]

use arbiter_policies::{Access, Endpoint, Policy, Source, Vars};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let vars = Vars {
        home: Some("/home/u".into()),
        pwd: "/home/u/proj".into(),
        tmpdir: "/tmp".into(),
        ..Vars::default()
    };
    let text = String::from_utf8_lossy(data).into_owned();
    let sources = [Source::Text { origin: "fuzz".into(), text }];
    let Ok(p) = Policy::load(&sources, &vars) else {
        return;
    };
    for path in ["/", "/a/b", "/home/u/proj/x", "/home/u/.ssh/id", "/etc/ssl/x.key"] {
        let d = p.decide_path(Path::new(path), Access::READ);
        let _ = p.explain_path(&d);
        let _ = p.decide_path(Path::new(path), Access::STAT);
    }
    let _ = p.decide_connect(&Endpoint::Tcp("10.1.2.3:443".parse().unwrap()), &["a.example.com"]);
    let _ = p.decide_connect(&Endpoint::Abstract(b"x".to_vec()), &[]);
    let _ = p.decide_bind(&Endpoint::Unix("/home/u/proj/s.sock".into()));
    let _ = p.decide_resolve("a.example.com");
    let _ = (p.kernel_floor(), p.digest());
});
