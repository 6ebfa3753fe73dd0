//! Cross-crate test support: finding the `atelier` binary that `cargo test --workspace` built.

use std::path::PathBuf;

/// The `atelier` binary: `$ATELIER_BIN`, else the one beside this test executable's `deps/`.
pub fn atelier_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ATELIER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let bin = profile_dir.join(format!("atelier{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the atelier binary is not built at {}; run `cargo test --workspace` (or set ATELIER_BIN)",
        bin.display()
    );
    bin
}
