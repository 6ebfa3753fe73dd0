//! `atelier mcp` as a chat host starts it: the real binary over stdio, driven by raw JSON-RPC
//! lines (recipe 11, "stdout purity") and by the official Python MCP SDK (`tests/mcp/host.py`).

use crate::Cli;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Recipe 11, "stdout purity": a whole session (initialize, tool, resource and prompt lists,
/// reads, good, refused, malformed and unknown calls, a closed stdin) leaves nothing on stdout but JSON-RPC 2.0 messages, one
/// per line; the words for people went to stderr.
#[test]
fn the_sidecar_writes_only_json_rpc_to_stdout() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let mut child = Command::new(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn atelier mcp");
    let session = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "purity", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "tasks_list", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "tasks_create", "arguments": {"title": "x"}}}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "tasks_list", "arguments": {"states": 3}}}),
        json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}),
        json!({"jsonrpc": "2.0", "id": 8, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 9, "method": "resources/templates/list"}),
        json!({"jsonrpc": "2.0", "id": 10, "method": "resources/list"}),
        json!({"jsonrpc": "2.0", "id": 11, "method": "resources/read", "params": {"uri": "atelier://roles/writer"}}),
        json!({"jsonrpc": "2.0", "id": 12, "method": "resources/read", "params": {"uri": "file:///etc/passwd"}}),
        json!({"jsonrpc": "2.0", "id": 13, "method": "prompts/list"}),
    ];
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for message in &session {
            writeln!(stdin, "{message}").expect("write");
        }
        // Not JSON at all: the server may answer with a parse error, but only in JSON-RPC.
        writeln!(stdin, "this is not json").expect("write");
        // Give the answers time to come before the host hangs up.
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut answered = Vec::new();
    for line in stdout.lines() {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line:?}\nstderr: {stderr}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        assert!(
            message.get("result").is_some()
                || message.get("error").is_some()
                || message.get("method").is_some(),
            "not a JSON-RPC message: {line}"
        );
        if let Some(id) = message["id"].as_i64() {
            answered.push(id);
        }
    }
    for id in 1..=13 {
        assert!(
            answered.contains(&id),
            "no answer to {id}:\n{stdout}\nstderr: {stderr}"
        );
    }
}

/// A sealed vault (here: none there) is said on stderr, with nothing on stdout, and exit 3.
#[test]
fn the_sidecar_says_why_it_cannot_serve_on_stderr_only() {
    let cli = Cli::new();
    let out = cli.run(&["--json", "mcp"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot serve"));
}

/// A vault with a small ingested project `novel` and the provider stub added as `stub`
/// (answering the `scene` model); the stub runs while the answer lives.
fn host_vault(cli: &Cli) -> crate::runs::Stub {
    cli.ok(&["init"]);
    let project = cli.dir().join("novel");
    crate::documents::write_project(&project, 5);
    cli.add_project(&project, "novel");
    cli.ok(&["ingest", "novel"]);
    let (stub, _) = crate::runs::outline_stub(cli, None);
    crate::runs::add_stub_provider(cli, &stub);
    stub
}

/// Grants the SDK host everything its `granted` phase calls.
fn grant_host(cli: &Cli) {
    for capability in ["tasks_write", "run_plays", "bank_assets"] {
        cli.ok(&["grants", "add", "mcp:atelier-test-host", capability]);
    }
}

/// Starts `atelier serve` on the vault and waits for its socket.
pub(crate) fn start_owner(cli: &Cli) -> (std::process::Child, PathBuf) {
    let owner = Command::new(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("atelier serve");
    (owner, cli.wait_for_socket())
}

/// Runs `tests/mcp/host.py` in `phase` (with `extra` arguments) and answers its report.
fn run_host(cli: &Cli, phase: &str) -> Value {
    run_host_with(cli, phase, &[])
}

fn run_host_with(cli: &Cli, phase: &str, extra: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp/host.py");
    let out = Command::new(sdk_python())
        .arg(&script)
        .arg(&cli.bin)
        .arg(&cli.vault)
        .arg(phase)
        .args(extra)
        .env_remove("ATELIER_HOME")
        .output()
        .expect("run the SDK host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "host.py {phase} failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no report ({e}): {stdout}"))
}

/// The Python interpreter with the official MCP SDK: `$ATELIER_MCP_PYTHON`, else the venv
/// `scripts/install-deps.sh --test` makes.
/// The strings of the list `key` of a host's report.
fn strings<'a>(report: &'a Value, key: &str) -> Vec<&'a str> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {report}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

fn sdk_python() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    let python = std::env::var_os("ATELIER_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("atelier/mcp-venv/bin/python"));
    assert!(
        python.is_file(),
        "the MCP SDK's venv is missing at {}; run scripts/install-deps.sh --test",
        python.display()
    );
    python
}

/// The official Python MCP SDK (PyPI `mcp`) as the host, against the real binary over stdio:
/// initialize, list and call every tool, with the refusals the host sees before its grants;
/// read resources and hear of a change to a subscribed one; get a play as a prompt.
/// (The owner grants between two sessions: until the vault's owner serves other processes on
/// its socket, the CLI cannot write while the sidecar holds the vault.)
#[test]
fn the_official_python_sdk_drives_every_tool() {
    let cli = Cli::new();
    let _stub = host_vault(&cli);
    let before = run_host(&cli, "before");
    assert_eq!(before["protocol"], "2025-11-25");
    assert_eq!(before["server"], "atelier-mcp");
    assert_eq!(before["denied_code"], -32001, "{before}");
    grant_host(&cli);
    let report = run_host(&cli, "granted");
    let called = strings(&report, "called");
    for tool in [
        "search",
        "read",
        "tasks_list",
        "tasks_create",
        "tasks_update",
        "plays_list",
        "play_run",
        "asset_bank",
        "assets_list",
    ] {
        assert!(called.contains(&tool), "{tool} not called: {report}");
    }
    assert!(report["progress"].as_u64().unwrap_or(0) > 0, "{report}");
    assert_eq!(
        report["templates"].as_array().map(Vec::len),
        Some(6),
        "{report}"
    );
    assert_eq!(report["updated"], "atelier://tasks/1", "{report}");
    assert!(
        report["prompt_chars"].as_u64().unwrap_or(0) > 200,
        "{report}"
    );
    // The host's calls are audited under its own principal.
    let audit = cli.json(&["audit", "tail", "--limit", "20"]);
    let principals: Vec<&str> = audit
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["principal"].as_str())
        .collect();
    assert!(
        principals.contains(&"mcp:atelier-test-host"),
        "{principals:?}"
    );
}

/// `atelier mcp install` as a person runs it, with `HOME` in a temp dir: a dry run writes
/// nothing; the first run creates Cursor's file; a second changes nothing; a Claude Desktop
/// file with other servers and 4-space indentation keeps them (order and indentation) and gets
/// a backup; a file that is not JSON is refused (exit 2) and left byte for byte.
#[test]
fn mcp_install_sets_a_host_up_once_and_keeps_what_was_there() {
    let cli = Cli::new();
    let home = cli.dir().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let install = |args: &[&str]| {
        Command::new(&cli.bin)
            .arg("--json")
            .args(["mcp", "install"])
            .args(args)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("ATELIER_HOME")
            .output()
            .expect("run")
    };
    let json = |out: &std::process::Output| -> Value {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };

    let cursor = home.join(".cursor/mcp.json");
    let dry = json(&install(&["--host", "cursor", "--dry-run"]));
    assert_eq!(
        (dry["changed"].clone(), dry["written"].clone()),
        (json!(true), json!(false))
    );
    assert!(!cursor.exists(), "a dry run writes nothing");
    let first = json(&install(&["--host", "cursor"]));
    assert_eq!(first["written"], true);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).expect("file")).expect("json");
    let ours = &written["mcpServers"]["atelier"];
    assert_eq!(ours["args"], json!(["mcp"]));
    let command = PathBuf::from(ours["command"].as_str().expect("command"));
    assert!(command.is_absolute() && command.is_file(), "{command:?}");
    let again = json(&install(&["--host", "cursor"]));
    assert_eq!(
        (again["changed"].clone(), again["written"].clone()),
        (json!(false), json!(false))
    );

    let desktop_dir = home.join(".config/Claude");
    std::fs::create_dir_all(&desktop_dir).expect("dir");
    let desktop = desktop_dir.join("claude_desktop_config.json");
    let before = "{\n    \"mcpServers\": {\n        \"zeta\": {\n            \"command\": \"z\"\n        },\n        \"alpha\": {\n            \"command\": \"a\"\n        }\n    },\n    \"theme\": \"dark\"\n}\n";
    std::fs::write(&desktop, before).expect("write");
    let done = json(&install(&["--host", "claude-desktop"]));
    let after = std::fs::read_to_string(&desktop).expect("read");
    assert!(
        after.starts_with("{\n    \"mcpServers\": {\n        \"zeta\""),
        "{after}"
    );
    let (zeta, alpha, ours) = (
        after.find("\"zeta\"").expect("zeta"),
        after.find("\"alpha\"").expect("alpha"),
        after.find("\"atelier\"").expect("atelier"),
    );
    assert!(
        zeta < alpha && alpha < ours && after.contains("\"theme\": \"dark\""),
        "{after}"
    );
    let backup = PathBuf::from(done["backup"].as_str().expect("backup"));
    assert_eq!(std::fs::read_to_string(backup).expect("backup"), before);

    let code = home.join(".claude.json");
    std::fs::write(&code, "{ \"projects\": oops").expect("write");
    let refused = install(&["--host", "claude-code"]);
    assert_eq!(refused.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&refused.stdout).expect("json error");
    assert_eq!(error["error"]["code"], "INVALID_INPUT");
    assert_eq!(
        std::fs::read_to_string(&code).expect("read"),
        "{ \"projects\": oops",
        "a file that is not JSON is left as it was"
    );
    let named = Command::new(&cli.bin)
        .args(["--json", "--vault"])
        .arg(&cli.vault)
        .args(["mcp", "install", "--host", "claude-code", "--dry-run"])
        .env("HOME", cli.dir().join("elsewhere"))
        .output()
        .expect("run");
    let named = json(&named);
    assert!(
        named["text"]
            .as_str()
            .is_some_and(|t| t.contains("--vault") && t.contains("\"type\": \"stdio\"")),
        "{named}"
    );
}

/// With `atelier serve` owning the vault, `atelier mcp` relays the host to the owner over the
/// vault's socket (0600): the SDK host's whole session works, its calls are audited by the
/// owner, and when the owner stops (Ctrl-C) its socket is gone and the vault is free again.
#[test]
fn the_sidecar_reaches_the_vault_through_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let _stub = host_vault(&cli);
    grant_host(&cli);
    let (mut owner, socket) = start_owner(&cli);
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is this user's only");

    let report = run_host(&cli, "granted");
    assert_eq!(report["updated"], "atelier://tasks/1", "{report}");

    let stopped = crate::stop(&mut owner, "atelier serve");
    assert!(
        stopped.success(),
        "serve stops cleanly on SIGTERM: {stopped:?}"
    );
    assert!(!socket.exists(), "the owner removes its socket");
    let audit = cli.json(&["audit", "tail", "--limit", "50"]);
    assert!(
        audit
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["principal"] == "mcp:atelier-test-host" && e["action"] == "vault.read"),
        "the owner audited the host's reads"
    );
}

/// Takeover: a host connected through `atelier serve` keeps its session when the owner exits
/// (SIGTERM): `atelier mcp` opens the vault itself, replays the host's `initialize` to its own
/// server, and the next calls are answered there, the earlier task included; once the host is
/// gone the vault is free for the CLI again.
#[test]
fn a_waiting_sidecar_takes_over_when_the_owner_exits() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    cli.ok(&["grants", "add", "mcp:atelier-test-host", "tasks_write"]);
    let (mut owner, socket) = start_owner(&cli);
    let pid = owner.id().to_string();
    let report = run_host_with(&cli, "takeover", &[&pid]);
    assert_eq!(report["after_takeover"], 2, "{report}");
    assert!(crate::ended(&mut owner, "atelier serve after SIGTERM").success());
    let tasks = cli.json(&["tasks", "ls"]);
    let titles: Vec<&str> = tasks
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["asked while the owner ran", "asked after the takeover"],
        "both sides of the takeover wrote to the one vault"
    );
    assert!(
        !socket.exists(),
        "the sidecar that took over removed its socket on leaving"
    );
}

/// Agent threads across two real hosts: two official-SDK sessions on two `atelier mcp`
/// processes (the second reaches the vault through the first's socket) post to one thread at
/// the same time. Seqs fill 1..N with no gap and keep each host's order; a retried post with
/// its key answers the first message; the subscribed host hears of new messages; each host's
/// cursor is its own and only moves forward.
#[test]
fn two_hosts_coordinate_through_one_thread() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    for host in ["mcp:thread-host-a", "mcp:thread-host-b"] {
        cli.ok(&["grants", "add", host, "vault_write"]);
    }
    let report = run_host(&cli, "threads");
    assert_eq!(report["update"], "atelier://threads/1", "{report}");
    assert_eq!(
        report["authors"],
        serde_json::json!(["mcp:thread-host-a", "mcp:thread-host-b"]),
        "{report}"
    );
    let listed = cli.json(&["threads", "ls"]);
    assert_eq!(listed[0]["last_seq"], 22, "{listed}");
    let read = cli.json(&["threads", "read", "1", "--after", "20"]);
    assert_eq!(read["messages"].as_array().map(Vec::len), Some(2), "{read}");
}

/// Recipe 12, "read audit under crash": a host searches in a loop, each query carrying a nonce,
/// and notes every answer it received; the process that owns the vault is SIGKILLed after a
/// random delay (a failure names the seed; `ATELIER_TEST_SEED` replays it), in turn the sidecar
/// owning the vault itself and `atelier serve` behind the sidecar's relay. After the last
/// round the audit chain verifies and every answered nonce has its `vault.read` event: reads
/// commit without a sync (ARCHITECTURE.md, "Audit"), which a process's death does not undo.
#[test]
fn every_read_a_host_saw_is_in_the_audit_log_after_a_kill() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let cli = Cli::new();
    cli.ok(&["init"]);
    cli.ok(&["grants", "add", "mcp:crash", "file_read"]);
    let seed: u64 = std::env::var("ATELIER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let mut state = seed;
    let mut next_random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut answered: Vec<String> = Vec::new();
    for round in 0..6 {
        let relayed = round % 2 == 1;
        // A killed `atelier serve` leaves its socket file; the next one replaces it, but
        // `start_owner` would take the stale file for the new owner's.
        let _ = std::fs::remove_file(cli.vault.join("atelier.sock"));
        let mut owner = relayed.then(|| start_owner(&cli).0);
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
        let mut stdin = host.stdin.take().expect("stdin");
        let stdout = host.stdout.take().expect("stdout");
        let (lines, received) = mpsc::channel::<Value>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if lines.send(message).is_err() {
                    return;
                }
            }
        });
        let send = |stdin: &mut std::process::ChildStdin, message: Value| {
            writeln!(stdin, "{message}").is_ok() && stdin.flush().is_ok()
        };
        assert!(send(
            &mut stdin,
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "crash", "version": "1"}}})
        ));
        let initialized = received.recv_timeout(Duration::from_secs(30));
        assert!(
            initialized.is_ok_and(|m| m["id"] == 0 && m["result"].is_object()),
            "round {round} (seed {seed}): no answer to initialize"
        );
        send(
            &mut stdin,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        );
        let kill_at = Instant::now() + Duration::from_millis(150 + next_random() % 600);
        let victim = match owner.as_ref() {
            Some(owner) => owner.id(),
            None => host.id(),
        };
        let mut id = 1u64;
        while Instant::now() < kill_at {
            let nonce = format!("nonce{round}x{id}");
            let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": "search", "arguments": {"query": nonce, "mode": "text"}}});
            if !send(&mut stdin, call) {
                break;
            }
            match received.recv_timeout(Duration::from_secs(30)) {
                Ok(m) if m["id"] == id && m["result"].is_object() => answered.push(nonce),
                Ok(m) => panic!("round {round} (seed {seed}): unexpected answer {m}"),
                Err(_) => break,
            }
            id += 1;
        }
        // The kill lands between requests or in the middle of one: the next request is sent
        // first and its answer, if any came, is counted.
        let nonce = format!("nonce{round}x{id}");
        send(
            &mut stdin,
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": "search", "arguments": {"query": nonce, "mode": "text"}}}),
        );
        let _ = Command::new("kill")
            .args(["-KILL", &victim.to_string()])
            .status();
        if let Ok(m) = received.recv_timeout(Duration::from_secs(2))
            && m["id"] == id
            && m["result"].is_object()
        {
            answered.push(nonce);
        }
        drop(stdin);
        if let Some(owner) = owner.as_mut() {
            crate::ended(owner, "atelier serve");
        }
        // Behind a relay whose owner died, the sidecar takes the vault over; stdin is closed,
        // so it ends.
        crate::ended(&mut host, "atelier mcp");
        let _ = reader.join();
    }
    assert!(
        answered.len() > 6,
        "the host got answers (seed {seed}): {}",
        answered.len()
    );
    cli.ok(&["audit", "verify"]);
    // The log holds thousands of reads, more than `audit tail` pages: read them in SQLite
    // (read-only), once `audit verify` has vouched for the chain.
    let db = rusqlite::Connection::open_with_flags(
        cli.vault.join("atelier.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("db");
    let mut stmt = db
        .prepare(
            "SELECT summary FROM audit_events
              WHERE action = 'vault.read' AND principal = 'mcp:crash'",
        )
        .expect("query");
    let summaries: std::collections::HashSet<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .map_while(Result::ok)
        .filter_map(|summary| {
            let summary: Value = serde_json::from_str(&summary).ok()?;
            Some(summary["query"].as_str()?.to_owned())
        })
        .collect();
    let missing: Vec<&String> = answered
        .iter()
        .filter(|n| !summaries.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "answers without their audit event (seed {seed}): {missing:?} of {}",
        answered.len()
    );
}

/// The official Python SDK (TESTING.md, real parts: the MCP client) on both protocol revisions:
/// 2025-11-25 (`initialize`, one session) and 2026-07-28 (`server/discover`, every request
/// self-contained). Each host reads with only the default grant, has `tasks_write` granted by
/// the CLI (through the sidecar, which owns the vault) while connected, hears of it on its
/// session or its `subscriptions/listen` stream, and then creates a task as itself; the
/// 2026-07-28 host also through `atelier serve` as the owner.
#[test]
fn both_protocol_revisions_hear_of_a_grant_made_while_connected() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    for version in ["2025-11-25", "2026-07-28"] {
        let report = run_host_with(&cli, "revision", &[version]);
        assert_eq!(report["protocol"], version, "{report}");
        let before = strings(&report, "before");
        assert!(!before.contains(&"tasks_create"), "{report}");
        let after = report["after"].as_array().expect("after");
        assert!(after.contains(&Value::from("tasks_create")), "{report}");
        let heard = if version == "2025-11-25" {
            "session"
        } else {
            "listen"
        };
        assert_eq!(report["heard"], heard, "{report}");
        assert_eq!(report["created"], format!("From {version}"), "{report}");
    }
    let audit = cli.json(&["audit", "tail", "--limit", "40"]);
    for version in ["2025-11-25", "2026-07-28"] {
        let principal = format!("mcp:revision-host-{version}");
        assert!(
            audit
                .as_array()
                .expect("events")
                .iter()
                .any(|e| { e["principal"] == principal.as_str() && e["action"] == "task.create" }),
            "no task.create by {principal}: {audit}"
        );
    }
    // Through an owner too: the sidecar relays the self-contained requests and the listen
    // stream to `atelier serve`, which the CLI's grant reaches.
    let relayed = Cli::new();
    relayed.ok(&["init"]);
    let (mut owner, _) = start_owner(&relayed);
    let report = run_host_with(&relayed, "revision", &["2026-07-28"]);
    crate::stop(&mut owner, "atelier serve");
    assert_eq!(report["heard"], "listen", "{report}");
    assert_eq!(report["created"], "From 2026-07-28", "{report}");
}

/// Runs the MCP Inspector's CLI (npm `@modelcontextprotocol/inspector`, installed by
/// `npm ci`) against `atelier mcp` on the vault, and answers what it printed.
fn inspector(cli: &Cli, args: &[&str]) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // A file, not a pipe: the tool list is larger than a pipe holds while the test waits.
    let printed = cli.dir().join("inspector.out");
    let mut child = Command::new("npx")
        .current_dir(&root)
        .args(["--no-install", "@modelcontextprotocol/inspector", "--cli"])
        .arg(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .arg("mcp")
        .args(args)
        .env_remove("ATELIER_HOME")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&printed).expect("output file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("npx runs the inspector (npm ci installs it)");
    let status = crate::ended(&mut child, "the MCP inspector");
    let text = std::fs::read_to_string(&printed).unwrap_or_default();
    assert!(status.success(), "inspector {args:?}: {status}\n{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("inspector {args:?} ({e}): {text}"))
}

/// The MCP Inspector's CLI, a client nobody here wrote (from npm, like the SDK from PyPI), against
/// the real binary: it lists the tools (each with its annotations, icon and output
/// schema) and calls `search` and `read`, whose answers are structured as their schema says
/// and the same as their text.
#[test]
fn the_mcp_inspector_lists_and_calls_the_tools() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let project = cli.dir().join("novel");
    crate::documents::write_project(&project, 3);
    cli.add_project(&project, "novel");
    cli.ok(&["ingest", "novel"]);

    let listed = inspector(&cli, &["--method", "tools/list"]);
    let tools = listed["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "assets_list",
            "plays_list",
            "read",
            "search",
            "tasks_list",
            "thread_read"
        ]
    );
    for tool in tools {
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        assert!(tool["icons"][0]["src"].is_string(), "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
    }

    let found = inspector(
        &cli,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "search",
            "--tool-arg",
            "query=lighthouse keeper",
        ],
    );
    let answer = &found["structuredContent"];
    assert_eq!(answer["vault_data"], true, "{found}");
    let first = &answer["items"][0];
    let source = first["source"].as_str().expect("a hit with its source");
    assert!(source.starts_with("atelier://docs/novel/"), "{found}");
    let text: Value = serde_json::from_str(found["content"][0]["text"].as_str().expect("text"))
        .expect("the text is JSON");
    assert_eq!(&text, answer);

    let path = first["data"]["path"].as_str().expect("path");
    let read = inspector(
        &cli,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "read",
            "--tool-arg",
            &format!("reference=document:novel:{path}"),
        ],
    );
    assert_eq!(read["isError"], false, "{read}");
    assert!(
        read["structuredContent"]["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty()),
        "{read}"
    );
}
