//! Atelier's desktop app: Tauri commands that wrap the core's api one-to-one, the events that
//! keep windows in sync, and the typed bindings the React workbench calls.

mod commands;
mod docs;
mod error;
mod events;
mod feed;
mod runs;
mod socket;
mod vault;
mod windows;

pub use error::CommandError;
pub use events::{
    AssetsChanged, GrantsChanged, IngestProgressed, ProjectsChanged, RunProgressed, TasksChanged,
};
pub use vault::AppVault;

use std::path::PathBuf;
use tauri_specta::{collect_commands, collect_events};

include!("command_names.rs");

/// Every command name, as the capability file grants them (`allow-<name>` with dashes).
pub fn command_names() -> &'static [&'static str] {
    COMMAND_NAMES
}

/// The typed command and event surface; the app mounts it and a test exports it to
/// `ui/src/bindings.ts`.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::vault_status,
            commands::vault_retry,
            commands::vault_init,
            commands::window_open,
            commands::task_create,
            commands::task_edit,
            commands::task_move,
            commands::task_dependency_add,
            commands::task_dependency_remove,
            commands::task_transition,
            commands::task_show,
            commands::task_tree,
            commands::task_plan,
            commands::task_next,
            commands::orchestrate,
            commands::orchestrations_list,
            commands::orchestration_stop,
            commands::role_list,
            commands::canon_create,
            commands::canon_edit,
            commands::canon_list,
            commands::shape_create,
            commands::shape_edit,
            commands::shape_list,
            commands::audit_tail,
            commands::audit_verify,
            commands::grant_add,
            commands::grant_list,
            commands::grant_revoke,
            docs::project_add,
            docs::project_list,
            docs::project_remove,
            docs::project_watch,
            docs::project_pick_folder,
            docs::ingest,
            docs::search,
            docs::document_show,
            docs::document_preview,
            docs::document_open,
            docs::related,
            docs::hook_add,
            docs::hook_list,
            docs::hook_remove,
            runs::plays_list,
            runs::run_preview,
            runs::run_play,
            runs::run_cancel,
            runs::runs_list,
            runs::run_show,
            runs::assets_list,
            runs::asset_show,
            runs::asset_bank,
            runs::asset_review,
            runs::asset_promote,
            runs::asset_export,
            runs::asset_lineage,
            runs::assets_from,
            runs::keys_list,
            runs::key_set,
            runs::key_remove,
            runs::key_test,
            runs::providers_list,
            runs::provider_add,
            runs::provider_remove,
            runs::provider_test,
            runs::routes_list,
            runs::route_set,
            runs::halt,
            runs::resume,
        ])
        .events(collect_events![
            TasksChanged,
            ProjectsChanged,
            IngestProgressed,
            RunProgressed,
            AssetsChanged,
            GrantsChanged
        ])
        // Ids are SQLite row ids and times are milliseconds since the epoch: both stay far
        // below 2^53, so a JavaScript number holds them exactly.
        .dangerously_cast_bigints_to_number()
}

/// Runs the app on the vault at `vault_dir` until its last window closes.
pub fn run(vault_dir: PathBuf) -> tauri::Result<()> {
    let builder = specta_builder();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(AppVault::open(vault_dir))
        .manage(docs::Watchers::default())
        .manage(socket::Serving::default())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            docs::start_watching(app.handle());
            socket::serve_if_open(app.handle());
            feed::follow(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!())
}
