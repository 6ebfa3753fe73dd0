//! The `atelier` binary end to end on temp vaults: the flows a person types, `--json` on every
//! read, exit codes, and a second process meeting a held vault.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) struct Cli {
    pub(crate) bin: PathBuf,
    _dir: tempfile::TempDir,
    pub(crate) vault: PathBuf,
}

impl Cli {
    pub(crate) fn new() -> Cli {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = dir.path().join("vault");
        Cli {
            bin: atelier_tests::atelier_bin(),
            _dir: dir,
            vault,
        }
    }

    /// The temp directory the vault lives in; tests put project folders beside it.
    pub(crate) fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--vault")
            .arg(&self.vault)
            .args(args)
            .env_remove("ATELIER_HOME")
            .output()
            .expect("run atelier")
    }

    /// Runs and expects `code`; returns stdout.
    pub(crate) fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "atelier {args:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
        stdout
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args)
    }

    /// Runs with --json, expects success, parses stdout.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("valid JSON on stdout")
    }

    /// Adds `folder` as project `name` (`atelier projects add FOLDER --name NAME`).
    pub(crate) fn add_project(&self, folder: &Path, name: &str) {
        self.ok(&[
            "projects",
            "add",
            &folder.display().to_string(),
            "--name",
            name,
        ]);
    }

    /// Waits (up to 10 s) for the vault's socket, which an owner makes once it serves.
    pub(crate) fn wait_for_socket(&self) -> PathBuf {
        let socket = self.vault.join("atelier.sock");
        for _ in 0..200 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(socket.exists(), "the owner made its socket");
        socket
    }

    /// Runs with --json, expects exit `code`, and returns the error code it printed.
    pub(crate) fn error_code(&self, code: i32, args: &[&str]) -> String {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.expect(code, &all);
        let value: Value = serde_json::from_str(&stdout).expect("JSON error");
        value["error"]["code"].as_str().expect("code").to_owned()
    }
}

/// Stops `child` as a service manager would: SIGTERM (SIGINT is ignored by every child of a
/// background shell, so a test that sent it would hang there), then [`ended`].
pub(crate) fn stop(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    ended(child, what)
}

/// Waits at most 30 s for `child` to end; one still running is killed and the test fails.
/// Answers how it ended.
pub(crate) fn ended(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn db_dump(vault: &Path) -> String {
    let conn = rusqlite::Connection::open(vault.join("atelier.db")).expect("db");
    let mut out = String::new();
    for table in ["tasks", "task_dependencies", "audit_head"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .expect("prepare");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                (0..n)
                    .map(|i| {
                        row.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("query");
        for row in rows {
            out.push_str(&row.expect("row").join("|"));
            out.push('\n');
        }
    }
    out
}

#[test]
fn a_task_flow_from_init_to_completion() {
    let cli = Cli::new();
    assert!(cli.ok(&["init"]).contains("Created a vault"));
    let episode = cli.json(&["tasks", "add", "Episode 12", "--role", "project_manager"]);
    let id = |v: &Value| v["id"].as_i64().expect("id").to_string();
    let episode = id(&episode);
    let research = id(&cli.json(&[
        "tasks",
        "add",
        "Research",
        "--parent",
        &episode,
        "--role",
        "researcher",
    ]));
    let outline = id(&cli.json(&["tasks", "add", "Outline", "--parent", &episode]));
    cli.ok(&["tasks", "dep", "add", &outline, &research]);

    let shown = cli.json(&["tasks", "show", &outline]);
    assert_eq!(
        shown["depends_on"],
        serde_json::json!([research.parse::<i64>().expect("id")])
    );
    assert_eq!(shown["blocked_by"], shown["transitive_dependencies"]);

    cli.ok(&["tasks", "activate", &outline]);
    assert_eq!(
        cli.error_code(2, &["tasks", "start", &outline]),
        "DEPENDENCIES_INCOMPLETE"
    );
    for verb in ["activate", "start", "complete"] {
        cli.ok(&["tasks", verb, &research]);
    }
    cli.ok(&["tasks", "start", &outline]);
    cli.ok(&[
        "tasks",
        "block",
        &outline,
        "--reason",
        "waiting on a recording",
    ]);
    cli.ok(&["tasks", "unblock", &outline]);
    cli.ok(&["tasks", "complete", &outline]);
    cli.ok(&["tasks", "activate", &episode]);
    cli.ok(&["tasks", "start", &episode]);
    cli.ok(&["tasks", "complete", &episode]);

    let all = cli.json(&["tasks", "ls"]);
    let states: Vec<&str> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states, vec!["completed"; 3]);
    let tree = cli.ok(&["tasks", "tree"]);
    assert!(tree.contains("Episode 12") && tree.contains("└─"), "{tree}");
    assert!(cli.ok(&["audit", "verify"]).contains("intact"));
    let tail = cli.json(&["audit", "tail", "-n", "3"]);
    assert_eq!(tail[0]["action"], "task.transition");
}

#[test]
fn every_read_answers_json() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    cli.ok(&["tasks", "add", "One"]);
    cli.ok(&["canon", "add", "Voice", "--body", "Warm.", "--tag", "style"]);
    cli.ok(&[
        "shapes",
        "add",
        "notes",
        "--kind",
        "markdown",
        "--body",
        "## Summary",
    ]);
    cli.ok(&["grants", "add", "mcp:cursor", "vault_read", "--for", "7d"]);
    for args in [
        &["status"][..],
        &["tasks", "ls"],
        &["tasks", "ls", "--state", "pending", "--roots"],
        &["tasks", "tree"],
        &["tasks", "show", "1"],
        &["tasks", "next"],
        &["roles", "ls"],
        &["roles", "show", "coder"],
        &["roles", "check"],
        &["canon", "ls"],
        &["canon", "show", "1"],
        &["shapes", "ls"],
        &["shapes", "show", "notes"],
        &["grants", "ls"],
        &["audit", "tail"],
        &["audit", "verify"],
    ] {
        let value = cli.json(args);
        assert!(!value.is_null(), "{args:?}");
    }
    let coder = cli.json(&["roles", "show", "coder"]);
    assert_eq!(coder["extends"], "implementer");
    assert!(
        coder["additional_capabilities"]
            .as_array()
            .expect("caps")
            .contains(&Value::from("code_execution"))
    );
}

#[test]
fn exit_codes_tell_refusals_from_unavailability_from_failed_checks() {
    let cli = Cli::new();
    assert_eq!(cli.error_code(3, &["tasks", "ls"]), "NOT_READY");
    let status = cli.expect(3, &["status"]);
    assert!(status.contains("atelier init"), "{status}");
    cli.ok(&["init"]);
    assert_eq!(cli.error_code(2, &["init"]), "ALREADY_INITIALIZED");
    assert_eq!(cli.error_code(2, &["tasks", "add", ""]), "INVALID_INPUT");
    assert_eq!(
        cli.error_code(2, &["tasks", "add", "x", "--priority", "-1"]),
        "INVALID_INPUT"
    );
    assert_eq!(cli.error_code(2, &["tasks", "show", "99"]), "NOT_FOUND");
    // A chat host reads by default (`mcp_default_capabilities`), and writes only once granted.
    cli.json(&["--as", "mcp:claude", "tasks", "ls"]);
    assert_eq!(
        cli.error_code(2, &["--as", "mcp:claude", "tasks", "add", "from chat"]),
        "DENIED"
    );
    assert_eq!(
        cli.error_code(2, &["--as", "root", "tasks", "ls"]),
        "INVALID_INPUT"
    );
    assert_eq!(
        cli.error_code(2, &["grants", "add", "mcp:x", "fly"]),
        "INVALID_INPUT"
    );
    assert_eq!(
        cli.error_code(
            2,
            &["grants", "add", "mcp:x", "vault_read", "--for", "forever"]
        ),
        "INVALID_INPUT"
    );
    cli.expect(2, &["tasks", "frobnicate"]);
    let text = cli.run(&["tasks", "add", ""]);
    assert!(String::from_utf8_lossy(&text.stderr).contains("error[INVALID_INPUT]: title"));

    cli.ok(&["tasks", "add", "audited"]);
    let conn = rusqlite::Connection::open(cli.vault.join("atelier.db")).expect("db");
    conn.execute_batch(
        "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET summary = 'edited' WHERE seq = 2;",
    )
    .expect("tamper");
    let out = cli.expect(4, &["audit", "verify"]);
    assert!(out.contains("broken at event 2"), "{out}");
}

/// Invariant 6: a second process meets a held vault with VAULT_BUSY naming the owner's pid,
/// and changes nothing.
#[test]
fn a_second_process_gets_vault_busy() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    cli.ok(&["tasks", "add", "before"]);
    let before = db_dump(&cli.vault);
    let owner = atelier_core::Atelier::open(atelier_core::OpenOptions::new(&cli.vault));
    assert_eq!(owner.status().state, "open");
    let out = cli.run(&["--json", "tasks", "add", "while held"]);
    assert_eq!(out.status.code(), Some(3));
    let value: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(value["error"]["code"], "VAULT_BUSY");
    assert_eq!(value["error"]["details"]["pid"], std::process::id());
    let human = cli.run(&["tasks", "ls"]);
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains(&format!("process {}", std::process::id())) && stderr.contains("--vault"),
        "{stderr}"
    );
    assert_eq!(db_dump(&cli.vault), before);
    drop(owner);
    cli.ok(&["tasks", "add", "after"]);
}

#[test]
fn roles_check_names_the_file_and_line() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("poet.yaml"),
        "name: poet\nextends: writer\ndisplay_name: Poet\n",
    )
    .expect("write");
    let ok = cli.ok(&["roles", "check", &dir.path().to_string_lossy()]);
    assert!(ok.contains("16 roles are valid"), "{ok}");
    std::fs::write(
        dir.path().join("poet.yaml"),
        "name: poet\nextends: writer\ndisplay_name: Poet\ncapabilities:\n  - vault_read\n  - code_execution\n",
    )
    .expect("write");
    let out = cli.run(&["roles", "check", &dir.path().to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("poet.yaml:6:") && stdout.contains("additional_capabilities"),
        "{stdout}"
    );
}

#[test]
fn reindex_and_demo_work_on_a_fresh_vault() {
    let cli = Cli::new();
    let demo = cli.ok(&["demo"]);
    assert!(
        demo.contains("Episode 12") && demo.contains("Ready to start next"),
        "{demo}"
    );
    let again = cli.json(&["demo"]);
    assert_eq!(
        again["status"]["counts"]["tasks"], 6,
        "demo seeds only an empty vault"
    );
    std::fs::remove_dir_all(cli.vault.join("graph")).expect("delete graph");
    let report = cli.json(&["reindex"]);
    assert_eq!(report["tasks"], 6);
    assert_eq!(report["dependencies"], 4);
    let shown = cli.json(&["tasks", "show", "5"]);
    assert_eq!(
        shown["transitive_dependencies"],
        serde_json::json!([2, 3, 4])
    );
}

mod documents;
mod mcp;
mod orchestrate;
mod owner;
mod runs;
