//! The app as the vault's owner: while its vault is open, chat hosts reach it through the
//! vault's socket (`atelier mcp` relays to it), as they would through `atelier serve`, and its
//! workers run the scheduler's jobs.

use crate::vault::AppVault;
use atelier_core::orchestration::workers::Workers;
use std::sync::Mutex;
use tauri::{AppHandle, Manager};

/// Whether this app serves its vault's socket already, and its scheduler workers.
#[derive(Debug, Default)]
pub struct Serving(Mutex<bool>, Mutex<Option<Workers>>);

/// Starts serving the vault's socket if the vault is open and it is not served yet; called at
/// start-up and whenever the vault may have opened (retry, create).
pub fn serve_if_open(app: &AppHandle) {
    let vault = app.state::<AppVault>();
    let atelier = vault.handle();
    if atelier.status().sealed.is_some() {
        return;
    }
    let serving = app.state::<Serving>();
    let mut started = serving
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if *started {
        return;
    }
    *started = true;
    // The owner runs the scheduler's jobs, whoever started them (the UI, the CLI, a host).
    *serving
        .1
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Workers::start(
        std::sync::Arc::clone(&atelier),
        atelier.concurrency(),
        std::sync::Arc::new(|_| {}),
    ));
    let dir = vault.dir().to_path_buf();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = atelier_mcp::owner::serve_owner(atelier, &dir).await {
            // The app works without it; hosts then see the vault as busy.
            tracing::error!(error = %e, "the vault's socket could not be served");
            *app.state::<Serving>()
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
        }
    });
}
