//! Events the backend sends to every window.

use serde::{Deserialize, Serialize};

/// Some task changed (created, edited, moved, re-linked or transitioned): refetch the tasks.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct TasksChanged {}
