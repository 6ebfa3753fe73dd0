//! The vault: where it lives on disk, its layout, the exclusive lock that makes one process its
//! owner, and the spine every command goes through — the handle ([`Atelier`]), a command's
//! transaction ([`Ctx`]), authorization and the projections' catch-up. Nothing here knows any
//! area of the product; the areas build on it.

mod anchor;
mod authorize;
mod catch_up;
mod handle;
mod keychain;

pub(crate) use authorize::{
    authorize_target, authorize_with, effective_grants, readable_documents,
};
pub(crate) use catch_up::{Projection, graph_error};
pub(crate) use handle::{ANCHOR_UNCHECKED, Ctx, OpenVault, lock};
pub use handle::{Atelier, OpenOptions};
pub(crate) use keychain::keychain_error;

use crate::error::{Error, SealReason};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The SQLite database: the only source of truth.
pub const DATABASE: &str = "atelier.db";
/// The lock file held by the owning process.
pub const LOCK: &str = "atelier.lock";
/// The Kuzu graph projection's directory.
pub const GRAPH_DIR: &str = "graph";
/// Role overrides.
pub const ROLES_DIR: &str = "roles";
/// The Qdrant Edge vector index's directory.
pub const VECTORS_DIR: &str = "vectors";
/// Every directory `init` creates.
pub const DIRECTORIES: &[&str] = &[GRAPH_DIR, ROLES_DIR, VECTORS_DIR, "blobs", "models"];

/// Chooses the vault directory: an explicit `--vault`, else `ATELIER_HOME`, else the OS data
/// directory (`$XDG_DATA_HOME/atelier` or `~/.local/share/atelier` on Linux,
/// `~/Library/Application Support/Atelier` on macOS, `%APPDATA%\Atelier` on Windows).
pub fn locate(explicit: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(home) = env("ATELIER_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(home));
    }
    if cfg!(target_os = "windows") {
        return env("APPDATA").map(|d| PathBuf::from(d).join("Atelier"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|h| PathBuf::from(h).join("Library/Application Support/Atelier"));
    }
    if let Some(data) = env("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(data).join("atelier"));
    }
    env("HOME").map(|h| PathBuf::from(h).join(".local/share/atelier"))
}

/// The process's real environment, for [`locate`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Whether `dir` holds a vault (its database exists).
pub fn exists(dir: &Path) -> bool {
    dir.join(DATABASE).is_file()
}

/// Makes the vault at `dir` readable by its owner only: the directory itself and everything
/// in it lose every group and other permission bit (a vault made under umask 022 was 0755 with
/// an 0644 database). Symbolic links are neither followed nor changed. Called when a vault is
/// created and each time it opens, so a vault made by an older version, or a file another
/// program put there, is repaired. Answers the entries it could not change.
pub fn make_private(dir: &Path) -> Vec<PathBuf> {
    let mut failed = Vec::new();
    restrict(dir, &mut failed);
    failed
}

#[cfg(unix)]
fn restrict(path: &Path, failed: &mut Vec<PathBuf>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0
        && std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077)).is_err()
    {
        failed.push(path.to_path_buf());
    }
    if kind.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.flatten() {
            restrict(&entry.path(), failed);
        }
    }
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _failed: &mut Vec<PathBuf>) {}

/// Holds the vault's exclusive OS lock for as long as it lives.
#[derive(Debug)]
pub struct VaultLock {
    _file: File,
}

impl VaultLock {
    /// Takes the lock on `dir`, writing this process's id into the lock file. If another
    /// process holds it, answers `VaultBusy` with the pid it wrote.
    pub fn acquire(dir: &Path) -> Result<VaultLock, SealReason> {
        let path = dir.join(LOCK);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| SealReason::StorageUnavailable {
                message: Error::io("the lock file cannot be opened", &e).to_string(),
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(SealReason::VaultBusy {
                    pid: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(SealReason::StorageUnavailable {
                    message: Error::io("the lock cannot be taken", &e).to_string(),
                });
            }
        }
        // Best effort: the pid only improves the message another process shows.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(VaultLock { _file: file })
    }
}
