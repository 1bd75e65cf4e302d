//! The built-in profiles load and do what `docs/policy.md` says.

mod common;

use arbiter_policies::{profiles, Access, Endpoint, Policy, Source};
use common::*;

fn builtin(name: &str) -> Policy {
    Policy::load(&[Source::Builtin(name.into())], &vars()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_builtin_loads_and_has_a_description() {
    assert_eq!(
        profiles::list().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [
            "runtime",
            "default",
            "network-client",
            "python",
            "git",
            "cargo",
            "go",
            "node",
            "java"
        ]
    );
    for (name, description) in profiles::list() {
        assert!(!description.is_empty());
        assert!(profiles::text(name).unwrap().contains("version = 1"));
        builtin(name);
    }
    assert_eq!(profiles::text("nope"), None);
}

#[test]
fn runtime_allows_what_a_dynamic_program_needs_and_no_more() {
    let p = builtin("runtime");
    for (path, access) in [
        (
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            Access::READ | Access::EXEC,
        ),
        ("/usr/bin/ls", Access::EXEC),
        ("/etc/ld.so.cache", Access::READ),
        ("/etc/nsswitch.conf", Access::READ),
        ("/etc/passwd", Access::READ),
        ("/usr/lib/locale/C.utf8/LC_CTYPE", Access::READ),
        ("/dev/null", Access::WRITE),
        ("/dev/urandom", Access::READ),
        ("/proc/self/maps", Access::READ),
    ] {
        assert!(allowed(&p, path, access), "{path} {access}");
    }
    for (path, access) in [
        ("/usr/bin/ls", Access::WRITE),
        ("/etc/shadow", Access::READ),
        ("/etc/hosts", Access::READ),
        ("/home/u/proj/x", Access::READ),
        ("/proc/1/environ", Access::READ),
        ("/dev/sda", Access::READ),
        ("/tmp/x", Access::READ),
    ] {
        assert!(!allowed(&p, path, access), "{path} {access}");
    }
    assert!(!p.decide_connect(&tcp("192.0.2.1:443"), &[]).allow);
    assert!(!p.decide_resolve("example.com").allow);
}

#[test]
fn default_allows_work_and_denies_secrets_even_under_a_broad_rule() {
    let p = builtin("default");
    assert!(allowed(
        &p,
        "/home/u/proj/src/main.rs",
        Access::WRITE | Access::CREATE
    ));
    assert!(allowed(&p, "/tmp/build/x", Access::REMOVE));
    assert!(allowed(&p, "/etc/hosts", Access::READ));
    assert!(!allowed(&p, "/etc/hosts", Access::WRITE));
    // A program runs what it wrote in $PWD and $TMPDIR (docs/default-policy.md).
    assert!(
        allowed(&p, "/home/u/proj/run.sh", Access::EXEC),
        "exec in $PWD"
    );
    assert!(
        allowed(&p, "/tmp/conftest", Access::EXEC),
        "exec in $TMPDIR"
    );
    assert!(
        !allowed(&p, "/home/u/bin/tool", Access::EXEC),
        "none elsewhere"
    );
    for secret in [
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/sudoers",
        "/etc/sudoers.d/x",
        "/etc/ssh/ssh_host_ed25519_key",
        "/etc/ssl/private/server.pem",
        "/etc/nginx/tls/server.key",
        "/home/u/.bashrc",
        "/home/u/Documents/x",
    ] {
        assert!(!allowed(&p, secret, Access::READ), "{secret}");
    }
    // Even when the working directory is the home directory, the secrets stay denied.
    let mut v = vars();
    v.pwd = "/home/u".into();
    let p = Policy::load(&[Source::Builtin("default".into())], &v).unwrap();
    assert!(allowed(&p, "/home/u/notes.txt", Access::WRITE));
    for secret in [
        "/home/u/.ssh/id_ed25519",
        "/home/u/.gnupg/private-keys-v1.d/x",
        "/home/u/.aws/credentials",
        "/home/u/.netrc",
        "/home/u/.bash_history",
        "/home/u/.zsh_history",
        "/home/u/.mozilla/firefox/x/cookies.sqlite",
        "/home/u/.config/google-chrome/Default/Cookies",
        "/home/u/.git-credentials",
    ] {
        assert!(!allowed(&p, secret, Access::READ), "{secret}");
        assert!(!allowed(&p, secret, Access::WRITE), "{secret}");
    }
}

#[test]
fn default_survives_pwd_equal_to_tmpdir() {
    let mut v = vars();
    v.pwd = "/tmp".into();
    let p = Policy::load(&[Source::Builtin("default".into())], &v).unwrap();
    assert!(allowed(&p, "/tmp/x", Access::WRITE));
}

#[test]
fn network_client_connects_out_but_never_listens() {
    let p = Policy::load(
        &[
            Source::Builtin("default".into()),
            Source::Builtin("network-client".into()),
        ],
        &vars(),
    )
    .unwrap();
    assert!(p.decide_resolve("example.com").allow);
    assert!(
        p.decide_connect(&tcp("192.0.2.1:443"), &["example.com"])
            .allow
    );
    assert!(p.decide_connect(&udp("192.0.2.1:53"), &[]).allow);
    assert!(!p.decide_bind(&tcp("0.0.0.0:8080")).decision.allow);
    assert!(
        !p.decide_connect(&Endpoint::Unix("/run/docker.sock".into()), &[])
            .allow
    );
    assert!(allowed(
        &p,
        "/etc/ssl/certs/ca-certificates.crt",
        Access::READ
    ));
    assert!(allowed(&p, "/etc/resolv.conf", Access::READ));
}

#[test]
fn python_and_git_extend_default() {
    let p = builtin("python");
    assert!(allowed(
        &p,
        "/home/u/.pyenv/versions/3.11.7/bin/python3.11",
        Access::EXEC
    ));
    assert!(allowed(&p, "/home/u/.cache/pip/http/x", Access::WRITE));
    assert!(!allowed(&p, "/home/u/.ssh/id_rsa", Access::READ));
    let g = builtin("git");
    assert!(allowed(&g, "/home/u/.gitconfig", Access::READ));
    assert!(allowed(&g, "/home/u/.ssh/known_hosts", Access::READ));
    assert!(!allowed(&g, "/home/u/.ssh/id_ed25519", Access::READ));
    assert!(!allowed(&g, "/etc/ssh/ssh_host_rsa_key", Access::READ));
    assert!(allowed(&g, "/etc/ssh/ssh_config", Access::READ));
}

#[test]
fn tool_profiles_grant_their_toolchains_and_keep_the_homes_secrets_denied() {
    // (profile, path, access that must be allowed)
    let grants: &[(&str, &str, Access)] = &[
        (
            "cargo",
            "/home/u/.cargo/bin/cargo",
            Access::READ | Access::EXEC,
        ),
        (
            "cargo",
            "/home/u/.rustup/toolchains/stable/bin/rustc",
            Access::READ | Access::EXEC,
        ),
        (
            "cargo",
            "/home/u/.cargo/registry/cache/x.crate",
            Access::WRITE | Access::CREATE,
        ),
        ("cargo", "/home/u/.cargo/config.toml", Access::READ),
        (
            "go",
            "/home/u/go/pkg/mod/cache/x",
            Access::WRITE | Access::CREATE,
        ),
        (
            "go",
            "/home/u/.cache/go-build/00/x",
            Access::WRITE | Access::CREATE,
        ),
        ("go", "/home/u/sdk/go1.22/bin/go", Access::EXEC),
        (
            "node",
            "/home/u/.nvm/versions/node/v20/bin/node",
            Access::EXEC,
        ),
        (
            "node",
            "/home/u/.npm/_cacache/x",
            Access::WRITE | Access::CREATE,
        ),
        (
            "java",
            "/home/u/.sdkman/candidates/java/17/bin/java",
            Access::EXEC,
        ),
        (
            "java",
            "/home/u/.m2/repository/x.jar",
            Access::WRITE | Access::CREATE,
        ),
        (
            "java",
            "/home/u/.gradle/caches/x",
            Access::WRITE | Access::CREATE,
        ),
        (
            "python",
            "/home/u/.pyenv/versions/3.11/bin/python3",
            Access::EXEC,
        ),
    ];
    for (name, path, access) in grants {
        assert!(
            allowed(&builtin(name), path, *access),
            "{name}: {path} {access}"
        );
    }
    // (profile, path, access that must stay denied)
    let denials: &[(&str, &str, Access)] = &[
        ("cargo", "/home/u/.cargo/credentials.toml", Access::READ),
        ("cargo", "/home/u/.cargo/registry/x", Access::EXEC),
        ("cargo", "/home/u/.rustup/settings.toml", Access::WRITE),
        ("go", "/home/u/.cache/go-build/00/x", Access::EXEC),
        ("node", "/home/u/.npmrc", Access::READ),
        ("node", "/home/u/.npm/x", Access::EXEC),
        ("java", "/home/u/.m2/settings-security.xml", Access::READ),
        ("java", "/home/u/.gradle/gradle.properties", Access::READ),
        ("java", "/home/u/.m2/repository/x.jar", Access::EXEC),
    ];
    for name in ["cargo", "go", "node", "java", "python"] {
        let p = builtin(name);
        for secret in [
            "/home/u/.ssh/id_ed25519",
            "/home/u/.aws/credentials",
            "/home/u/.gnupg/x",
        ] {
            assert!(!allowed(&p, secret, Access::READ), "{name}: {secret}");
        }
        assert!(!allowed(&p, "/home/u/other/file", Access::READ), "{name}");
    }
    for (name, path, access) in denials {
        assert!(
            !allowed(&builtin(name), path, *access),
            "{name}: {path} {access}"
        );
    }
}
