//! The broker never loads a library from the `LD_LIBRARY_PATH` it was started with (red
//! team s10a finding 04). glibc loads NSS modules lazily, in the broker, for the lookups it
//! brokers (services, protocols, hosts); with `services: db files` (Debian's default) and
//! `libnss_db` not installed, the first services lookup searches `LD_LIBRARY_PATH` for
//! `libnss_db.so.2`. A directory there that the sandbox may write — the working directory,
//! named outright or by an empty element (`/usr/local/lib:`) — let the program plant a
//! library that then ran in the broker, outside every layer of the sandbox.
//!
//! The planted library (`tests/helpers/planted_nss.c`) writes `PROOF` into a directory the
//! run's policy denies. Native control: the lookup under the same `LD_LIBRARY_PATH` runs it
//! (so its absence under arbiter means the broker never loaded it). Under arbiter, as the
//! invoker and as uid 65534, both routes to the broker's lookup (`getservbyname`, and
//! `getaddrinfo` with a service name) answer as natively, `PROOF` is never written, and the
//! command still sees `LD_LIBRARY_PATH` exactly as it was set. The brokered lookups are
//! reached through the shim's channel only (a static program's own glibc makes its lookups
//! in its own process, where the policy and the kernel floor decide its reads), so the
//! helper is dynamic.

use std::path::Path;
use std::process::Stdio;

use arbiter_tests::{
    arbiter_as, compile_helper, invoker_and_nobody, native_as, outside_dir, Sandbox,
};

/// Whether the services lookup loads a module (`db`, `sss`, `ldap`…) other than those
/// built into glibc; if not, nothing is searched for and there is nothing to test.
fn services_loads_a_module() -> bool {
    let conf = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("services:"))
        .is_some_and(|sources| {
            sources
                .split_whitespace()
                .any(|s| s.starts_with("db") || !["files", "[NOTFOUND=return]"].contains(&s))
        })
}

#[test]
fn a_library_planted_on_the_loader_path_never_runs_in_the_broker() {
    if !services_loads_a_module() || !Path::new("/etc/services").exists() {
        println!("SKIP: /etc/nsswitch.conf's services line loads no NSS module here");
        return;
    }
    let module = std::fs::read_to_string("/etc/nsswitch.conf")
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("services:").map(str::to_owned))
        .unwrap();
    let name = module
        .split_whitespace()
        .find(|s| *s != "files" && !s.starts_with('['))
        .map(|s| format!("libnss_{s}.so.2"))
        .unwrap();
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let lookup = compile_helper("service_lookup", &sb.dir, &[]);
        compile_helper("planted_nss", &sb.dir, &["-shared", "-fPIC"]);
        std::fs::rename(sb.path("planted_nss"), sb.path(&name)).unwrap();
        let denied = outside_dir();
        let proof = denied.path().join("PROOF");
        let lookup = lookup.to_str().unwrap();

        // Native control: the same lookup with the working directory on the loader's
        // path loads the planted module.
        let native = native_as(nobody, lookup)
            .current_dir(&sb.dir)
            .env("LD_LIBRARY_PATH", &sb.dir)
            .env("PROOF_DIR", denied.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            proof.exists(),
            "native control: the planted module did not run"
        );
        std::fs::remove_file(&proof).unwrap();
        let native_out = String::from_utf8_lossy(&native.stdout).into_owned();

        for path in [sb.dir.display().to_string(), "/usr/local/lib:".to_string()] {
            let out = arbiter_as(nobody)
                .args(["run", "-q", "--deny"])
                .arg(denied.path())
                .args(["--", lookup])
                .current_dir(&sb.dir)
                .env("LD_LIBRARY_PATH", &path)
                .env("PROOF_DIR", denied.path())
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                native_out,
                "LD_LIBRARY_PATH={path}, nobody={nobody}: {err}"
            );
            assert!(
                !proof.exists(),
                "LD_LIBRARY_PATH={path}, nobody={nobody}: the planted module ran in the broker"
            );
            // The command's environment keeps the variable as it was set.
            let env = arbiter_as(nobody)
                .args([
                    "run",
                    "-q",
                    "--",
                    "sh",
                    "-c",
                    "printf %s \"$LD_LIBRARY_PATH\"",
                ])
                .current_dir(&sb.dir)
                .env("LD_LIBRARY_PATH", &path)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&env.stdout),
                path,
                "nobody={nobody}"
            );
        }
    }
}
