//! Keys, providers and runs from the command line: no keychain means no provider use, with the
//! reason; a run streams the stub's answer and `runs show` reports it.

use crate::Cli;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The provider stub (`tests/providers/stub.py`), killed when dropped.
struct Stub {
    child: Child,
    port: u16,
}

impl Stub {
    fn start(replies: &Path) -> Stub {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("providers/stub.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--replies")
            .arg(replies)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the stub");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line
            .trim()
            .trim_start_matches("port ")
            .parse()
            .expect("port");
        Stub { child, port }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Without a reachable keychain (no session bus) the key commands say why and store nothing,
/// and `status` reports it: there is no plaintext fallback.
#[test]
fn without_a_keychain_keys_are_refused_with_the_reason_and_nothing_is_stored() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let out = Command::new(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .args([
            "--json",
            "keys",
            "set",
            "openai",
            "--from-env",
            "ATELIER_TEST_KEY",
        ])
        .env("ATELIER_TEST_KEY", "sk-never-stored-0123456789")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(body["error"]["code"], "KEYCHAIN_UNAVAILABLE");
    let conn = rusqlite::Connection::open(cli.vault.join("atelier.db")).expect("db");
    let refs: i64 = conn
        .query_row("SELECT COUNT(*) FROM key_refs", [], |r| r.get(0))
        .expect("count");
    assert_eq!(refs, 0);
    let db = std::fs::read(cli.vault.join("atelier.db")).expect("db bytes");
    assert!(!db.windows(10).any(|w| w == b"sk-never-s"));
}

#[test]
fn a_run_streams_from_the_provider_and_runs_show_reports_it() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let replies = cli.dir().join("replies.json");
    let outline = "## Goal\nReach the lamp.\n\n## Conflict\nThe storm.\n\n## Beats\n1. Climb.\n2. Light.\n\n## Outcome\nThe ship turns.";
    std::fs::write(
        &replies,
        serde_json::json!({"scene": [outline]}).to_string(),
    )
    .expect("replies");
    let stub = Stub::start(&replies);
    cli.ok(&[
        "providers",
        "add",
        "stub",
        "--format",
        "openai",
        "--base-url",
        &format!("http://127.0.0.1:{}/v1", stub.port),
    ]);
    let out = cli.ok(&[
        "run",
        "scene_outline",
        "-p",
        "scene=Mara keeps the light",
        "-p",
        "point_of_view=Mara",
        "--model",
        "stub:scene",
    ]);
    assert!(out.contains("── outline (stub:scene)"), "{out}");
    assert!(
        out.contains("1. Climb."),
        "the answer is streamed to stdout: {out}"
    );
    assert!(out.contains("✓ required_sections"), "{out}");
    assert!(out.contains("Run 1 passed"), "{out}");
    let run = cli.json(&["runs", "show", "1"]);
    assert_eq!(run["status"], "passed");
    assert_eq!(run["steps"][0]["output"], outline);
    // A run that fails its gates exits 4, like other failed checks.
    std::fs::write(
        &replies,
        serde_json::json!({"scene": ["Just one line."]}).to_string(),
    )
    .expect("replies");
    let failed = cli.expect(
        4,
        &[
            "run",
            "scene_outline",
            "-p",
            "scene=x",
            "-p",
            "point_of_view=y",
            "--model",
            "stub:scene",
        ],
    );
    assert!(failed.contains("✗ required_sections"), "{failed}");
}
