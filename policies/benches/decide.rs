//! Decision cost against policy size: a 10-rule policy and a policy with 10,000 path rules
//! and 1,000 network rules, measured in the same run so the ratio is meaningful on a noisy
//! machine. Run with `cargo bench -p arbiter-policies --bench decide`.
//!
//! Decisions walk a trie along the path (and hash maps for addresses and names), so the
//! large policy should cost about the same per decision as the small one.

use arbiter_policies::{Access, Endpoint, Policy, Source, Vars};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn vars() -> Vars {
    Vars {
        home: Some("/home/u".into()),
        pwd: "/home/u/proj".into(),
        tmpdir: "/tmp".into(),
        ..Vars::default()
    }
}

fn small() -> String {
    let mut t = String::new();
    for (path, effect) in [
        ("/usr", "allow = \"rx\""),
        ("/etc", "allow = \"ro\""),
        ("/etc/shadow", "deny = true"),
        ("$PWD", "allow = \"rw\""),
        ("$PWD/secrets", "deny = true"),
        ("$TMPDIR", "allow = \"rw\""),
        ("~/.ssh", "deny = true"),
        ("~/.*_history", "deny = true"),
    ] {
        writeln!(t, "[[fs]]\npath = \"{path}\"\n{effect}").unwrap();
    }
    t.push_str("[[connect]]\nhost = \"*.example.com\"\nports = 443\n");
    t.push_str("[[connect]]\nip = \"10.0.0.0/8\"\ndeny = true\n");
    t
}

fn large() -> String {
    let mut t = small();
    for i in 0..10_000u32 {
        let (a, b, c) = (i % 50, (i / 50) % 20, i / 1000);
        let effect = if i % 7 == 0 {
            "deny = true"
        } else {
            "allow = \"ro\""
        };
        if i % 100 == 0 {
            writeln!(t, "[[fs]]\npath = \"/data/d{a}/s{b}/*.tmp{c}\"\n{effect}").unwrap();
        } else {
            writeln!(t, "[[fs]]\npath = \"/data/d{a}/s{b}/f{c}x{i}\"\n{effect}").unwrap();
        }
    }
    for i in 0..1_000u32 {
        let deny = if i % 5 == 0 { "deny = true\n" } else { "" };
        match i % 4 {
            0 => writeln!(
                t,
                "[[connect]]\nip = \"192.0.{}.{}\"\nports = {}\n{deny}",
                i / 250,
                i % 250,
                1000 + i
            ),
            1 => writeln!(
                t,
                "[[connect]]\nip = \"172.{}.{}.0/24\"\n{deny}",
                16 + i % 16,
                i % 256
            ),
            2 => writeln!(
                t,
                "[[connect]]\nhost = \"svc{i}.example.net\"\nports = \"443,8443\"\n{deny}"
            ),
            _ => writeln!(t, "[[connect]]\nhost = \"*.zone{i}.example.org\"\n{deny}"),
        }
        .unwrap();
    }
    t
}

fn load(text: String) -> (Policy, Duration) {
    let start = Instant::now();
    let p = Policy::load(
        &[Source::Text {
            origin: "bench".into(),
            text,
        }],
        &vars(),
    )
    .expect("valid");
    (p, start.elapsed())
}

/// Nanoseconds per call of `f` over `items`, best of 5 rounds.
fn time<T>(items: &[T], mut f: impl FnMut(&T) -> bool) -> f64 {
    let rounds = 5;
    let reps = 20_000 / items.len().max(1) + 1;
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut n = 0usize;
        for _ in 0..reps {
            for item in items {
                n += usize::from(black_box(f(black_box(item))));
            }
        }
        black_box(n);
        let per = start.elapsed().as_nanos() as f64 / (reps * items.len()) as f64;
        best = best.min(per);
    }
    best
}

fn main() {
    let (small, t_small) = load(small());
    let (large, t_large) = load(large());
    println!(
        "load+compile: small {:.2} ms, large {:.1} ms ({} rules)",
        t_small.as_secs_f64() * 1e3,
        t_large.as_secs_f64() * 1e3,
        large.rules().len()
    );

    let paths: Vec<PathBuf> = [
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/etc/passwd",
        "/etc/shadow",
        "/home/u/proj/src/main.rs",
        "/home/u/proj/secrets/key",
        "/home/u/.ssh/id_ed25519",
        "/home/u/.bash_history",
        "/tmp/build/obj/a.o",
        "/var/lib/unknown/file",
        "/data/d7/s3/f2x2157",
        "/data/d7/s3/other.tmp2",
        "/data/d49/s19/nothing/here",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let endpoints: Vec<(Endpoint, &[&str])> = vec![
        (Endpoint::Tcp("192.0.1.17:1267".parse().unwrap()), &[]),
        (Endpoint::Tcp("172.20.4.9:80".parse().unwrap()), &[]),
        (
            Endpoint::Tcp("10.1.2.3:443".parse().unwrap()),
            &["api.example.com"],
        ),
        (
            Endpoint::Tcp("203.0.113.9:443".parse().unwrap()),
            &["svc402.example.net"],
        ),
        (
            Endpoint::Tcp("203.0.113.9:443".parse().unwrap()),
            &["a.b.zone7.example.org"],
        ),
        (Endpoint::Udp("198.51.100.1:53".parse().unwrap()), &[]),
    ];

    let mut rows = Vec::new();
    for (name, p) in [("small", &small), ("large", &large)] {
        let fs = time(&paths, |path| {
            p.decide_path(path, Access::READ).decision.allow
        });
        let stat = time(&paths, |path| {
            p.decide_path(path, Access::STAT).decision.allow
        });
        let net = time(&endpoints, |(ep, names)| p.decide_connect(ep, names).allow);
        let res = time(
            &["example.com", "a.b.zone7.example.org", "svc1.example.net"],
            |n| p.decide_resolve(n).allow,
        );
        println!(
            "{name:>5} ({:>5} rules): decide_path {fs:7.1} ns  (stat {stat:7.1} ns)  decide_connect {net:7.1} ns  decide_resolve {res:7.1} ns",
            p.rules().len()
        );
        rows.push((fs, net));
    }
    println!(
        "ratio large/small: paths {:.2}x, connect {:.2}x",
        rows[1].0 / rows[0].0,
        rows[1].1 / rows[0].1
    );
}
