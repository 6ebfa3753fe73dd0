//! Events the backend sends to every window.

use crate::error::Answer;
use serde::{Deserialize, Serialize};
use tauri::AppHandle;

/// Some task changed (created, edited, moved, re-linked or transitioned): refetch the tasks.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct TasksChanged {}

/// Projects changed (added, removed, watched, ingested): refetch the project list.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct ProjectsChanged {}

/// How far an ingest is, sent while it runs (also for ingests the watcher starts).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct IngestProgressed {
    /// The progress.
    pub progress: atelier_core::api::IngestProgress,
}

/// What a run is doing, sent while it runs: started, each step's model, streamed text, retries,
/// gate results, banking, the end.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct RunProgressed {
    /// The run's event.
    pub event: atelier_core::api::RunEvent,
}

/// Assets changed (banked, reviewed, promoted) or runs ended: refetch the runs and assets.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct AssetsChanged {}

/// Grants changed (given, revoked), here or from a terminal: refetch the grants.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct GrantsChanged {}

/// Sends `event` to every window after a successful change and passes the answer on. A window
/// that misses it shows correct data on its next refresh, so a failed emit is not the
/// command's failure.
pub fn announce<E: tauri_specta::Event + Serialize + Clone, T>(
    app: &AppHandle,
    event: E,
    answer: atelier_core::Result<T>,
) -> Answer<T> {
    let value = answer?;
    let _ = event.emit(app);
    Ok(value)
}
