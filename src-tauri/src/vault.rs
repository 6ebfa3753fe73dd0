//! The vault the app owns: one [`Atelier`] handle, replaced when the user retries a busy vault
//! or creates a missing one.

use atelier_core::access::auth::Principal;
use atelier_core::api::{InitReport, Status};
use atelier_core::clock::SystemClock;
use atelier_core::{Atelier, OpenOptions, Result};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

/// The app's vault. Commands take a snapshot of the handle, so a retry never waits on them.
#[derive(Debug)]
pub struct AppVault {
    dir: PathBuf,
    current: RwLock<Arc<Atelier>>,
}

impl AppVault {
    /// Opens (or seals) the vault at `dir`; never fails, like [`Atelier::open`].
    pub fn open(dir: PathBuf) -> Self {
        let current = RwLock::new(Arc::new(Atelier::open(OpenOptions::new(&dir))));
        AppVault { dir, current }
    }

    /// Runs `command` as the owner: the desktop user holds every capability.
    pub fn as_owner<T>(
        &self,
        command: impl FnOnce(&Atelier, &Principal) -> Result<T>,
    ) -> Result<T> {
        command(&self.handle(), &Principal::Owner)
    }

    /// The vault's state, answered even when sealed.
    pub fn status(&self) -> Status {
        self.handle().status()
    }

    /// Opens the vault again if it is sealed (another process held it, say); an open vault is
    /// kept as it is.
    pub fn retry(&self) -> Status {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.status().sealed.is_some() {
            *current = Arc::new(Atelier::open(OpenOptions::new(&self.dir)));
        }
        current.status()
    }

    /// Creates the vault where none exists yet, then opens it.
    pub fn init(&self) -> Result<InitReport> {
        let report = Atelier::init(&self.dir, &SystemClock, false)?;
        self.retry();
        Ok(report)
    }

    /// The vault directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The current handle, for work that runs on another thread.
    pub fn handle(&self) -> Arc<Atelier> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Runs `command` as the owner on a blocking thread, for calls that may take a while (the
/// core's calls are synchronous; the async runtime's threads must stay free).
pub(crate) async fn blocking<T: Send + 'static>(
    vault: &AppVault,
    command: impl FnOnce(&Atelier, &Principal) -> Result<T> + Send + 'static,
) -> Result<T> {
    let atelier = vault.handle();
    tauri::async_runtime::spawn_blocking(move || command(&atelier, &Principal::Owner))
        .await
        .unwrap_or_else(|e| {
            Err(atelier_core::Error::Io {
                message: format!("the command stopped: {e}"),
            })
        })
}
