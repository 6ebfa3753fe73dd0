//! The CLI while another process holds the vault: its commands go through the vault's socket
//! to the owner (`atelier serve`, or a long `atelier watch`), with the same answers, audit and
//! refusals as in process.

use crate::Cli;
use crate::mcp::start_owner;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// While `atelier serve` holds the vault, every kind of command works through it: status, a
/// write (audited as the owner, by the owner), a grant with an expiry, typed refusals that
/// change nothing, a project added by a path relative to the caller's directory. Once the
/// owner stops, the same commands open the vault here and see the same data.
#[test]
fn cli_commands_reach_the_vault_through_its_owner() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (mut owner, socket) = start_owner(&cli);

    let status = cli.json(&["status"]);
    assert_eq!(status["state"], "open", "{status}");
    let task = cli.json(&["tasks", "add", "Outline chapter 12"]);
    assert_eq!(task["title"], "Outline chapter 12");
    let grant = cli.json(&[
        "grants",
        "add",
        "mcp:claude-desktop",
        "tasks_write",
        "--for",
        "7d",
    ]);
    assert_eq!(grant["status"], "live", "{grant}");
    assert!(grant["expires_at"].is_i64(), "{grant}");

    let before = cli.json(&["audit", "tail", "--limit", "100"]);
    assert_eq!(
        cli.error_code(2, &["--as", "mcp:nobody", "tasks", "add", "sneaky"]),
        "DENIED"
    );
    assert_eq!(cli.error_code(2, &["tasks", "show", "99"]), "NOT_FOUND");
    assert_eq!(
        cli.error_code(2, &["tasks", "complete", &task["id"].to_string()]),
        "INVALID_TRANSITION"
    );
    // Reads are not audited for the owner, so an unchanged log means nothing was written.
    assert_eq!(cli.json(&["audit", "tail", "--limit", "100"]), before);

    let novel = cli.dir().join("novel");
    std::fs::create_dir_all(&novel).expect("project folder");
    std::fs::write(
        novel.join("ch1.md"),
        "# Chapter 1\n\nMara keeps the lighthouse.\n",
    )
    .expect("file");
    let added = Command::new(&cli.bin)
        .current_dir(cli.dir())
        .args(["--json", "--vault"])
        .arg(&cli.vault)
        .args(["projects", "add", "novel"])
        .output()
        .expect("projects add");
    assert!(added.status.success(), "{added:?}");
    let project: Value = serde_json::from_slice(&added.stdout).expect("JSON");
    let root = std::fs::canonicalize(&novel).expect("canonical");
    assert_eq!(
        project["root"],
        root.to_string_lossy().as_ref(),
        "the path is the caller's, not the owner's working directory"
    );

    let _ = Command::new("kill")
        .args(["-INT", &owner.id().to_string()])
        .status();
    assert!(owner.wait().expect("wait").success());
    assert!(!socket.exists());
    let tasks = cli.json(&["tasks", "ls"]);
    assert_eq!(tasks[0]["title"], "Outline chapter 12", "{tasks}");
    let audit = cli.json(&["audit", "tail", "--limit", "100"]);
    let created = audit
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "task.create")
        .expect("the create was audited");
    assert_eq!(created["principal"], "owner");
}

/// A long command that holds the vault (`atelier watch`) serves it meanwhile: another
/// terminal's commands are answered by it, and when it ends its socket goes with it.
#[test]
fn a_running_watch_serves_the_vault_to_other_commands() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let novel = cli.dir().join("novel");
    std::fs::create_dir_all(&novel).expect("project folder");
    cli.add_project(&novel, "novel");
    let mut watch = Command::new(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .args(["--json", "watch", "novel"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("atelier watch");
    let mut events = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let started: Value =
        serde_json::from_str(&events.next().expect("an event").expect("line")).expect("JSON");
    assert_eq!(started["event"], "started", "{started}");
    cli.wait_for_socket();

    let task = cli.json(&["tasks", "add", "asked while watching"]);
    assert_eq!(task["title"], "asked while watching");
    let _ = Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status();
    let _ = watch.wait();
    let tasks = cli.json(&["tasks", "ls"]);
    assert_eq!(tasks[0]["title"], "asked while watching", "{tasks}");
}
