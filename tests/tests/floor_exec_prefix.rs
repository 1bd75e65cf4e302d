//! The command's own directory is an installation prefix, but it is granted Landlock's
//! execute right whole only where the policy decides the whole subtree alone with `exec`
//! allowed. When the command lies in the working directory (`arbiter run -- ./x`) and a
//! narrower rule denies a file beneath it (`--deny ./secretbin`), that file cannot be
//! executed, by raw `execve` from a static program nor through libc, while the command
//! itself still runs (red-team finding 05 of issue 18).

mod floor_common;

use floor_common::{users, verdict, Floor};

#[test]
fn a_denied_executable_beside_the_command_cannot_be_executed() {
    let f = Floor::new();
    let work = f.path("work");
    // The helpers are the command, in the working directory: its installation prefix.
    let mut commands = Vec::new();
    for h in &f.helpers {
        let dst = work.join(h.file_name().unwrap());
        std::fs::copy(h, &dst).unwrap();
        commands.push(format!("./{}", dst.file_name().unwrap().to_str().unwrap()));
    }
    // The executable the policy denies: an echo beside the command.
    std::fs::copy("/usr/bin/echo", work.join("secretbin")).unwrap();
    let deny = work.join("secretbin");
    let deny_args = ["--deny", deny.to_str().unwrap()];
    for who in users() {
        for cmd in &commands {
            for mode in ["execve-path", "execv-libc"] {
                let argv = [cmd.as_str(), mode, "./secretbin"];
                // Native control: the helper runs the file.
                assert_eq!(
                    verdict(&f.native(who, &argv)),
                    Ok(()),
                    "control: {argv:?} natively as {who:?}"
                );
                // Under arbiter without the deny the working directory stays executable.
                assert_eq!(
                    verdict(&f.confined(who, &[], &argv)),
                    Ok(()),
                    "{argv:?} under arbiter as {who:?}"
                );
                // With the deny: EACCES from Landlock, yet the command itself ran.
                assert_eq!(
                    verdict(&f.confined(who, &deny_args, &argv)),
                    Err(libc::EACCES),
                    "{argv:?} under arbiter --deny secretbin as {who:?}"
                );
            }
        }
        // A sibling the policy does not deny stays executable beside the denied one.
        std::fs::copy("/usr/bin/echo", work.join("tool")).unwrap();
        let argv = [commands[0].as_str(), "execve-path", "./tool"];
        assert_eq!(verdict(&f.confined(who, &deny_args, &argv)), Ok(()));
    }
}
