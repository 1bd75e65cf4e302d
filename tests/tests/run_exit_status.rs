//! `arbiter run` mirrors the command's exit status and uses 125/126/127 for its own failures.

use arbiter_tests::{assert_code, stderr, Sandbox};

#[test]
fn exit_status_of_the_command_is_mirrored() {
    let sb = Sandbox::new();
    assert_code(&sb.run(&[], &["sh", "-c", "exit 7"]), 7);
    assert_code(&sb.run(&[], &["true"]), 0);
}

#[test]
fn death_by_signal_exits_128_plus_the_signal() {
    let sb = Sandbox::new();
    assert_code(&sb.run(&[], &["sh", "-c", "kill -TERM $$"]), 128 + 15);
}

#[test]
fn missing_command_exits_127_with_a_one_line_error() {
    let sb = Sandbox::new();
    let o = sb.run(&[], &["no-such-command-arbiter-test"]);
    assert_code(&o, 127);
    assert!(
        stderr(&o).contains("no-such-command-arbiter-test: command not found"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stderr(&o).lines().count(), 1);
}

#[test]
fn non_executable_command_exits_126() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("plain.txt"), "not a program").unwrap();
    assert_code(&sb.run(&[], &["./plain.txt"]), 126);
}

#[test]
fn bad_policy_exits_125() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("bad.toml"), "this is = = not toml").unwrap();
    let o = sb.run(&["--policy", "./bad.toml"], &["true"]);
    assert_code(&o, 125);
    assert!(stderr(&o).starts_with("arbiter:"), "{}", stderr(&o));
}
