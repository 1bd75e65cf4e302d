//! Paths are made canonical the way the kernel resolves them before they become rules
//! (issue 18): `--rw ../x`, `--ro ./a/../b`, `--deny ./d/../secret`, `--ro` through a
//! symlinked directory, `--bind unix:../s.sock` each made `arbiter run` fail with an
//! "invalid policy" error (`..` in a rule path) or named a path no rule can match (a
//! symlink); now each is the real path it names, and a path the kernel could not resolve
//! either is an error naming the option. Commands reached through `..` or a symlinked
//! prefix run. As the invoking user and as uid 65534, from `work/sub`.

mod floor_common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};

use floor_common::{arbiter, command, users, Floor, Who};

/// `arbiter run -q ARGS -- sh -c SCRIPT` as `who` in `work/sub` (natively: `sh -c`).
fn sh(f: &Floor, who: Who, args: &[&str], script: &str, confined: bool) -> Output {
    let bin = arbiter();
    let mut argv = Vec::new();
    if confined {
        argv.extend([bin.to_str().unwrap(), "run", "--strict", "-q"]);
        argv.extend_from_slice(args);
        argv.push("--");
    }
    argv.extend(["sh", "-c", script]);
    command(who, &argv)
        .current_dir(f.path("work/sub"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> (Option<i32>, String, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A scratch tree for `who`: `work/sub` (the cwd), `out/` (outside `work`) with a file and
/// a symlink `work/sub/ln -> out`, all owned by `who`.
fn tree(f: &Floor, who: Who) {
    for d in ["work/sub", "work/sub/d", "out"] {
        let p = f.path(d);
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, PermissionsExt::from_mode(0o777)).unwrap();
    }
    for (file, body) in [
        ("work/b", "b\n"),
        ("work/secret", "key\n"),
        ("out/o", "o\n"),
    ] {
        std::fs::write(f.path(file), body).unwrap();
        if who == Who::Nobody {
            std::os::unix::fs::chown(f.path(file), Some(65534), Some(65534)).unwrap();
        }
    }
    let _ = std::fs::remove_file(f.path("work/x"));
    std::os::unix::fs::symlink(f.path("out"), f.path("work/sub/ln")).unwrap();
}

#[test]
fn relative_and_dotted_rule_paths_are_the_paths_they_name() {
    let f = Floor::new();
    for who in users() {
        tree(&f, who);
        // `..` out of the working directory: read-write on ../x, which the program creates.
        let o = sh(
            &f,
            who,
            &["--rw", "../x"],
            "echo x > ../x && cat ../x",
            true,
        );
        assert_eq!(
            text(&o),
            (Some(0), "x\n".into(), String::new()),
            "as {who:?}"
        );
        // `.` and `..` inside the path.
        let o = sh(&f, who, &["--ro", "./d/../../b"], "cat ../b", true);
        assert_eq!(text(&o).1, "b\n", "as {who:?}: {o:?}");
        // Through a symlinked directory: the rule is on the link's target.
        let o = sh(&f, who, &["--ro", "ln/o"], "cat ln/o", true);
        assert_eq!(text(&o).1, "o\n", "as {who:?}: {o:?}");
        let o = sh(&f, who, &["--ro", "ln/../work/b"], "cat ../b", true);
        assert_eq!(text(&o).1, "b\n", "as {who:?}: {o:?}");
        // A unix socket path with `..`.
        if std::path::Path::new("/usr/bin/python3").exists() {
            let py = "/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); \
                      s.bind(\"../s.sock\"); print(\"bound\")'";
            let o = sh(
                &f,
                who,
                &["--rw", "..", "--bind", "unix:../s.sock"],
                py,
                true,
            );
            assert_eq!(text(&o).1, "bound\n", "as {who:?}: {o:?}");
            let _ = std::fs::remove_file(f.path("work/s.sock"));
        }
    }
}

#[test]
fn a_deny_spelled_with_dots_still_denies() {
    let f = Floor::new();
    for who in users() {
        tree(&f, who);
        // Native control: the file is readable.
        let o = sh(&f, who, &[], "cat ../secret", false);
        assert_eq!(text(&o).1, "key\n", "control as {who:?}");
        // Granted through `..` and denied through `./d/../..`: the deny holds.
        let o = sh(
            &f,
            who,
            &["--ro", "..", "--deny", "./d/../../secret"],
            "cat ../secret",
            true,
        );
        let (code, out, err) = text(&o);
        assert_eq!((code, out.as_str()), (Some(1), ""), "as {who:?}: {err}");
        assert!(err.contains("Permission denied"), "as {who:?}: {err}");
        // And the rest of what `--ro ..` grants is readable.
        let o = sh(
            &f,
            who,
            &["--ro", "..", "--deny", "./d/../../secret"],
            "cat ../b",
            true,
        );
        assert_eq!(text(&o).1, "b\n", "as {who:?}: {o:?}");
    }
}

#[test]
fn a_path_the_kernel_cannot_resolve_is_an_error_naming_the_option() {
    let f = Floor::new();
    for who in users() {
        tree(&f, who);
        for (args, named) in [
            (["--ro", "./missing/../b"], "--ro ./missing/../b"),
            (["--rw", "../b/x"], "--rw ../b/x"),
            (["--deny", "missing/.."], "--deny missing/.."),
        ] {
            let o = sh(&f, who, &args, "true", true);
            let (code, _, err) = text(&o);
            assert_eq!(code, Some(125), "{args:?} as {who:?}: {err}");
            assert!(err.contains(named), "{args:?} as {who:?}: {err}");
            assert!(
                !err.contains("invalid policy"),
                "{args:?} as {who:?}: {err}"
            );
        }
    }
}

#[test]
fn commands_reached_through_dots_and_symlinked_prefixes_run() {
    let f = Floor::new();
    for who in users() {
        tree(&f, who);
        // A tool installed as prefix/bin/tool -> ../lib/tool, reached through a symlink to
        // its prefix (npm, go and JDKs are laid out so).
        let prefix = f.path("out/prefix");
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        std::fs::create_dir_all(prefix.join("lib")).unwrap();
        std::fs::write(prefix.join("lib/tool"), "#!/bin/sh\necho tool\n").unwrap();
        std::fs::set_permissions(prefix.join("lib/tool"), PermissionsExt::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink("../lib/tool", prefix.join("bin/tool")).unwrap();
        let link = f.path("work/sub/ln/prefix");
        let link = link.to_str().unwrap();
        let build = f.path("work/sub/d/prog");
        std::fs::write(&build, "#!/bin/sh\necho prog\n").unwrap();
        std::fs::set_permissions(&build, PermissionsExt::from_mode(0o755)).unwrap();
        let bin = arbiter();
        let forms: Vec<(Vec<String>, &str)> = vec![
            (vec![format!("{link}/bin/tool")], "tool\n"),
            (vec![format!("{link}/bin/../lib/tool")], "tool\n"),
            (vec!["../sub/d/prog".into()], "prog\n"),
            (vec!["/usr/bin/../bin/echo".into(), "echo".into()], "echo\n"),
        ];
        for (cmd, expected) in forms {
            let mut argv = vec![bin.to_str().unwrap(), "run", "--strict", "-q", "--"];
            argv.extend(cmd.iter().map(String::as_str));
            let o = command(who, &argv)
                .current_dir(f.path("work/sub"))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(text(&o).1, expected, "{cmd:?} as {who:?}: {o:?}");
        }
    }
}
