//! A pathname unix socket bound through the broker reports its real name (issue 18):
//! `getsockname()` of the listener and `getpeername()` of a client that connected to it
//! say the path the program bound, as natively — not the `/proc/self/fd/N/name` the broker
//! used to bind through (which Python's multiprocessing then hands its children as the
//! address to connect to) — and `accept()` reports the unbound client's empty address.
//! An absolute path, a relative name (`rel.sock`, `./rel.sock`: the kernel records the
//! string it was given, so natively that relative string is the name) and, for a relative
//! path through another directory (`sub/rel.sock`), the documented difference: the real
//! absolute path. Through libc (the shim's transport with `--no-seccomp-transport`, else
//! the seccomp one) and raw system calls from a static helper (the seccomp transport), as
//! root and as uid 65534, each with a native control. Before the fix every brokered run
//! printed `/proc/self/fd/N/…` for both; before the relative-name fix a relative name was
//! reported as the absolute real path.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_helper, is_root, stderr, stdout, Sandbox};

fn as_user(nobody: bool, program: &Path) -> Command {
    if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .env("HOME", "/nonexistent");
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, dir: &Path) -> Output {
    c.current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run")
}

fn expected(name: &str) -> String {
    format!("sockname {name}\npeername {name}\naccepted \n")
}

#[test]
fn a_socket_bound_through_the_broker_reports_its_real_path() {
    let sb = Sandbox::new();
    let libc_build = compile_helper("unix_name", &sb.dir, &[]);
    let raw_dir = sb.path("raw");
    std::fs::create_dir(&raw_dir).unwrap();
    let raw_build = compile_helper("unix_name", &raw_dir, &["-static", "-DRAW"]);
    let sub = sb.path("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    for nobody in users {
        for (kind, helper) in [("libc", &libc_build), ("raw", &raw_build)] {
            let transports: &[&[&str]] = if kind == "libc" {
                &[&[], &["--no-seccomp-transport"]]
            } else {
                &[&[]]
            };
            for (t, extra) in transports.iter().enumerate() {
                let tag = format!("{kind}{t}-{}", if nobody { "nobody" } else { "root" });
                // Each form: (what is bound, what natively reports, what arbiter reports).
                let abs = |p: &str| sb.path(p).to_str().unwrap().to_owned();
                let forms = [
                    (abs(&format!("n-{tag}.sock")), None),
                    (format!("r-{tag}.sock"), None),
                    (format!("./d-{tag}.sock"), None),
                    (
                        format!("sub/s-{tag}.sock"),
                        Some(abs(&format!("sub/s-{tag}.sock"))),
                    ),
                ];
                for (bound, brokered_name) in forms {
                    let file = sb.dir.join(&bound);
                    // The native control.
                    let mut c = as_user(nobody, helper);
                    c.arg(&bound);
                    let o = run(c, &sb.dir);
                    assert_eq!(stdout(&o), expected(&bound), "{tag}: {}", stderr(&o));
                    std::fs::remove_file(&file).unwrap();
                    // The same under arbiter, the bind and connect allowed.
                    let endpoint = format!("unix:{}", file.display());
                    let mut c = as_user(nobody, &arbiter());
                    c.args(["run", "-q", "--bind", &endpoint, "--connect", &endpoint])
                        .args(*extra)
                        .arg("--")
                        .arg(helper)
                        .arg(&bound);
                    let o = run(c, &sb.dir);
                    let name = brokered_name.as_deref().unwrap_or(&bound);
                    assert_eq!(stdout(&o), expected(name), "{tag} {bound}: {}", stderr(&o));
                    assert!(
                        std::fs::symlink_metadata(&file).is_ok(),
                        "{tag}: no socket file at {}",
                        file.display()
                    );
                    std::fs::remove_file(&file).unwrap();
                }
            }
        }
    }
}
