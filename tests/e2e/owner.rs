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

    assert!(crate::stop(&mut owner, "atelier serve").success());
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
    // Every sync is its own transaction, so however the watch ends nothing is lost.
    let _ = crate::stop(&mut watch, "atelier watch");
    let tasks = cli.json(&["tasks", "ls"]);
    assert_eq!(tasks[0]["title"], "asked while watching", "{tasks}");
}

/// The relay cannot be made to speak for the owner (the hostile-host finding): while `atelier
/// serve` holds the vault, a host behind `atelier mcp` whose first line is an api call claiming
/// `owner` gets a JSON-RPC error on its stdout, the grant it asked for does not exist, and the
/// audit head is unchanged; the session itself still works (its `initialize` is answered).
/// Bad input corpus (TESTING.md recipe 4) on the socket's relay, with the real binaries.
#[test]
fn a_relayed_host_cannot_make_an_api_call_as_the_owner() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (mut owner, _socket) = start_owner(&cli);
    let head_before = cli.json(&["audit", "tail", "--limit", "1"]);

    let forged = serde_json::json!({
        "call": "grant_add",
        "as": "owner",
        "params": {"add": {"principal": "mcp:evil", "capability": "manage_keys"}},
    });
    let initialize = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "evil", "version": "1"},
        },
    });
    let mut host = Command::new(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .arg("mcp")
        .env_remove("ATELIER_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("atelier mcp");
    {
        use std::io::Write as _;
        let mut stdin = host.stdin.take().expect("stdin");
        writeln!(stdin, "{forged}").expect("write");
        writeln!(stdin, "{initialize}").expect("write");
    }
    let stdout = host.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while host.try_wait().expect("wait").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "atelier mcp did not end after its host closed stdin"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let lines = reader.join().expect("stdout reader");
    let messages: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        messages.iter().all(|m| m["jsonrpc"] == "2.0"),
        "stdout carries JSON-RPC only: {lines:?}"
    );
    assert_eq!(messages[0]["error"]["code"], -32600, "{lines:?}");
    assert!(messages[0]["id"].is_null(), "{lines:?}");
    assert!(
        messages
            .iter()
            .any(|m| m["id"] == 1 && m["result"].is_object()),
        "the session goes on: {lines:?}"
    );

    let grants = cli.json(&["grants", "ls"]);
    assert!(
        !grants.to_string().contains("mcp:evil"),
        "no grant was made: {grants}"
    );
    assert_eq!(cli.json(&["audit", "tail", "--limit", "1"]), head_before);
    assert!(crate::stop(&mut owner, "atelier serve").success());
}

/// Resource faults (TESTING.md recipe 3) on the vault's socket: `atelier serve` under a low
/// file-descriptor limit meets 300 idle connections (before, the first failed accept ended it
/// and removed the socket). It keeps serving: once they go, a command is answered; a peer that
/// sends no first line is closed after the wait; a first line that opens nothing gets an error
/// line; the owner then stops cleanly on SIGTERM.
#[test]
fn the_socket_server_survives_floods_and_idle_and_bad_peers() {
    use std::io::{Read as _, Write as _};
    use std::os::unix::net::UnixStream;
    let cli = Cli::new();
    cli.ok(&["init"]);
    let mut owner = Command::new("bash")
        .arg("-c")
        .arg("ulimit -n 60 && exec \"$0\" --vault \"$1\" serve")
        .arg(&cli.bin)
        .arg(&cli.vault)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("atelier serve");
    let socket = cli.wait_for_socket();
    let flood: Vec<UnixStream> = (0..300)
        .filter_map(|_| UnixStream::connect(&socket).ok())
        .collect();
    assert!(
        flood.len() > 60,
        "the flood reached the socket ({})",
        flood.len()
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        owner.try_wait().expect("wait").is_none(),
        "the owner died under the flood"
    );
    drop(flood);
    assert_eq!(cli.json(&["status"])["state"], "open");
    assert!(socket.exists());

    let mut idle = UnixStream::connect(&socket).expect("connect");
    idle.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).expect("closed by the owner");
    assert!(rest.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(25));

    let mut bad = UnixStream::connect(&socket).expect("connect");
    writeln!(
        bad,
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{}}}}"#
    )
    .expect("write");
    let mut answer = String::new();
    BufReader::new(&bad).read_line(&mut answer).expect("read");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(answer["error"]["code"], "INVALID_INPUT", "{answer}");

    assert!(crate::stop(&mut owner, "atelier serve").success());
    assert!(!socket.exists(), "the socket goes with its owner");
}
