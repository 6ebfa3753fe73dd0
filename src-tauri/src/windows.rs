//! Workbench windows: the main one from the config, and more on request, labelled `main-<n>` so
//! the capability file covers them.

use std::sync::atomic::{AtomicU32, Ordering};
use tauri::{AppHandle, WebviewUrl, WebviewWindowBuilder};

static OPENED: AtomicU32 = AtomicU32::new(1);

/// Opens another workbench window and returns its label.
pub fn open_another(app: &AppHandle) -> tauri::Result<String> {
    let label = format!("main-{}", OPENED.fetch_add(1, Ordering::Relaxed) + 1);
    WebviewWindowBuilder::new(app, &label, WebviewUrl::App("index.html".into()))
        .title("Atelier")
        .inner_size(1100.0, 760.0)
        .min_inner_size(480.0, 360.0)
        .build()?;
    Ok(label)
}
