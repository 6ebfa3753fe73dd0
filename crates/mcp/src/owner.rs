//! The vault's owner serving other processes: a Unix socket in the vault that only this OS user
//! can reach, where each connection is an MCP session on the owner's `Atelier` (the sidecar,
//! [`crate::sidecar`], relays to it when another process owns the vault).

use crate::VaultServer;
use atelier_core::Atelier;
use rmcp::ServiceExt;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::UnixListener;

/// The socket's name in the vault directory.
pub const SOCKET: &str = "atelier.sock";

/// The socket of the vault at `vault`.
pub fn socket_path(vault: &Path) -> PathBuf {
    vault.join(SOCKET)
}

/// Removes the socket when the owner stops serving.
#[derive(Debug)]
struct Unlink(PathBuf);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves `atelier` (whose lock this process holds) on the vault's socket until the returned
/// future is dropped. A connection from another OS user is closed unanswered.
pub async fn serve_owner(atelier: Arc<Atelier>, vault: &Path) -> io::Result<()> {
    let path = socket_path(vault);
    // This process holds the vault's lock, so a socket already there is one a dead owner left.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    let _unlink = Unlink(path.clone());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let owner_uid = std::fs::metadata(&path)?.uid();
    loop {
        let (stream, _) = listener.accept().await?;
        let same_user = stream.peer_cred().is_ok_and(|peer| peer.uid() == owner_uid);
        if !same_user {
            continue;
        }
        let server = VaultServer::new(Arc::clone(&atelier));
        tokio::spawn(async move {
            if let Ok(running) = server.serve(stream).await {
                let _ = running.waiting().await;
            }
        });
    }
}
