//! `mkdir -p` of a granted path whose parents do not exist yet (issue 18: `go build` as a
//! user without `~/.cache` could not make `~/.cache/go-build`, which `--policy go` grants).
//! A rule granting `create` on a path also allows `mkdir` of each missing directory on the
//! way to it — only directories (a symlink or file there stays refused), only with no write
//! for group or others whatever mode and umask the program gives (`0755` at most), and
//! nothing off the way. Dynamic (libc, the shim) and static (no shim: the seccomp transport) helper, root and uid 65534, native
//! control (all five creations succeed, mode 0777); before the fix `mkdir a` was refused.

mod floor_common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use floor_common::{arbiter, command, users};

const NATIVE: &str = "mkdir a: ok 777\nmkdir a/b: ok 777\nmkdir other: ok 777\n\
                      symlink q: ok\ncreate f: ok\n";
const CONFINED: &str = "mkdir a: ok 755\nmkdir a/b: ok 755\n\
                        mkdir other: Permission denied\nsymlink q: Permission denied\n\
                        create f: Permission denied\n";

#[test]
fn directories_on_the_way_to_a_granted_path_can_be_made_and_nothing_else() {
    let scratch = tempfile::Builder::new()
        .prefix("arbiter-mkdirway-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(scratch.path(), PermissionsExt::from_mode(0o777)).unwrap();
    let bins = arbiter_tests::compile_dynamic_and_static("mkdir_on_the_way", scratch.path(), &[]);
    let arb = arbiter();
    for who in users() {
        for h in &bins {
            for confined in [false, true] {
                let tag = format!(
                    "{who:?}-{}-{confined}",
                    h.file_name().unwrap().to_str().unwrap()
                );
                let root = scratch.path().join(&tag);
                let (work, base) = (root.join("work"), root.join("outside"));
                for d in [&root, &work, &base] {
                    std::fs::create_dir(d).unwrap();
                    std::fs::set_permissions(d, PermissionsExt::from_mode(0o777)).unwrap();
                }
                let grants: Vec<String> = ["a/b/c", "q/r", "f/r"]
                    .iter()
                    .flat_map(|p| ["--rw".to_owned(), base.join(p).display().to_string()])
                    .collect();
                let mut argv: Vec<&str> = vec![];
                if confined {
                    argv.extend([arb.to_str().unwrap(), "run", "-q"]);
                    argv.extend(grants.iter().map(String::as_str));
                    argv.push("--");
                }
                argv.extend([h.to_str().unwrap(), base.to_str().unwrap()]);
                let out = command(who, &argv)
                    .current_dir(&work)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let want = if confined { CONFINED } else { NATIVE };
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    want,
                    "{tag}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
