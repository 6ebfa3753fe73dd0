//! Documents end to end through the `atelier` binary: projects, ingest, search, docs, related,
//! hooks; the crash loop (kill -9 mid-ingest) and the path-escape check under strace.

#![allow(
    clippy::print_stdout,
    reason = "the crash loop prints its seed, so a failure can be replayed"
)]

use crate::Cli;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A project of `notes` Markdown notes, several passages each, with links between them.
pub(crate) fn write_project(root: &Path, notes: usize) {
    for i in 0..notes {
        let dir = root.join(format!("part-{}", i / 20));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut text = format!(
            "---\ntags: [part{}]\n---\n# Note {i}\n\nSee [[note-{}]].\n",
            i / 20,
            (i + 1) % notes
        );
        for s in 0..4 {
            text.push_str(&format!(
                "\n## Section {s}\n\nThe keeper of note {i} counts ships in section {s}; the tide turns and the lamp burns till dawn.\n"
            ));
        }
        std::fs::write(dir.join(format!("note-{i}.md")), text).expect("write");
    }
}

fn sqlite(vault: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(vault.join("atelier.db")).expect("db")
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect("count")
}

/// After a reopen: SQLite intact, no orphan or duplicate rows, the full-text index in step, the
/// vector index and the graph agreeing with SQLite, the audit chain whole.
fn assert_consistent(cli: &Cli) {
    let conn = sqlite(&cli.vault);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
        ),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM (SELECT document_id, seq FROM chunks GROUP BY 1, 2 HAVING COUNT(*) > 1)"
        ),
        0,
        "duplicate passages"
    );
    // Each document's passages are a whole, numbered run: never half a file.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM (SELECT document_id FROM chunks GROUP BY 1 HAVING MAX(seq) + 1 <> COUNT(*))"
        ),
        0,
        "a document with missing passages"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM passages_fts"),
        count(&conn, "SELECT COUNT(*) FROM chunks")
    );
    let embedded = count(
        &conn,
        "SELECT COUNT(*) FROM chunks c JOIN embeddings e ON e.text_hash = c.text_hash",
    );
    let documents = count(&conn, "SELECT COUNT(*) FROM documents");
    drop(conn);
    let status = cli.json(&["status"]);
    assert_eq!(status["vectors"]["problem"], Value::Null, "{status}");
    assert_eq!(status["vectors"]["points"], embedded, "{status}");
    assert_eq!(status["graph"]["problem"], Value::Null, "{status}");
    assert_eq!(status["counts"]["documents"], documents);
    cli.ok(&["audit", "verify"]);
}

/// Crash loop (TESTING.md recipe 1): `atelier ingest` is killed with SIGKILL at a random moment
/// (the seed is printed), the vault reopened and checked, three times; then an ingest to the end
/// leaves exactly what a clean ingest of the same folder leaves.
#[test]
fn kill_9_during_ingest_loses_nothing_and_the_indexes_agree() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let project = cli.dir().join("project");
    write_project(&project, 60);
    cli.add_project(&project, "crash");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    println!("crash loop seed {seed}");
    let mut state = seed | 1;
    for round in 0..3 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(300 + state % 2500);
        let mut child = Command::new(&cli.bin)
            .args(["--vault"])
            .arg(&cli.vault)
            .args(["ingest", "crash"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        let finished = child.try_wait().expect("wait").is_some();
        child.kill().ok();
        child.wait().expect("reap");
        println!("round {round}: killed after {delay:?} (had finished: {finished})");
        assert_consistent(&cli);
    }
    cli.ok(&["ingest", "crash"]);
    assert_consistent(&cli);
    // The same folder ingested cleanly in a fresh vault gives the same passages.
    let clean = Cli::new();
    clean.ok(&["init"]);
    clean.add_project(&project, "crash");
    clean.ok(&["ingest", "crash"]);
    let passages = |cli: &Cli| -> Vec<(String, i64, String)> {
        let conn = sqlite(&cli.vault);
        let mut stmt = conn
            .prepare("SELECT d.path, c.seq, c.text_hash FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY 1, 2")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    assert_eq!(passages(&cli), passages(&clean));
}

#[test]
fn projects_ingest_search_docs_related_and_hooks_from_the_command_line() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    let project = cli.dir().join("notes");
    write_project(&project, 12);
    let added = cli.json(&["projects", "add", &project.display().to_string()]);
    assert_eq!(added["name"], "notes");
    let reports = cli.json(&["ingest", "notes"]);
    assert_eq!(reports[0]["added"], 12);
    assert_eq!(reports[0]["unembedded"], 0);
    let listed = cli.json(&["projects", "ls"]);
    assert_eq!(listed[0]["documents"], 12);
    for mode in ["text", "vector", "hybrid"] {
        let hits = cli.json(&[
            "search",
            "keeper of note 7 counts ships",
            "--mode",
            mode,
            "-n",
            "5",
        ]);
        assert!(!hits.as_array().expect("hits").is_empty(), "{mode}: {hits}");
    }
    let hits = cli.json(&[
        "search",
        "tide",
        "--mode",
        "text",
        "--tag",
        "part0",
        "--path",
        "part-0/**",
    ]);
    assert!(
        hits.as_array()
            .expect("hits")
            .iter()
            .all(|h| h["path"].as_str().is_some_and(|p| p.starts_with("part-0/")))
    );
    let shown = cli.json(&["docs", "show", "notes:part-0/note-3.md"]);
    assert_eq!(shown["links"][0]["resolved"]["path"], "part-0/note-4.md");
    assert_eq!(shown["backlinks"][0]["source"]["path"], "part-0/note-2.md");
    let related = cli.json(&["related", "part-0/note-3.md"]);
    assert!(
        related
            .as_array()
            .expect("related")
            .iter()
            .any(|r| r["document"]["path"] == "part-0/note-4.md")
    );
    assert!(cli.ok(&["search", "lamp burns"]).contains("notes:part-"));
    let rule = cli.json(&[
        "hooks",
        "add",
        "notes",
        "inbox/*.md",
        "task",
        "--template",
        "Read {name}",
    ]);
    assert_eq!(rule["action"], "task");
    assert_eq!(
        cli.error_code(2, &["hooks", "add", "notes", "[", "ingest"]),
        "INVALID_INPUT"
    );
    assert_eq!(
        cli.error_code(2, &["search", "x", "--path", "[bad"]),
        "INVALID_INPUT"
    );
    assert_eq!(
        cli.error_code(2, &["projects", "add", "/no/such/folder"]),
        "INVALID_INPUT"
    );
    assert_eq!(cli.error_code(2, &["ingest", "nope"]), "NOT_FOUND");
    cli.ok(&["hooks", "rm", &rule["id"].to_string()]);
    let removed = cli.json(&["projects", "rm", "notes"]);
    assert_eq!(removed["documents"], 12);
    assert!(
        project.join("part-0/note-0.md").is_file(),
        "removing a project never touches its files"
    );
    let status = cli.json(&["status"]);
    assert_eq!(status["counts"]["chunks"], 0);
    assert_eq!(status["vectors"]["points"], 0);
}

/// Path escape (TESTING.md recipe 7): under strace, an ingest of a project holding a symlink to
/// a folder outside it, a symlink to a file outside it, a symlink loop, ignore files that are
/// symlinks to files outside (`.atelierignore`, `.ignore`) and a `.gitignore` that is a FIFO
/// opens nothing outside the root and does not hang. What each open returned is checked by
/// the file it resolved to (strace `-y`), not by the path string it was given. Skipped (with a
/// message) where strace is not installed.
#[test]
fn ingest_opens_nothing_outside_the_project_root() {
    if Command::new("strace").arg("-V").output().is_err() {
        println!("strace is not installed; scripts/install-deps.sh --test installs it");
        return;
    }
    let cli = Cli::new();
    cli.ok(&["init"]);
    let project = cli.dir().join("root");
    let outside = cli.dir().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("secret.md"), "# Secret\n\nCANARY-OUTSIDE\n").expect("write");
    write_project(&project, 3);
    std::os::unix::fs::symlink(&outside, project.join("outside-dir")).expect("link");
    std::os::unix::fs::symlink(outside.join("secret.md"), project.join("secret.md")).expect("link");
    std::os::unix::fs::symlink("loop", project.join("loop")).expect("link");
    std::os::unix::fs::symlink("../outside", project.join("part-0/up")).expect("link");
    for part in ["part-1", "part-2"] {
        std::fs::create_dir_all(project.join(part)).expect("mkdir");
        std::fs::write(
            project.join(part).join("inside.md"),
            "# Inside\n\nA note.\n",
        )
        .expect("write");
    }
    // Ignore rules from outside the root would hide part-0; they must not be read.
    std::fs::write(outside.join("rules"), "part-0/\n").expect("write");
    std::os::unix::fs::symlink(outside.join("rules"), project.join(".atelierignore"))
        .expect("link");
    std::os::unix::fs::symlink(outside.join("rules"), project.join("part-1/.ignore"))
        .expect("link");
    let fifo = Command::new("mkfifo")
        .arg(project.join("part-2/.gitignore"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    cli.add_project(&project, "root");
    let trace: PathBuf = cli.dir().join("trace.log");
    let mut traced = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-y",
            "-e",
            "trace=open,openat,openat2,stat,newfstatat,lstat,statx",
            "-o",
        ])
        .arg(&trace)
        .arg(&cli.bin)
        .arg("--vault")
        .arg(&cli.vault)
        .args(["ingest", "root"])
        .spawn()
        .expect("strace");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = traced.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = traced.kill();
            panic!("ingest hung (a FIFO ignore file opened blocking?)");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let log = std::fs::read_to_string(&trace).expect("trace");
    assert!(log.lines().count() > 10, "strace recorded nothing");
    let outside_text = outside.display().to_string();
    let canonical_outside = std::fs::canonicalize(&outside)
        .expect("canonical")
        .display()
        .to_string();
    // `-y` prints the file a returned descriptor refers to as `= N</real/path>`.
    let resolved = |line: &str| {
        line.rsplit_once("= ")
            .and_then(|(_, ret)| ret.split_once('<'))
            .map(|(_, path)| path.trim_end_matches('>').to_owned())
    };
    assert!(
        log.lines()
            .filter_map(resolved)
            .any(|p| p.contains("part-0")),
        "strace -y resolved no descriptor; this test would prove nothing"
    );
    let leaks: Vec<&str> = log
        .lines()
        .filter(|l| {
            resolved(l).is_some_and(|p| p.starts_with(&canonical_outside))
                || l.contains(&outside_text)
                || l.contains("../outside")
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "opened outside the root:\n{}",
        leaks.join("\n")
    );
    let conn = sqlite(&cli.vault);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM chunks WHERE body LIKE '%CANARY-OUTSIDE%'"
        ),
        0
    );
    assert!(
        count(
            &conn,
            "SELECT COUNT(*) FROM documents WHERE path LIKE 'part-0/%'"
        ) > 0,
        "rules read through a symlink hid part-0"
    );
}
