//! The vault's owner serving other processes on the vault's socket
//! ([`atelier_core::remote`]): a connection is either one api call (the CLI while another
//! process holds the vault) or an MCP session on the owner's `Atelier` (the sidecar,
//! [`crate::sidecar`], relaying a chat host).

use crate::VaultServer;
use atelier_core::Atelier;
pub use atelier_core::remote::socket_path;
use atelier_core::remote::{Call, answer_call};
use rmcp::ServiceExt;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Removes the vault's socket when dropped: when the owner stops serving, or when a command that
/// served it from a background thread ends (that thread does not outlive the process, so its
/// own guard never runs).
#[derive(Debug)]
pub struct Unlink(pub PathBuf);

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
        tokio::spawn(serve_connection(Arc::clone(&atelier), stream));
    }
}

/// Reads a connection's first line and serves what it asks for: one api call, answered on a
/// blocking thread (calls are synchronous and may run long), or an MCP session that begins
/// with that line.
async fn serve_connection(atelier: Arc<Atelier>, stream: UnixStream) {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    match reader.read_line(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
    }
    if let Some(call) = Call::parse(&first) {
        // A caller sends its one line and waits, so nothing else sits in the buffer.
        let Ok(stream) = reader.into_inner().into_std() else {
            return;
        };
        if stream.set_nonblocking(false).is_ok() {
            let _ = tokio::task::spawn_blocking(move || answer_call(&atelier, call, stream)).await;
        }
        return;
    }
    let (read, write) = tokio::io::split(reader);
    let session = tokio::io::join(io::Cursor::new(first.into_bytes()).chain(read), write);
    if let Ok(running) = VaultServer::new(atelier).serve(session).await {
        let _ = running.waiting().await;
    }
}
