//! Walking a project folder and reading its files without ever leaving it.
//!
//! The walk honours `.gitignore` (with or without a git repository), `.ignore` and
//! `.atelierignore`, skips hidden entries, never follows a symbolic link, and counts what it
//! skipped and why. Reads go component by component from the root with `O_NOFOLLOW`, so a
//! directory swapped for a symlink between the walk and the read cannot lead outside the root.
//! Ignore files are read the same way ([`IgnoreRules`]), not by the walker: one that is a
//! symlink, a FIFO or anything but a regular file of at most [`MAX_IGNORE_FILE`] bytes is not
//! read (and not honoured).

use super::DocumentKind;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

/// The per-project ignore file, in `.gitignore` syntax.
pub const IGNORE_FILE: &str = ".atelierignore";

/// A directory's ignore files, strongest first (the order ripgrep gives them).
const IGNORE_FILES: [&str; 3] = [IGNORE_FILE, ".ignore", ".gitignore"];

/// The largest ignore file read.
pub const MAX_IGNORE_FILE: u64 = 1024 * 1024;

/// How many bytes are sniffed for NUL to tell a binary file.
const SNIFF: usize = 8192;

/// Extensions that are binary without looking (attachments, read as bytes, are not here).
const BINARY_EXTENSIONS: &[&str] = &[
    "ico", "tif", "tiff", "psd", "zip", "gz", "tgz", "xz", "bz2", "7z", "rar", "avi", "woff",
    "woff2", "ttf", "otf", "exe", "dll", "so", "dylib", "bin", "class", "jar", "wasm", "sqlite",
    "db", "kuzu",
];

/// The size caps of a walk, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Text files (and canvases, which are text).
    pub text: u64,
    /// Attachments read as bytes: images, audio, video, PDFs.
    pub attachment: u64,
}

impl Caps {
    /// The cap for the file at `path`.
    pub fn of(&self, path: &str) -> u64 {
        if kind_of(path).is_binary() {
            self.attachment
        } else {
            self.text
        }
    }
}

/// How close to the walk a modification time may be and still vouch for the content.
///
/// File systems stamp times from a coarse clock (a few ms on Linux, 2 s on FAT), so a file
/// saved, ingested and saved again with the same size inside one tick keeps its size and
/// time: a later walk comparing the two would miss the edit. A time this close to the walk
/// is recorded as [`UNSETTLED`], and the next walk compares the content instead (the "racy
/// clean" rule git uses for its index).
pub const RACY_WINDOW_MS: i64 = 2_000;

/// Stored instead of a modification time too recent to vouch for the content; it equals no
/// real time, so the next walk reads and hashes the file.
pub const UNSETTLED: i64 = -1;

/// A file the walk found worth reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Relative to the root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ms since the epoch.
    pub modified_at: i64,
    /// The modification time to record: [`Found::modified_at`], or [`UNSETTLED`] when it
    /// fell within [`RACY_WINDOW_MS`] of the walk (or after it).
    pub recorded_at: i64,
}

/// Why a file was not read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Over the configured size cap.
    TooLarge,
    /// Not text: a known binary type, a NUL byte, or not UTF-8.
    Binary,
    /// A symbolic link; links are never followed.
    Symlink,
    /// The OS refused to list or read it.
    Unreadable,
    /// Its name is not valid Unicode.
    BadName,
    /// An attachment whose bytes are not its type (corrupt, truncated or unsupported): kept
    /// as a vault item, without its content.
    Unparsable,
    /// An attachment over a reading cap (a PDF of too many pages): kept as a vault item,
    /// without its content.
    TooComplex,
}

impl SkipReason {
    /// Words for people.
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::TooLarge => "over the size cap",
            SkipReason::Binary => "binary or not UTF-8",
            SkipReason::Symlink => "symbolic link (never followed)",
            SkipReason::Unreadable => "unreadable",
            SkipReason::BadName => "name is not valid Unicode",
            SkipReason::Unparsable => {
                "kept without its content: not readable as its type (corrupt, truncated or unsupported)"
            }
            SkipReason::TooComplex => {
                "kept without its content: over a reading cap (a PDF of more pages than the cap)"
            }
        }
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Files to read, by path.
    pub files: Vec<Found>,
    /// Skipped files, by reason.
    pub skipped: BTreeMap<SkipReason, Vec<String>>,
}

impl Walked {
    fn skip(&mut self, reason: SkipReason, path: String) {
        self.skipped.entry(reason).or_default().push(path);
    }
}

/// Walks `root`, keeping files within `caps`. `started_at` is the wall-clock time of the walk
/// in ms, the clock file systems stamp modification times from.
pub fn walk(root: &Path, caps: Caps, started_at: i64) -> Walked {
    let mut walked = Walked::default();
    let rules = std::sync::Arc::new(IgnoreRules::new(root));
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .follow_links(false)
        .hidden(true)
        .parents(false)
        // The walker would open ignore files itself, following symlinks and blocking on a
        // FIFO; `IgnoreRules` reads them beneath the root instead.
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .filter_entry({
            let rules = std::sync::Arc::clone(&rules);
            move |entry| !rules.ignores(entry)
        })
        .sort_by_file_path(|a: &Path, b: &Path| a.cmp(b));
    for entry in builder.build() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = error_path(&e)
                    .and_then(|p| relative(root, p))
                    .unwrap_or_else(|| "?".to_owned());
                walked.skip(SkipReason::Unreadable, path);
                continue;
            }
        };
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        let Some(path) = relative(root, entry.path()) else {
            walked.skip(
                SkipReason::BadName,
                entry.path().to_string_lossy().into_owned(),
            );
            continue;
        };
        if path.is_empty() || file_type.is_dir() {
            continue;
        }
        if file_type.is_symlink() {
            walked.skip(SkipReason::Symlink, path);
            continue;
        }
        if !file_type.is_file() {
            continue;
        }
        if has_binary_extension(&path) {
            walked.skip(SkipReason::Binary, path);
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            walked.skip(SkipReason::Unreadable, path);
            continue;
        };
        if meta.len() > caps.of(&path) {
            walked.skip(SkipReason::TooLarge, path);
            continue;
        }
        let modified_at = modified_ms(&meta);
        walked.files.push(Found {
            path,
            size: meta.len(),
            modified_at,
            recorded_at: recordable(modified_at, started_at),
        });
    }
    walked
}

/// The ignore files of a walk's directories, each read once, beneath the root
/// ([`crate::beneath::open_file`]: no symlink at any component, regular files only, opened
/// without blocking), and matched the way ripgrep's walker does: the deepest directory with a
/// matching rule decides, and within one directory `.atelierignore` before `.ignore` before
/// `.gitignore`.
struct IgnoreRules {
    root: std::path::PathBuf,
    by_dir: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Vec<Gitignore>>>>,
}

impl IgnoreRules {
    fn new(root: &Path) -> Self {
        IgnoreRules {
            root: root.to_path_buf(),
            by_dir: std::sync::Mutex::default(),
        }
    }

    /// Whether the walk leaves `entry` out (a directory left out is not entered).
    fn ignores(&self, entry: &ignore::DirEntry) -> bool {
        let Some(path) = relative(&self.root, entry.path()) else {
            return false;
        };
        if path.is_empty() {
            return false;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        let mut dir = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        loop {
            for rules in self.rules_of(dir).iter() {
                let matched = rules.matched(entry.path(), is_dir);
                if matched.is_ignore() {
                    return true;
                }
                if matched.is_whitelist() {
                    return false;
                }
            }
            if dir.is_empty() {
                return false;
            }
            dir = dir.rsplit_once('/').map_or("", |(parent, _)| parent);
        }
    }

    /// The rules of directory `dir` (relative to the root, `""` for the root).
    fn rules_of(&self, dir: &str) -> std::sync::Arc<Vec<Gitignore>> {
        let mut by_dir = self
            .by_dir
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(rules) = by_dir.get(dir) {
            return std::sync::Arc::clone(rules);
        }
        let rules = std::sync::Arc::new(
            IGNORE_FILES
                .iter()
                .filter_map(|name| self.read_rules(dir, name))
                .collect::<Vec<_>>(),
        );
        by_dir.insert(dir.to_owned(), std::sync::Arc::clone(&rules));
        rules
    }

    fn read_rules(&self, dir: &str, name: &str) -> Option<Gitignore> {
        let path = if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        };
        let Content::Text(text) = read_text(&self.root, &path, MAX_IGNORE_FILE) else {
            return None;
        };
        let mut builder = GitignoreBuilder::new(self.root.join(dir));
        for line in text.lines() {
            // A line that is not a valid glob is skipped, as git does.
            let _ = builder.add_line(None, line);
        }
        builder.build().ok()
    }
}

/// What reading a file produced.
#[derive(Debug)]
pub enum Content {
    /// Its text.
    Text(String),
    /// Not read, and why.
    Skipped(SkipReason),
}

/// Reads the file at `path` (relative to `root`): at most `max_bytes` of anything.
pub fn read_bytes(root: &Path, path: &str, max_bytes: u64) -> Result<Vec<u8>, SkipReason> {
    let mut file = match crate::beneath::open_file(root, path) {
        Ok(file) => file,
        Err(e)
            if e.raw_os_error() == Some(crate::beneath::ELOOP)
                || e.kind() == std::io::ErrorKind::NotADirectory =>
        {
            return Err(SkipReason::Symlink);
        }
        Err(_) => return Err(SkipReason::Unreadable),
    };
    let mut bytes = Vec::new();
    if file
        .by_ref()
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Err(SkipReason::Unreadable);
    }
    if bytes.len() as u64 > max_bytes {
        return Err(SkipReason::TooLarge);
    }
    Ok(bytes)
}

/// Reads the file at `path` (relative to `root`) as UTF-8 text of at most `max_bytes`.
pub fn read_text(root: &Path, path: &str, max_bytes: u64) -> Content {
    let bytes = match read_bytes(root, path, max_bytes) {
        Ok(bytes) => bytes,
        Err(reason) => return Content::Skipped(reason),
    };
    if bytes[..bytes.len().min(SNIFF)].contains(&0) {
        return Content::Skipped(SkipReason::Binary);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Content::Text(
            text.strip_prefix('\u{feff}')
                .map(str::to_owned)
                .unwrap_or(text),
        ),
        Err(_) => Content::Skipped(SkipReason::Binary),
    }
}

/// The kind of document a path holds, by its extension; `Text` for unknown ones.
pub fn kind_of(path: &str) -> DocumentKind {
    let extension = super::extension(path);
    if let Some((kind, _)) = super::attachment_type(&extension) {
        return kind;
    }
    match extension.as_str() {
        "md" | "markdown" | "mdx" => DocumentKind::Markdown,
        "fountain" | "spmd" => DocumentKind::Fountain,
        "org" => DocumentKind::Org,
        "rst" => DocumentKind::Rst,
        "rs" | "py" | "js" | "mjs" | "cjs" | "ts" | "tsx" | "jsx" | "go" | "java" | "c" | "h"
        | "cc" | "cpp" | "hpp" | "cs" | "rb" | "php" | "swift" | "kt" | "kts" | "scala" | "sh"
        | "bash" | "zsh" | "fish" | "lua" | "sql" | "html" | "htm" | "css" | "scss" | "vue"
        | "svelte" | "json" | "yaml" | "yml" | "toml" | "xml" | "ini" | "cfg" | "gd" | "cmake"
        | "r" | "jl" | "hs" | "ml" | "ex" | "exs" | "clj" | "dart" | "zig" | "nim" => {
            DocumentKind::Code
        }
        _ => DocumentKind::Text,
    }
}

fn has_binary_extension(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(_, e)| BINARY_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// `path` relative to `root`, `/`-separated; `None` when it is not valid Unicode or not
/// under `root`.
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for component in rest.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.as_path()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// `modified_at` if it is old enough, at `started_at`, to vouch for the content.
fn recordable(modified_at: i64, started_at: i64) -> i64 {
    if modified_at < started_at.saturating_sub(RACY_WINDOW_MS) {
        modified_at
    } else {
        UNSETTLED
    }
}

fn modified_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_times_well_before_the_walk_are_recorded() {
        let walk_at = 1_700_000_000_000;
        assert_eq!(recordable(walk_at - 60_000, walk_at), walk_at - 60_000);
        assert_eq!(
            recordable(walk_at - RACY_WINDOW_MS - 1, walk_at),
            walk_at - RACY_WINDOW_MS - 1
        );
        assert_eq!(recordable(walk_at - RACY_WINDOW_MS, walk_at), UNSETTLED);
        assert_eq!(recordable(walk_at - 3, walk_at), UNSETTLED);
        assert_eq!(
            recordable(walk_at + 5_000, walk_at),
            UNSETTLED,
            "a clock ahead"
        );
    }

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_of("a/b.MD"), DocumentKind::Markdown);
        assert_eq!(kind_of("s.fountain"), DocumentKind::Fountain);
        assert_eq!(kind_of("x.rs"), DocumentKind::Code);
        assert_eq!(kind_of("README"), DocumentKind::Text);
        assert_eq!(kind_of("Attachments/cover.PNG"), DocumentKind::Image);
        assert_eq!(kind_of("v1.2/notes"), DocumentKind::Text);
        assert_eq!(kind_of("Board.canvas"), DocumentKind::Canvas);
        assert!(has_binary_extension("fonts/serif.woff2"));
        assert!(!has_binary_extension("cover.png"));
    }

    /// Path escape (TESTING.md recipe 7) for ignore files: rules behind a symlinked
    /// `.atelierignore` (from outside the root) are not read, a `.gitignore` that is a FIFO
    /// neither hangs the walk nor counts, and real ignore files still work, deepest first.
    #[cfg(unix)]
    #[test]
    fn ignore_files_are_read_beneath_the_root_only() {
        let outside = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        std::fs::write(outside.path().join("rules"), "kept.md\n").expect("write");
        std::os::unix::fs::symlink(outside.path().join("rules"), r.join(IGNORE_FILE))
            .expect("symlink");
        std::fs::create_dir_all(r.join("sub")).expect("mkdir");
        let fifo = std::process::Command::new("mkfifo")
            .arg(r.join("sub/.gitignore"))
            .status()
            .expect("mkfifo");
        assert!(fifo.success());
        std::fs::create_dir_all(r.join("notes")).expect("mkdir");
        std::fs::write(r.join(".gitignore"), "*.log\nnotes/\n").expect("write");
        std::fs::write(r.join("notes/.gitignore"), "!keep.md\n").expect("write");
        for path in ["kept.md", "sub/a.md", "debug.log", "notes/keep.md"] {
            std::fs::write(r.join(path), "# x\n").expect("write");
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = r.to_path_buf();
        std::thread::spawn(move || {
            let caps = Caps {
                text: 1 << 20,
                attachment: 1 << 20,
            };
            let _ = tx.send(walk(&dir, caps, 0));
        });
        let walked = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the walk ended (a FIFO ignore file did not block it)");
        let paths: Vec<&str> = walked.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["kept.md", "sub/a.md"], "{walked:?}");
    }

    /// Path escape: `..`, empty and absolute components are refused before any open.
    #[test]
    fn reads_refuse_climbing_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b"] {
            assert!(matches!(
                read_text(dir.path(), bad, 1024),
                Content::Skipped(SkipReason::Unreadable)
            ));
        }
    }
}
