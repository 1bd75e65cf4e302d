//! Exec follows the policy: Landlock's execute right is granted only where the policy grants
//! `exec`, so a denial inside a granted tree (`--deny /usr/bin/echo` under the runtime
//! profile's `/usr` `rx`) holds for raw `execve` from a static program too, not only through
//! the shim. The rest of the tree stays executable.

mod floor_common;

use floor_common::{users, verdict, Floor};

#[test]
fn a_denied_executable_inside_the_floor_cannot_be_executed() {
    let f = Floor::new();
    for who in users() {
        // Control: natively the helper runs echo; under arbiter without the deny too.
        f.allowed(who, &[], &["execve-path", "/usr/bin/echo"]);
        // Denied by the policy: EACCES from Landlock, for the dynamic and the static helper.
        f.refused(
            who,
            &["--deny", "/usr/bin/echo"],
            &["execve-path", "/usr/bin/echo"],
            libc::EACCES,
        );
        // Through libc and a shell, as a user would.
        let out = f.confined(who, &["--deny", "/usr/bin/echo"], &["/usr/bin/echo", "x"]);
        assert_eq!(out.status.code(), Some(126), "{out:?}");
        // The rest of /usr/bin stays executable under the same policy.
        let out = f.confined(
            who,
            &["--deny", "/usr/bin/echo"],
            &["sh", "-c", "/usr/bin/true && /usr/bin/printf ok"],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok", "{out:?}");
        assert_eq!(
            verdict(&f.confined(
                who,
                &[],
                &[
                    f.helpers[0].to_str().unwrap(),
                    "execve-path",
                    "/usr/bin/echo"
                ]
            )),
            Ok(())
        );
    }
}
