//! The structured log: one JSON object per line in the vault's `logs/atelier.log`, shared by
//! every long-running process on the vault (the app, `atelier serve`, `atelier mcp`, long CLI
//! commands), rotated by size; and a short human line per warning on stderr, never stdout (the
//! MCP sidecar's stdout carries protocol bytes only).
//!
//! Each line is written whole with one append under a lock held by the process (a mutex) and
//! across processes (an advisory file lock), so lines from several processes never interleave
//! and rotation never loses a line that was written.

use crate::clock::{Clock, SystemClock, format_rfc3339};
use serde_json::{Map, Value};
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The log's directory inside the vault.
pub const LOG_DIR: &str = "logs";
/// The current log file; rotated ones are `atelier.log.1` (newest) to `atelier.log.KEEP`.
pub const LOG_FILE: &str = "atelier.log";
/// How large the current file grows before it is rotated.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// How many rotated files are kept besides the current one.
pub const KEEP: usize = 5;
/// The environment variable that sets what the file records, as `tracing` targets
/// (`info`, `debug`, `atelier_core=debug,info`); `info` when unset or unreadable.
pub const LEVEL_VAR: &str = "ATELIER_LOG";

/// A size-rotated log file in a vault.
#[derive(Debug)]
pub struct RotatingLog {
    vault: PathBuf,
    max_bytes: u64,
    keep: usize,
    /// The advisory lock's file, opened on first write; the mutex also orders this process's
    /// threads, which share one lock (an OS file lock is held per open file, not per thread).
    lock: Mutex<Option<File>>,
}

impl RotatingLog {
    /// The log of the vault at `vault`. Nothing is created until the first line, and only
    /// in a vault that exists: a mistyped `--vault` gets no stray `logs/` folder.
    pub fn new(vault: &Path, max_bytes: u64, keep: usize) -> RotatingLog {
        RotatingLog {
            vault: vault.to_path_buf(),
            max_bytes: max_bytes.max(1),
            keep,
            lock: Mutex::new(None),
        }
    }

    /// The directory the files are in.
    pub fn dir(&self) -> PathBuf {
        self.vault.join(LOG_DIR)
    }

    /// The current file.
    pub fn path(&self) -> PathBuf {
        self.dir().join(LOG_FILE)
    }

    /// The `n`th rotated file (1 is the newest).
    pub fn rotated(&self, n: usize) -> PathBuf {
        self.dir().join(format!("{LOG_FILE}.{n}"))
    }

    /// Appends one whole line (with its newline), rotating first when it would not fit.
    pub fn append(&self, line: &[u8]) -> io::Result<()> {
        let mut slot = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            if !crate::vault::exists(&self.vault) {
                return Ok(());
            }
            fs::create_dir_all(self.dir())?;
            *slot = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir().join(format!("{LOG_FILE}.lock")))?,
            );
        }
        let Some(lock) = slot.as_ref() else {
            return Ok(());
        };
        lock.lock()?;
        let written = self.append_locked(line);
        let unlocked = lock.unlock();
        written.and(unlocked)
    }

    fn append_locked(&self, line: &[u8]) -> io::Result<()> {
        let path = self.path();
        // Another process may have rotated since this one last wrote: the size is read anew.
        let size = fs::metadata(&path).map_or(0, |m| m.len());
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(line)
    }

    /// `.keep` goes, each `.n` becomes `.n+1`, and the current file becomes `.1`.
    fn rotate(&self) -> io::Result<()> {
        if self.keep == 0 {
            return fs::remove_file(self.path());
        }
        match fs::remove_file(self.rotated(self.keep)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..self.keep).rev() {
            match fs::rename(self.rotated(n), self.rotated(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(self.path(), self.rotated(1))
    }
}

/// Turns each event into a JSON line: `ts` (RFC 3339, UTC), `level`, `target`, `process`,
/// `pid`, and the event's fields (`message` among them).
#[derive(Debug)]
pub struct JsonLines {
    log: Arc<RotatingLog>,
    process: String,
    clock: Arc<dyn Clock>,
}

impl JsonLines {
    /// Lines from `process` (`desktop`, `serve`, `mcp`, `cli`) into `log`, stamped by `clock`.
    pub fn new(log: Arc<RotatingLog>, process: &str, clock: Arc<dyn Clock>) -> JsonLines {
        JsonLines {
            log,
            process: process.to_owned(),
            clock,
        }
    }

    /// The line for one event.
    fn line(&self, level: &Level, target: &str, fields: Map<String, Value>) -> Vec<u8> {
        let mut object = Map::new();
        object.insert("ts".into(), format_rfc3339(self.clock.now()).into());
        object.insert("level".into(), level.as_str().into());
        object.insert("target".into(), target.into());
        object.insert("process".into(), self.process.clone().into());
        object.insert("pid".into(), std::process::id().into());
        for (name, value) in fields {
            object.entry(name).or_insert(value);
        }
        let mut line = Value::Object(object).to_string().into_bytes();
        line.push(b'\n');
        line
    }
}

impl<S: Subscriber> Layer<S> for JsonLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = FieldMap(Map::new());
        event.record(&mut fields);
        let meta = event.metadata();
        let line = self.line(meta.level(), meta.target(), fields.0);
        // A log that cannot be written must not take the process down; stderr still has it.
        let _ = self.log.append(&line);
    }
}

/// Collects an event's fields as JSON values.
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// What the file records: `ATELIER_LOG` when it parses, else `info`.
fn file_filter(setting: Option<&str>) -> Targets {
    setting
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the process's logging: JSON lines into the vault's log (see [`LEVEL_VAR`]) and
/// warnings on stderr; a panic is logged before the default report. Answers the log file's
/// path. A second call in one process (tests) keeps the first setup.
pub fn install(vault: &Path, process: &str) -> PathBuf {
    let log = Arc::new(RotatingLog::new(vault, MAX_BYTES, KEEP));
    let path = log.path();
    let setting = std::env::var(LEVEL_VAR).ok();
    let file = JsonLines::new(log, process, Arc::new(SystemClock))
        .with_filter(file_filter(setting.as_deref()));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_filter(LevelFilter::WARN);
    let subscriber = tracing_subscriber::registry().with(file).with(stderr);
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            tracing::error!(panic = %info, "panicked");
            previous(info);
        }));
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            vault = %vault.display(),
            "started"
        );
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn vault() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(crate::vault::DATABASE), b"").expect("db marker");
        dir
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Every line written is in exactly one file, whole and in order, until the oldest file is
    /// dropped; no file grows past the limit; only `KEEP` rotated files remain.
    #[test]
    fn rotation_keeps_whole_lines_in_order_and_bounds_the_files() {
        let dir = vault();
        let log = RotatingLog::new(dir.path(), 200, 3);
        for i in 0..40 {
            log.append(format!("{{\"n\":{i},\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}}\n").as_bytes())
                .expect("append");
        }
        let mut all = Vec::new();
        for n in (1..=3).rev() {
            let path = log.rotated(n);
            assert!(fs::metadata(&path).expect("rotated").len() <= 200);
            all.extend(lines(&path));
        }
        assert!(!log.rotated(4).exists(), "only 3 rotated files are kept");
        all.extend(lines(&log.path()));
        let numbers: Vec<i64> = all
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("a whole JSON line")["n"]
                    .as_i64()
                    .expect("n")
            })
            .collect();
        let first = numbers[0];
        assert_eq!(numbers, (first..40).collect::<Vec<_>>());
        assert!(first > 0, "the oldest lines rotated out");
    }

    /// Many writers at once, each through its own handle (as separate processes are): nothing
    /// is lost or torn, and rotation happened along the way.
    #[test]
    fn concurrent_writers_lose_no_line() {
        let dir = vault();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let log = RotatingLog::new(&path, 4_096, 1_000);
                    for i in 0..250 {
                        log.append(format!("{{\"w\":{w},\"i\":{i}}}\n").as_bytes())
                            .expect("append");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let log = RotatingLog::new(dir.path(), 4_096, 1_000);
        let mut seen = std::collections::BTreeSet::new();
        let mut files = 1;
        while log.rotated(files).exists() {
            files += 1;
        }
        assert!(files > 2, "the writers rotated the file");
        for path in (1..files).map(|n| log.rotated(n)).chain([log.path()]) {
            for line in lines(&path) {
                let v: Value = serde_json::from_str(&line).expect("a whole line");
                assert!(
                    seen.insert((v["w"].as_i64(), v["i"].as_i64())),
                    "{line} twice"
                );
            }
        }
        assert_eq!(seen.len(), 1_000);
    }

    #[test]
    fn no_vault_no_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = RotatingLog::new(&dir.path().join("typo"), 100, 1);
        log.append(b"{}\n").expect("append");
        assert!(!dir.path().join("typo").exists());
    }

    #[test]
    fn an_event_is_one_json_line_with_its_fields_and_the_process() {
        let dir = vault();
        let log = Arc::new(RotatingLog::new(dir.path(), MAX_BYTES, KEEP));
        let layer = JsonLines::new(log.clone(), "serve", Arc::new(ManualClock::new(86_400_000)));
        let subscriber = tracing_subscriber::registry()
            .with(layer.with_filter(file_filter(Some("atelier_core=debug"))));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(job = 7, task = "Draft", ok = true, "job leased");
            tracing::trace!("too fine for the filter");
        });
        let written = lines(&log.path());
        assert_eq!(written.len(), 1, "{written:?}");
        let v: Value = serde_json::from_str(&written[0]).expect("json");
        assert_eq!(v["ts"], "1970-01-02T00:00:00Z");
        assert_eq!(v["level"], "DEBUG");
        assert_eq!(v["process"], "serve");
        assert_eq!(v["message"], "job leased");
        assert_eq!(
            (v["job"].as_i64(), v["task"].as_str(), v["ok"].as_bool()),
            (Some(7), Some("Draft"), Some(true))
        );
        assert_eq!(v["pid"].as_u64(), Some(u64::from(std::process::id())));
        let fallback = file_filter(Some("not a filter ==="));
        assert!(fallback.would_enable("atelier_core", &Level::INFO));
        assert!(!fallback.would_enable("atelier_core", &Level::DEBUG));
    }
}
