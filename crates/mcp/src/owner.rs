//! The vault's owner serving other processes: a Unix socket in the vault that only this OS user
//! can reach, where each connection is an MCP session on the owner's `Atelier`; and the relay
//! `atelier mcp` becomes when another process owns the vault.

use crate::VaultServer;
use atelier_core::Atelier;
use rmcp::ServiceExt;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{UnixListener, UnixStream};

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

/// Relays this process's stdin and stdout to the owner's socket at `path` until either side
/// closes: the host talks to the owner's server as if to this one.
pub async fn relay_stdio(path: &Path) -> io::Result<()> {
    let stream = UnixStream::connect(path).await?;
    let (mut from_owner, mut to_owner) = stream.into_split();
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let up = async {
        tokio::io::copy(&mut stdin, &mut to_owner).await?;
        // The host hung up: tell the owner, then let its last answers through.
        tokio::io::AsyncWriteExt::shutdown(&mut to_owner).await
    };
    let down = async {
        tokio::io::copy(&mut from_owner, &mut stdout).await?;
        tokio::io::AsyncWriteExt::flush(&mut stdout).await
    };
    tokio::pin!(up, down);
    tokio::select! {
        // The owner went away: the session is over for this host.
        result = &mut down => result,
        result = &mut up => {
            result?;
            down.await
        }
    }
}
