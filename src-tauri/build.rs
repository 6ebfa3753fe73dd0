//! Generates Tauri's context and one `allow-<command>` permission per desktop command, so the
//! capability file can grant exactly our commands and nothing else.

include!("src/command_names.rs");

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMAND_NAMES);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .unwrap_or_else(|err| panic!("tauri-build failed: {err:#}"));
}
