//! Connect, bind and resolve rules: every kind in an allow/deny pair, and their precedence.

mod common;

use arbiter_policies::{DecidedBy, Endpoint, Family};
use common::*;

fn connect(p: &arbiter_policies::Policy, ep: &Endpoint, names: &[&str]) -> bool {
    p.decide_connect(ep, names).allow
}

#[test]
fn connect_by_ip_pair() {
    let p = policy("[[connect]]\nip = \"192.0.2.1\"\nports = 443\n[[connect]]\nip = \"192.0.2.2\"\ndeny = true\n");
    assert!(connect(&p, &tcp("192.0.2.1:443"), &[]));
    assert!(!connect(&p, &tcp("192.0.2.1:80"), &[]));
    assert!(!connect(&p, &tcp("192.0.2.2:443"), &[]));
    assert!(
        !connect(&p, &udp("192.0.2.1:443"), &[]),
        "proto defaults to tcp"
    );
}

#[test]
fn connect_by_cidr_pair_longer_prefix_wins() {
    let p = policy(
        "[[connect]]\nip = \"10.0.0.0/8\"\ndeny = true\n[[connect]]\nip = \"10.1.0.0/16\"\nports = \"5432\"\n[[connect]]\nip = \"fd00::/8\"\n",
    );
    assert!(connect(&p, &tcp("10.1.2.3:5432"), &[]));
    assert!(
        !connect(&p, &tcp("10.1.2.3:22"), &[]),
        "the /16 rule decides: wrong port"
    );
    assert!(!connect(&p, &tcp("10.2.0.1:5432"), &[]));
    assert!(connect(&p, &tcp("[fd12::1]:80"), &[]));
    assert!(!connect(&p, &tcp("[fe80::1]:80"), &[]));
}

#[test]
fn connect_by_host_name_pair() {
    let p = policy(
        "[[connect]]\nhost = \"api.example.com\"\nports = \"443\"\n[[connect]]\nhost = \"evil.example.com\"\nports = \"443\"\ndeny = true\n",
    );
    let ep = tcp("192.0.2.7:443");
    assert!(connect(&p, &ep, &["api.example.com"]));
    assert!(
        connect(&p, &ep, &["API.Example.com."]),
        "case and trailing dot"
    );
    assert!(!connect(&p, &ep, &["evil.example.com"]));
    assert!(
        !connect(&p, &ep, &["api.example.com", "evil.example.com"]),
        "both names lead here; the rules are equally specific, so deny wins"
    );
    assert!(
        !connect(&p, &ep, &[]),
        "a numeric connect matches no host rule"
    );
}

#[test]
fn connect_by_host_pattern_pair() {
    let p = policy(
        "[[connect]]\nhost = \"*.example.com\"\nports = \"443\"\n[[connect]]\nhost = \"*.internal.example.com\"\ndeny = true\n",
    );
    let ep = tcp("192.0.2.7:443");
    assert!(connect(&p, &ep, &["a.example.com"]));
    assert!(connect(&p, &ep, &["a.b.example.com"]));
    assert!(
        !connect(&p, &ep, &["example.com"]),
        "*. needs at least one label"
    );
    assert!(!connect(&p, &ep, &["badexample.com"]));
    assert!(
        !connect(&p, &ep, &["db.internal.example.com"]),
        "the longer suffix wins"
    );
}

#[test]
fn address_rules_outrank_name_rules() {
    // A name that resolves into a denied block stays denied (no DNS rebinding around it).
    let p = policy(
        "[[connect]]\nhost = \"api.example.com\"\n[[connect]]\nip = \"10.0.0.0/8\"\ndeny = true\n",
    );
    assert!(!connect(&p, &tcp("10.0.0.5:443"), &["api.example.com"]));
    assert!(connect(&p, &tcp("192.0.2.5:443"), &["api.example.com"]));
}

#[test]
fn host_literal_ip_is_an_address_rule() {
    let p = policy("[[connect]]\nhost = \"127.0.0.1\"\nports = \"8080\"\n");
    assert!(connect(&p, &tcp("127.0.0.1:8080"), &[]));
}

#[test]
fn ports_lists_ranges_and_the_narrower_wins() {
    let p = policy(
        "[[connect]]\nports = \"8000-8999\"\n[[connect]]\nports = \"8080,8443\"\ndeny = true\n[[connect]]\nports = 8080\nip = \"127.0.0.1\"\n",
    );
    assert!(connect(&p, &tcp("192.0.2.1:8000"), &[]));
    assert!(!connect(&p, &tcp("192.0.2.1:8443"), &[]));
    assert!(!connect(&p, &tcp("192.0.2.1:8080"), &[]));
    assert!(
        connect(&p, &tcp("127.0.0.1:8080"), &[]),
        "an address beats any port set"
    );
    assert!(!connect(&p, &tcp("192.0.2.1:9000"), &[]));
}

#[test]
fn proto_pair() {
    let p = policy(
        "[[connect]]\nports = 53\nproto = \"udp\"\n[[connect]]\nports = 443\nproto = \"any\"\n",
    );
    assert!(connect(&p, &udp("192.0.2.1:53"), &[]));
    assert!(!connect(&p, &tcp("192.0.2.1:53"), &[]));
    assert!(connect(&p, &udp("192.0.2.1:443"), &[]));
    assert!(connect(&p, &tcp("192.0.2.1:443"), &[]));
}

#[test]
fn ipv4_mapped_addresses_match_ipv4_rules() {
    let p = policy("[[connect]]\nip = \"127.0.0.0/8\"\n");
    assert!(connect(&p, &tcp("[::ffff:127.0.0.1]:80"), &[]));
    let p = policy("[[connect]]\nip = \"::ffff:10.0.0.0/104\"\n");
    assert!(connect(&p, &tcp("10.9.9.9:80"), &[]));
}

#[test]
fn connect_unix_path_pair() {
    let p = policy(
        "[[connect]]\nunix = \"$XDG_RUNTIME_DIR\"\n[[connect]]\nunix = \"$XDG_RUNTIME_DIR/systemd\"\ndeny = true\n",
    );
    assert!(connect(
        &p,
        &Endpoint::Unix("/run/user/1000/bus".into()),
        &[]
    ));
    assert!(!connect(
        &p,
        &Endpoint::Unix("/run/user/1000/systemd/private".into()),
        &[]
    ));
    assert!(!connect(
        &p,
        &Endpoint::Unix("/run/dbus/system_bus_socket".into()),
        &[]
    ));
    assert!(
        !connect(&p, &Endpoint::Unix("/run/user/1000/../0/bus".into()), &[]),
        "not clean"
    );
    let rule = p.rule(
        p.decide_connect(&Endpoint::Unix("/run/user/1000/bus".into()), &[])
            .rule
            .unwrap(),
    );
    assert_eq!(
        p.roots()[rule.root.unwrap()],
        std::path::Path::new("/run/user/1000")
    );
}

#[test]
fn connect_abstract_pair() {
    let p = policy(
        "[[connect]]\nunix = \"@/tmp/.X11-unix/*\"\n[[connect]]\nunix = \"@/tmp/.X11-unix/X9\"\ndeny = true\n",
    );
    assert!(connect(
        &p,
        &Endpoint::Abstract(b"/tmp/.X11-unix/X0".to_vec()),
        &[]
    ));
    assert!(!connect(
        &p,
        &Endpoint::Abstract(b"/tmp/.X11-unix/X9".to_vec()),
        &[]
    ));
    assert!(!connect(&p, &Endpoint::Abstract(b"other".to_vec()), &[]));
}

#[test]
fn bind_inet_pair() {
    let p = policy("[[bind]]\nip = \"127.0.0.1\"\nports = \"8000-8100\"\n[[bind]]\nports = \"8050\"\ndeny = true\n");
    let allowed = |s: &str| p.decide_bind(&tcp(s)).decision.allow;
    assert!(allowed("127.0.0.1:8000"));
    assert!(
        allowed("127.0.0.1:8050"),
        "an address beats a port-only rule"
    );
    assert!(
        !allowed("0.0.0.0:8000"),
        "the wildcard address is not 127.0.0.1"
    );
    assert!(!allowed("0.0.0.0:8050"));
    assert!(!p.decide_bind(&tcp("192.0.2.1:22")).decision.allow);
}

#[test]
fn bind_unix_path_pair_with_mode_and_stale_replacement() {
    let p = policy(
        "[[bind]]\nunix = \"$PWD/app.sock\"\nmode = \"0600\"\nreplace_stale = true\n[[bind]]\nunix = \"$PWD\"\nmode = 0o660\n[[bind]]\nunix = \"$PWD/no\"\ndeny = true\n",
    );
    let b = p.decide_bind(&Endpoint::Unix("/home/u/proj/app.sock".into()));
    assert!(b.decision.allow);
    assert_eq!((b.mode, b.replace_stale), (Some(0o600), true));
    let b = p.decide_bind(&Endpoint::Unix("/home/u/proj/other.sock".into()));
    assert_eq!(
        (b.decision.allow, b.mode, b.replace_stale),
        (true, Some(0o660), false)
    );
    let b = p.decide_bind(&Endpoint::Unix("/home/u/proj/no/x.sock".into()));
    assert_eq!(
        (b.decision.allow, b.mode, b.replace_stale),
        (false, None, false)
    );
}

#[test]
fn bind_abstract_pair() {
    let p =
        policy("[[bind]]\nunix = \"@myapp-*\"\n[[bind]]\nunix = \"@myapp-admin\"\ndeny = true\n");
    assert!(
        p.decide_bind(&Endpoint::Abstract(b"myapp-1".to_vec()))
            .decision
            .allow
    );
    assert!(
        !p.decide_bind(&Endpoint::Abstract(b"myapp-admin".to_vec()))
            .decision
            .allow
    );
    assert!(
        !p.decide_bind(&Endpoint::Abstract(b"other".to_vec()))
            .decision
            .allow
    );
}

#[test]
fn connect_and_bind_rules_are_separate() {
    let p = policy("[[connect]]\nports = 80\n");
    assert!(p.decide_connect(&tcp("192.0.2.1:80"), &[]).allow);
    assert!(!p.decide_bind(&tcp("0.0.0.0:80")).decision.allow);
}

#[test]
fn resolve_pair_and_precedence() {
    let p = policy(
        "[[resolve]]\nname = \"*\"\n[[resolve]]\nname = \"*.tracker.example\"\ndeny = true\nerrno = \"ENOENT\"\n[[resolve]]\nname = \"ok.tracker.example\"\n",
    );
    assert!(p.decide_resolve("example.org").allow);
    let d = p.decide_resolve("ads.tracker.example");
    assert_eq!((d.allow, d.errno), (false, libc::ENOENT));
    assert!(p.decide_resolve("OK.tracker.example.").allow);
}

#[test]
fn defaults_per_family() {
    let p = policy("[defaults]\nconnect = \"allow\"\nresolve = \"allow\"\n[[connect]]\nip = \"169.254.169.254\"\ndeny = true\n");
    assert!(p.decide_connect(&tcp("192.0.2.1:1"), &[]).allow);
    assert!(!p.decide_connect(&tcp("169.254.169.254:80"), &[]).allow);
    assert!(p.decide_resolve("x").allow);
    let d = p.decide_bind(&tcp("0.0.0.0:1")).decision;
    assert_eq!((d.allow, d.by), (false, DecidedBy::Default(Family::Bind)));
}

#[test]
fn network_explain_names_the_rule() {
    let p = policy("[[connect]]\nhost = \"*.example.com\"\nports = \"443\"\n");
    let d = p.decide_connect(&tcp("192.0.2.1:443"), &["www.example.com"]);
    assert_eq!(
        p.explain(&d),
        "allow by test.toml:1:1: connect tcp *.example.com:443: allow"
    );
}
