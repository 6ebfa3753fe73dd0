//! Keys, providers and runs from the command line: no keychain means no provider use, with the
//! reason; a run streams the stub's answer and `runs show` reports it; a planted key reaches the
//! provider and nothing else.

use crate::Cli;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The provider stub (`tests/providers/stub.py`), killed when dropped.
pub(crate) struct Stub {
    child: Child,
    pub(crate) port: u16,
}

impl Stub {
    /// A stub answering from `replies`; with `log`, it also writes every request it gets
    /// (headers included) there.
    pub(crate) fn start(replies: &Path, log: Option<&Path>) -> Stub {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("providers/stub.py");
        let mut command = Command::new("python3");
        command.arg(script).arg("--replies").arg(replies);
        if let Some(log) = log {
            command.arg("--log").arg(log);
        }
        let mut child = command
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

/// A scene outline that passes `scene_outline`'s gates.
const OUTLINE: &str = "## Goal\nReach the lamp.\n\n## Conflict\nThe storm.\n\n## Beats\n1. Climb.\n2. Light.\n\n## Outcome\nThe ship turns.";

/// The stub answering the model `scene` with [`OUTLINE`], and its replies file (rewrite it to
/// change the answer); with `log`, it also logs every request there.
pub(crate) fn outline_stub(cli: &Cli, log: Option<&Path>) -> (Stub, PathBuf) {
    let replies = cli.dir().join("replies.json");
    std::fs::write(
        &replies,
        serde_json::json!({"scene": [OUTLINE]}).to_string(),
    )
    .expect("replies");
    (Stub::start(&replies, log), replies)
}

/// Adds the stub as the keyless OpenAI-format provider `stub`.
pub(crate) fn add_stub_provider(cli: &Cli, stub: &Stub) {
    cli.ok(&[
        "providers",
        "add",
        "stub",
        "--format",
        "openai",
        "--base-url",
        &format!("http://127.0.0.1:{}/v1", stub.port),
    ]);
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
    let (stub, replies) = outline_stub(&cli, None);
    add_stub_provider(&cli, &stub);
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
    assert_eq!(run["steps"][0]["output"], OUTLINE);
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

/// Assets from the command line: a passed run is banked for review, approved, traced and
/// exported into a project; exporting over the file again is refused (exit 2, `FILE_EXISTS`,
/// the file kept) unless `--overwrite`, and a path out of the project is refused.
#[test]
fn a_banked_run_is_approved_traced_and_exported_from_the_command_line() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let project = cli.dir().join("novel");
    std::fs::create_dir_all(&project).expect("project dir");
    cli.add_project(&project, "novel");
    let (stub, _) = outline_stub(&cli, None);
    add_stub_provider(&cli, &stub);
    let run = Command::new(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .args([
            "run",
            "scene_outline",
            "-p",
            "scene=Mara keeps the light",
            "-p",
            "point_of_view=Mara",
            "--model",
            "stub:scene",
        ])
        .output()
        .expect("run");
    assert!(run.status.success());
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("banked as asset 1 version 1 (in_review)"),
        "{said}"
    );
    let listed = cli.json(&["assets", "ls", "--state", "in_review"]);
    assert_eq!(listed[0]["id"], 1);
    assert_eq!(
        cli.error_code(
            2,
            &[
                "assets",
                "export",
                "1",
                "--project",
                "novel",
                "--to",
                "x.md"
            ]
        ),
        "ASSET_STATE"
    );
    let approved = cli.json(&["assets", "approve", "1", "--note", "good"]);
    assert_eq!(approved["state"], "approved");
    let lineage = cli.json(&["assets", "lineage", "1"]);
    assert_eq!(lineage["runs"][0]["play"], "scene_outline");
    assert_eq!(
        cli.ok(&["assets", "show", "1", "--content"]).trim_end(),
        OUTLINE
    );
    let target = project.join("notes/storm.md");
    let written = cli.json(&[
        "assets",
        "export",
        "1",
        "--project",
        "novel",
        "--to",
        "notes/storm.md",
    ]);
    assert_eq!(written["replaced"], false);
    std::fs::write(&target, "mine").expect("edit");
    // Not a terminal: no question is asked, the file is kept.
    assert_eq!(
        cli.error_code(
            2,
            &[
                "assets",
                "export",
                "1",
                "--project",
                "novel",
                "--to",
                "notes/storm.md"
            ]
        ),
        "FILE_EXISTS"
    );
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "mine");
    let replaced = cli.json(&[
        "assets",
        "export",
        "1",
        "--project",
        "novel",
        "--to",
        "notes/storm.md",
        "--overwrite",
    ]);
    assert_eq!(replaced["replaced"], true);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), OUTLINE);
    assert_eq!(
        cli.error_code(
            2,
            &[
                "assets",
                "export",
                "1",
                "--project",
                "novel",
                "--to",
                "../out.md"
            ]
        ),
        "INVALID_INPUT"
    );
    assert!(!cli.dir().join("out.md").exists());
}

/// Secret canary (TESTING.md recipe 5), through the real binary and the real keychain: a
/// planted key is sent to the stub in all three wire formats (positive control: the stub's log
/// has it), then every command that touches keys, providers, runs and assets, in text and JSON,
/// with errors (a provider that echoes the key back in its 400), and every file of the vault
/// (database, WAL, graph, vectors, blobs) are searched for it: raw, base64, hex, URL-encoded and
/// every 12-character piece.
#[test]
fn a_planted_key_reaches_the_provider_and_no_output_or_vault_file() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let nonce = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let canary = format!("sk-canary-{nonce}-Zq9");
    let log = cli.dir().join("requests.jsonl");
    let (stub, _) = outline_stub(&cli, Some(&log));
    let base = format!("http://127.0.0.1:{}", stub.port);
    let mut seen = String::new();
    let mut run = |args: &[&str], env_key: bool| {
        for json in [false, true] {
            let mut command = Command::new(&cli.bin);
            command.arg("--vault").arg(&cli.vault);
            if json {
                command.arg("--json");
            }
            command.args(args).env_remove("ATELIER_HOME");
            if env_key {
                command.env("ATELIER_CANARY", &canary);
            }
            let out = command.output().expect("run atelier");
            seen.push_str(&String::from_utf8_lossy(&out.stdout));
            seen.push_str(&String::from_utf8_lossy(&out.stderr));
            if env_key {
                break;
            }
        }
    };
    run(
        &["keys", "set", "canary", "--from-env", "ATELIER_CANARY"],
        true,
    );
    for (name, format, url) in [
        ("k-openai", "openai", format!("{base}/v1")),
        ("k-anthropic", "anthropic", base.clone()),
        ("k-gemini", "gemini", base.clone()),
    ] {
        run(
            &[
                "providers",
                "add",
                name,
                "--format",
                format,
                "--base-url",
                &url,
                "--key",
                "canary",
            ],
            false,
        );
        run(&["providers", "test", name], false);
    }
    // Providers whose every answer is a redirect to another path: the key must not follow.
    for (name, format, url) in [
        ("r-openai", "openai", format!("{base}/redirect/v1")),
        ("r-anthropic", "anthropic", format!("{base}/redirect")),
        ("r-gemini", "gemini", format!("{base}/redirect")),
    ] {
        run(
            &[
                "providers",
                "add",
                name,
                "--format",
                format,
                "--base-url",
                &url,
                "--key",
                "canary",
            ],
            false,
        );
        run(&["providers", "test", name], false);
    }
    run(&["keys", "ls"], false);
    run(&["keys", "test", "canary"], false);
    run(&["providers", "ls"], false);
    run(
        &["routes", "set", "llm.creator", "k-anthropic:scene"],
        false,
    );
    run(&["routes", "ls"], false);
    let play = [
        "run",
        "scene_outline",
        "-p",
        "scene=Mara",
        "-p",
        "point_of_view=Mara",
    ];
    for model in [
        "k-anthropic:scene",
        "k-openai:scene",
        "k-gemini:scene",
        "k-openai:leaky-400",
        "k-anthropic:leaky-400",
        "k-gemini:leaky-400",
        "k-openai:malformed",
        "k-openai:fail-500",
        "k-openai:leaky-stream",
        "k-anthropic:leaky-stream",
        "k-gemini:leaky-stream",
        "r-openai:scene",
        "r-anthropic:scene",
        "r-gemini:scene",
    ] {
        let mut args = play.to_vec();
        args.extend(["--model", model]);
        run(&args, false);
    }
    let mut dry = play.to_vec();
    dry.push("--dry-run");
    run(&dry, false);
    run(&["runs", "ls"], false);
    for id in 1..=24 {
        run(&["runs", "show", &id.to_string()], false);
    }
    run(&["assets", "ls"], false);
    run(&["assets", "show", "1"], false);
    run(&["assets", "approve", "1"], false);
    run(&["assets", "lineage", "1"], false);
    run(&["status"], false);
    run(&["audit", "tail", "-n", "200"], false);
    run(&["halt", "--reason", "canary"], false);
    run(&["unseal"], false);
    run(&["keys", "rm", "canary"], false);

    // Positive control: the stub got the key, in every format.
    let requests = std::fs::read_to_string(&log).expect("stub log");
    for header in ["authorization", "x-api-key", "x-goog-api-key"] {
        assert!(
            requests
                .lines()
                .any(|l| l.contains(header) && l.contains(&canary)),
            "the stub never received the key in {header}; this test would prove nothing"
        );
    }
    // Positive control of the redirects: the redirecting route got the key on the first
    // request; nothing that went to the redirect's target carried it, in any format.
    assert!(
        requests
            .lines()
            .any(|l| l.contains("\"/redirect/") && l.contains(&canary)),
        "the redirecting provider never received the key; this test would prove nothing"
    );
    let stolen: Vec<&str> = requests
        .lines()
        .filter(|l| l.contains("\"/stolen/"))
        .collect();
    assert!(
        stolen.iter().all(|l| !l.contains(&canary)),
        "the key followed a redirect: {stolen:?}"
    );
    assert!(
        seen.contains("redirect (HTTP 302) to /stolen/"),
        "a redirect is an error naming its target: {seen}"
    );
    assert!(seen.contains("passed"), "the runs ran: {seen}");
    // Second control: the provider did echo the key in its error, and it was scrubbed.
    assert!(seen.contains("[key]"), "no echoed key was scrubbed: {seen}");

    let forms = leaked_forms(&canary);
    for (form, value) in &forms {
        assert!(
            !seen.contains(value.as_str()),
            "command output holds the key ({form}: {value})"
        );
    }
    for file in files_under(&cli.vault) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for (form, value) in &forms {
            assert!(
                !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                "{} holds the key ({form}: {value})",
                file.display()
            );
        }
    }
}

/// The forms a leaked key could take: raw, base64, hex, URL-encoded, and every 12-character
/// piece of it.
fn leaked_forms(key: &str) -> Vec<(&'static str, String)> {
    let mut forms = vec![
        ("raw", key.to_owned()),
        ("base64", base64(key.as_bytes())),
        ("hex", key.bytes().map(|b| format!("{b:02x}")).collect()),
        ("HEX", key.bytes().map(|b| format!("{b:02X}")).collect()),
        (
            "url",
            key.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect(),
        ),
    ];
    // Base64 of the key shifted by one and two bytes, so any alignment inside a larger blob
    // is caught; the trailing partial group is dropped as it depends on what follows.
    for shift in 1..3 {
        let mut padded = vec![b'x'; shift];
        padded.extend_from_slice(key.as_bytes());
        let encoded = base64(&padded);
        let skip = (shift * 4).div_ceil(3);
        let keep = (encoded.trim_end_matches('=').len() / 4) * 4;
        forms.push(("base64 shifted", encoded[skip..keep].to_owned()));
    }
    let chars: Vec<char> = key.chars().collect();
    for start in 0..=chars.len().saturating_sub(12) {
        forms.push((
            "12-character piece",
            chars[start..start + 12].iter().collect(),
        ));
    }
    forms
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

/// Crash safety of banked bytes (TESTING.md recipe 1's "nothing acknowledged is lost", seen
/// through the system calls, since a power cut cannot be staged here): when a run banks its
/// output, the new blob's directory entries are made durable, not only the file's bytes: under
/// `strace -y` the blob directory and the `blobs/` directory are `fsync`ed. Skipped (with a
/// message) where strace is not installed.
#[test]
#[allow(clippy::print_stdout)] // a skip is reported, so a green run does not hide it
fn banking_syncs_the_blob_directories() {
    if Command::new("strace").arg("-V").output().is_err() {
        println!("strace is not installed; scripts/install-deps.sh --test installs it");
        return;
    }
    let cli = Cli::new();
    cli.ok(&["init"]);
    let (stub, _) = outline_stub(&cli, None);
    add_stub_provider(&cli, &stub);
    let trace = cli.dir().join("fsync.log");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .args([
            "run",
            "scene_outline",
            "-p",
            "scene=Mara keeps the light",
            "-p",
            "point_of_view=Mara",
            "--model",
            "stub:scene",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("strace");
    assert!(status.success());
    let log = std::fs::read_to_string(&trace).expect("trace");
    let blobs = std::fs::canonicalize(cli.vault.join("blobs"))
        .expect("blobs")
        .display()
        .to_string();
    let synced: Vec<&str> = log.lines().filter(|l| l.contains(&blobs)).collect();
    assert!(
        synced.iter().any(|l| l.contains(&format!("<{blobs}>"))),
        "blobs/ was not synced: {synced:?}"
    );
    assert!(
        synced
            .iter()
            .any(|l| l.contains(&format!("<{blobs}/")) && !l.contains(".tmp-")),
        "the blob's directory was not synced: {synced:?}"
    );
}
