//! The `atelier` binary's own surface: help that teaches and usage errors that exit 2.

use std::process::Command;

fn atelier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let out = atelier(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "init",
        "status",
        "tasks",
        "roles",
        "canon",
        "shapes",
        "grants",
        "audit",
        "reindex",
        "Exit codes",
        "--vault",
        "--json",
    ] {
        assert!(help.contains(word), "help lacks {word}");
    }
    let tasks = String::from_utf8_lossy(&atelier(&["tasks", "--help"]).stdout).into_owned();
    for verb in [
        "add", "ls", "tree", "show", "edit", "move", "dep", "start", "complete", "fail", "block",
        "unblock", "reset", "cancel", "next",
    ] {
        assert!(tasks.contains(verb), "tasks help lacks {verb}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["tasks"][..],
        &["tasks", "show", "abc"],
        &["tasks", "move", "1"],
        &["--frob"],
    ] {
        assert_eq!(atelier(args).status.code(), Some(2), "{args:?}");
    }
}
