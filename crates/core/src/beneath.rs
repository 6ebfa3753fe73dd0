//! Files under a project root, opened and written one path component at a time with symlinks
//! refused at every step, so no path (and no symlink swapped in while we work) leads outside
//! the root.

use std::io::Write as _;
use std::path::Path;

/// The OS error a refused symlink gives.
#[cfg(unix)]
pub const ELOOP: i32 = rustix::io::Errno::LOOP.raw_os_error();
#[cfg(not(unix))]
pub const ELOOP: i32 = -1;

/// The directory and file parts of `path`; refuses empty, `.` and `..` parts before any open.
fn split(path: &str) -> std::io::Result<(&str, Vec<&str>)> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\\') || p.contains('\0'))
    {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    match parts.split_last() {
        Some((name, dirs)) => Ok((name, dirs.to_vec())),
        None => Err(std::io::ErrorKind::InvalidInput.into()),
    }
}

/// What [`write_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Whether a file was already there and has been replaced.
    pub replaced: bool,
}

#[cfg(unix)]
mod imp {
    use super::{Written, split};
    use rustix::fd::OwnedFd;
    use rustix::fs::{AtFlags, Mode, OFlags, linkat, mkdirat, openat, renameat, unlinkat};
    use std::io::Write as _;
    use std::path::Path;

    const DIRECTORY: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    fn open_dirs(root: &Path, dirs: &[&str], create: bool) -> std::io::Result<OwnedFd> {
        let mut dir = openat(rustix::fs::CWD, root, DIRECTORY, Mode::empty())?;
        for part in dirs {
            dir = match openat(&dir, *part, DIRECTORY, Mode::empty()) {
                Err(rustix::io::Errno::NOENT) if create => {
                    match mkdirat(&dir, *part, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    openat(&dir, *part, DIRECTORY, Mode::empty())?
                }
                other => other?,
            };
        }
        Ok(dir)
    }

    pub fn open_file(root: &Path, path: &str) -> std::io::Result<std::fs::File> {
        let (name, dirs) = split(path)?;
        let dir = open_dirs(root, &dirs, false)?;
        let fd = openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        let file = std::fs::File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        Ok(file)
    }

    pub fn write_file(
        root: &Path,
        path: &str,
        bytes: &[u8],
        overwrite: bool,
        temp_name: &str,
    ) -> std::io::Result<Written> {
        let (name, dirs) = split(path)?;
        let dir = open_dirs(root, &dirs, true)?;
        let existing = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Some(rustix::fs::FileType::from_raw_mode(stat.st_mode)),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(e.into()),
        };
        match existing {
            Some(rustix::fs::FileType::Symlink) => {
                return Err(std::io::Error::from_raw_os_error(super::ELOOP));
            }
            Some(rustix::fs::FileType::RegularFile) if !overwrite => {
                return Err(std::io::ErrorKind::AlreadyExists.into());
            }
            Some(rustix::fs::FileType::RegularFile) | None => {}
            Some(_) => return Err(std::io::ErrorKind::InvalidInput.into()),
        }
        // A replaced file keeps its permissions (a private note stays private); a new one
        // gets the usual 0644 less the umask.
        let kept_mode = match existing {
            Some(_) => {
                Some(rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mode & 0o7777)
            }
            None => None,
        };
        let fd = openat(
            &dir,
            temp_name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(kept_mode.unwrap_or(0o644)),
        )?;
        if let Some(mode) = kept_mode {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        }
        let mut file = std::fs::File::from(fd);
        let result = file.write_all(bytes).and_then(|()| file.sync_all());
        drop(file);
        let placed = result.and_then(|()| {
            if existing.is_some() {
                renameat(&dir, temp_name, &dir, name).map_err(std::io::Error::from)
            } else {
                // A link fails if something appeared at `name` meanwhile: nothing is replaced
                // that we did not see and were not allowed to replace.
                linkat(&dir, temp_name, &dir, name, AtFlags::empty())
                    .map_err(std::io::Error::from)
                    .map(|()| {
                        let _ = unlinkat(&dir, temp_name, AtFlags::empty());
                    })
            }
        });
        if placed.is_err() {
            let _ = unlinkat(&dir, temp_name, AtFlags::empty());
        }
        placed?;
        let _ = rustix::fs::fsync(&dir);
        Ok(Written {
            replaced: existing.is_some(),
        })
    }

    pub fn remove_file(root: &Path, path: &str) -> std::io::Result<()> {
        let (name, dirs) = split(path)?;
        let dir = open_dirs(root, &dirs, false)?;
        let stat = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        unlinkat(&dir, name, AtFlags::empty())?;
        let _ = rustix::fs::fsync(&dir);
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    use super::{Written, split};
    use std::io::Write as _;
    use std::path::Path;

    /// Elsewhere: open, then check that the file really is under the root.
    pub fn open_file(root: &Path, path: &str) -> std::io::Result<std::fs::File> {
        split(path)?;
        let full = root.join(path);
        if std::fs::symlink_metadata(&full)?.file_type().is_symlink() {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        let real = full.canonicalize()?;
        if !real.starts_with(root.canonicalize()?) {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        std::fs::File::open(real)
    }

    pub fn write_file(
        root: &Path,
        path: &str,
        bytes: &[u8],
        overwrite: bool,
        temp_name: &str,
    ) -> std::io::Result<Written> {
        let (name, dirs) = split(path)?;
        let mut dir = root.to_path_buf();
        for part in dirs {
            dir.push(part);
            if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(std::io::ErrorKind::InvalidInput.into());
            }
            std::fs::create_dir_all(&dir)?;
        }
        if !dir.canonicalize()?.starts_with(root.canonicalize()?) {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        let target = dir.join(name);
        let existing = std::fs::symlink_metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        if existing.is_some() && !overwrite {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        let temp = dir.join(temp_name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, &target)?;
        Ok(Written {
            replaced: existing.is_some(),
        })
    }

    pub fn remove_file(root: &Path, path: &str) -> std::io::Result<()> {
        split(path)?;
        let full = root.join(path);
        if !std::fs::symlink_metadata(&full)?.is_file() {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        if !full.canonicalize()?.starts_with(root.canonicalize()?) {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        std::fs::remove_file(full)
    }
}

/// Opens the regular file at `path` (relative to `root`, `/`-separated) for reading.
pub fn open_file(root: &Path, path: &str) -> std::io::Result<std::fs::File> {
    imp::open_file(root, path)
}

/// Writes `bytes` to `path` under `root`, creating missing directories. The bytes go to a
/// temporary file first and are moved into place whole, so a crash never leaves half a file.
/// An existing file is replaced only when `overwrite` is set (else `AlreadyExists`). A symlinked
/// directory on the way is refused (`NotADirectory`), a symlink at the target too (`ELOOP`), and
/// so is a target that is not a regular file.
pub fn write_file(
    root: &Path,
    path: &str,
    bytes: &[u8],
    overwrite: bool,
    temp_name: &str,
) -> std::io::Result<Written> {
    imp::write_file(root, path, bytes, overwrite, temp_name)
}

/// Removes the regular file at `path` under `root`, opening the directories on the way one
/// component at a time with symlinks refused, as [`write_file`] does: taking back a file we
/// wrote never removes one elsewhere through a directory swapped for a link meanwhile.
pub fn remove_file(root: &Path, path: &str) -> std::io::Result<()> {
    imp::remove_file(root, path)
}

/// Writes `bytes` to a new file at `path`, whole: through a temporary file beside it, synced,
/// renamed, and the directory synced so the name survives a crash too. For the vault's own
/// files (blobs), where no symlink check is needed.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Unique per call: two threads may write the same content-addressed blob at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        sync_dir(path.parent())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Makes the entries of directory `dir` durable (a new file's name, a new subdirectory).
pub fn sync_dir(dir: Option<&Path>) -> std::io::Result<()> {
    match dir {
        #[cfg(unix)]
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replaced file keeps its mode (it was reset to 0644 by the move of a new file).
    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        write_file(root.path(), "private.md", b"one", false, ".t").expect("new");
        let file = root.path().join("private.md");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        write_file(root.path(), "private.md", b"two", true, ".t").expect("replace");
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&file).expect("read"), b"two");
    }

    /// Path escape (TESTING.md recipe 7) for taking a file back: with a directory on the way
    /// swapped for a symlink to a folder outside, the removal is refused and the file outside
    /// stays. The control shows what a plain `remove_file` on the joined path (the export's
    /// undo before) did to the same layout: it removed the file outside.
    #[cfg(unix)]
    #[test]
    fn removal_never_goes_through_a_symlinked_directory() {
        let outside = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("x.md"), "theirs").expect("write");
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).expect("symlink");
        let err = remove_file(root.path(), "out/x.md").expect_err("through a link");
        assert_eq!(err.kind(), std::io::ErrorKind::NotADirectory);
        assert!(
            outside.path().join("x.md").exists(),
            "the file outside stays"
        );
        std::os::unix::fs::symlink(outside.path().join("x.md"), root.path().join("y.md"))
            .expect("symlink");
        assert!(
            remove_file(root.path(), "y.md").is_err(),
            "a symlink is not removed"
        );
        assert!(outside.path().join("x.md").exists());

        std::fs::remove_file(root.path().join("out/x.md")).expect("control");
        assert!(
            !outside.path().join("x.md").exists(),
            "control: the plain removal went outside"
        );

        write_file(root.path(), "mine/z.md", b"z", false, ".t").expect("write");
        remove_file(root.path(), "mine/z.md").expect("remove our own file");
        assert!(!root.path().join("mine/z.md").exists());
    }

    /// Path escape (TESTING.md): climbing paths and symlinked directories are refused, and
    /// nothing is written outside the root.
    #[test]
    fn writes_stay_beneath_the_root() {
        let outside = tempfile::tempdir().expect("tempdir");
        let root = tempfile::tempdir().expect("tempdir");
        for bad in ["../x.md", "a/../../x.md", "/etc/x.md", "a//b.md", "", "a/"] {
            let err = write_file(root.path(), bad, b"x", true, ".t").expect_err(bad);
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path(), root.path().join("link")).expect("symlink");
            let err = write_file(root.path(), "link/x.md", b"x", true, ".t").expect_err("link");
            // O_DIRECTORY | O_NOFOLLOW on a symlink answers "not a directory".
            assert_eq!(err.kind(), std::io::ErrorKind::NotADirectory);
            std::os::unix::fs::symlink(outside.path().join("y.md"), root.path().join("y.md"))
                .expect("symlink");
            let err = write_file(root.path(), "y.md", b"x", true, ".t").expect_err("file link");
            assert_eq!(err.raw_os_error(), Some(ELOOP));
        }
        assert_eq!(
            std::fs::read_dir(outside.path()).expect("read").count(),
            0,
            "nothing was written outside"
        );
    }

    #[test]
    fn existing_files_are_replaced_only_when_asked() {
        let root = tempfile::tempdir().expect("tempdir");
        let first = write_file(root.path(), "out/notes.md", b"one", false, ".t").expect("new");
        assert!(!first.replaced);
        let err = write_file(root.path(), "out/notes.md", b"two", false, ".t").expect_err("kept");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        let read = std::fs::read(root.path().join("out/notes.md")).expect("read");
        assert_eq!(read, b"one");
        let second = write_file(root.path(), "out/notes.md", b"two", true, ".t").expect("replace");
        assert!(second.replaced);
        let read = std::fs::read(root.path().join("out/notes.md")).expect("read");
        assert_eq!(read, b"two");
        let names: Vec<_> = std::fs::read_dir(root.path().join("out"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
    }
}
