//! The vault's owner serving other processes on the vault's socket
//! ([`atelier_core::remote`]): a connection is either one api call (the CLI while another
//! process holds the vault) or, after the session line the sidecar ([`crate::sidecar`]) writes
//! first, an MCP session on the owner's `Atelier` whose principal comes from its `initialize`.
//!
//! The server outlives its peers' mistakes: an accept error (out of file descriptors, say)
//! waits and goes on, at most [`MAX_CONNECTIONS`] are served at once (the rest wait in the
//! kernel's backlog), a connection that says nothing for [`FIRST_LINE_WAIT`] is closed, and no
//! line is read past [`MAX_LINE`].

use crate::VaultServer;
use crate::lines::{BoundedLines, Line, MAX_LINE};
use atelier_core::Atelier;
pub use atelier_core::remote::socket_path;
use atelier_core::remote::{Opening, answer_call, refusal_line};
use rmcp::ServiceExt;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Connections served at once: sidecars, CLI calls and a running `watch` each hold one.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a new connection may take to send its first line.
pub const FIRST_LINE_WAIT: Duration = Duration::from_secs(10);

/// The longest wait after a failed accept; the first is [`ACCEPT_BACKOFF_START`].
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(2);
const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(50);

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
/// future is dropped. A connection from another OS user is closed unanswered. Only binding the
/// socket can fail; once it listens, it keeps listening.
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
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = ACCEPT_BACKOFF_START;
    loop {
        // A slot first: while every slot is taken, new peers wait in the backlog instead of
        // holding a file descriptor each.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return Ok(());
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = ACCEPT_BACKOFF_START;
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection on the vault's socket failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let same_user = stream.peer_cred().is_ok_and(|peer| peer.uid() == owner_uid);
        if !same_user {
            continue;
        }
        let atelier = Arc::clone(&atelier);
        tokio::spawn(async move {
            serve_connection(atelier, stream).await;
            drop(slot);
        });
    }
}

/// Reads a connection's first line and serves what it opens: one api call, answered on a
/// blocking thread (calls are synchronous and may run long), or an MCP session on the lines
/// after it. Anything else is refused with one error line.
async fn serve_connection(atelier: Arc<Atelier>, stream: UnixStream) {
    let mut lines = BoundedLines::new(BufReader::new(stream), MAX_LINE);
    let first = tokio::time::timeout(FIRST_LINE_WAIT, lines.next_line()).await;
    let reader = lines.into_inner();
    let first = match first {
        Ok(Ok(Some(Line::Text(text)))) => text,
        Ok(Ok(Some(Line::TooLong))) => {
            refuse(reader).await;
            return;
        }
        Ok(Ok(None) | Err(_)) | Err(_) => return,
    };
    match Opening::parse(&first) {
        Some(Opening::Call(call)) => {
            // A caller sends its one line and waits, so nothing else sits in the buffer.
            let Ok(stream) = reader.into_inner().into_std() else {
                return;
            };
            if stream.set_nonblocking(false).is_ok() {
                let _ =
                    tokio::task::spawn_blocking(move || answer_call(&atelier, call, stream)).await;
            }
        }
        Some(Opening::McpSession) => {
            if let Ok(running) = VaultServer::new(atelier).serve(reader).await {
                let _ = running.waiting().await;
            }
        }
        None => refuse(reader).await,
    }
}

async fn refuse(reader: BufReader<UnixStream>) {
    let mut stream = reader.into_inner();
    let _ = stream
        .write_all(format!("{}\n", refusal_line()).as_bytes())
        .await;
    let _ = stream.shutdown().await;
}
