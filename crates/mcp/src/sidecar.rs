//! `atelier mcp` as a host sees it: one MCP session on the vault, whoever owns the vault.
//!
//! The sidecar owns the vault when it can (serving it in process, and on the vault's socket
//! for other sidecars); when the desktop app or `atelier serve` owns it, it relays the host's
//! lines to the owner's socket. When that owner exits, the sidecar takes over: it opens the
//! vault itself (or reaches whichever sidecar did), replays the host's `initialize` to the new
//! server, drops that answer, and goes on. A request in flight at that moment gets no answer.
//!
//! Every connection the sidecar opens to an owner starts with the session line
//! ([`atelier_core::remote::MCP_SESSION`]), written before any of the host's bytes, so the
//! owner treats it as an MCP session whatever the host sends. Only JSON-RPC messages of at most
//! [`MAX_LINE`] bytes are passed on; anything else is answered here with a JSON-RPC error.

use crate::VaultServer;
use crate::lines::{BoundedLines, Line, MAX_LINE};
use crate::owner::{serve_owner, socket_path};
use atelier_core::remote::MCP_SESSION;
use atelier_core::{Atelier, OpenOptions, SealReason};
use rmcp::ServiceExt;
use serde_json::Value;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long a sidecar whose owner went away tries to own the vault or reach its new owner.
const TAKEOVER: Duration = Duration::from_secs(15);

/// Why the sidecar cannot serve the host.
#[derive(Debug)]
pub enum SidecarError {
    /// The vault is sealed for a reason other than another owner (missing, damaged, …).
    Sealed(String),
    /// Reading or writing a stream failed.
    Io(io::Error),
}

impl std::fmt::Display for SidecarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SidecarError::Sealed(message) => write!(f, "{message}"),
            SidecarError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for SidecarError {
    fn from(e: io::Error) -> Self {
        SidecarError::Io(e)
    }
}

/// Who answers the host now.
enum Backend {
    /// This process: the vault is ours.
    Owned(Arc<Atelier>),
    /// Another process, through the vault's socket.
    Relayed(UnixStream),
}

/// The host's end: its lines, what must be replayed to a new server, and the requests the
/// current server has not answered yet.
struct Host<R> {
    lines: BoundedLines<BufReader<R>>,
    initialize: Option<String>,
    initialized: Option<String>,
    waiting: Vec<Value>,
}

/// How a stretch of the session ended.
enum Ended {
    /// The host closed its input: the session is over.
    Host,
    /// The server went away (its owner exited): take over and go on.
    Server,
}

/// Serves the host on this process's stdin and stdout, for the vault at `dir`.
pub async fn run(dir: &Path) -> Result<(), SidecarError> {
    let mut host = Host {
        lines: BoundedLines::new(BufReader::new(tokio::io::stdin()), MAX_LINE),
        initialize: None,
        initialized: None,
        waiting: Vec::new(),
    };
    let mut stdout = tokio::io::stdout();
    let mut replay = false;
    loop {
        let backend = reach(dir, if replay { TAKEOVER } else { Duration::ZERO }).await?;
        let ended = match backend {
            Backend::Relayed(stream) => pump(&mut host, stream, &mut stdout, replay).await?,
            Backend::Owned(atelier) => {
                // Owning the vault, this process runs the scheduler's jobs (`tasks_run`).
                let _workers = atelier_core::orchestration::workers::Workers::start(
                    Arc::clone(&atelier),
                    atelier.concurrency(),
                    Arc::new(|_| {}),
                );
                // Other sidecars (and the CLI, later) reach the vault through this one now.
                let socket = tokio::spawn({
                    let atelier = Arc::clone(&atelier);
                    let dir = dir.to_path_buf();
                    async move { serve_owner(atelier, &dir).await }
                });
                let (ours, theirs) = tokio::io::duplex(1 << 20);
                let server = VaultServer::new(atelier);
                tokio::spawn(async move {
                    if let Ok(running) = server.serve(theirs).await {
                        let _ = running.waiting().await;
                    }
                });
                let ended = pump(&mut host, ours, &mut stdout, replay).await;
                socket.abort();
                ended?;
                return Ok(());
            }
        };
        match ended {
            Ended::Host => return Ok(()),
            Ended::Server => {
                // What the old owner never answered is answered now, as an error the host can
                // act on; sending it again could do a change twice.
                for id in host.waiting.drain(..) {
                    let gone = serde_json::json!({
                        "jsonrpc": "2.0",
                        "id": id,
                        "error": {
                            "code": crate::refusal::UNAVAILABLE.0,
                            "message": "the vault's owner exited before answering; ask again",
                            "data": { "code": "OWNER_GONE" },
                        },
                    });
                    stdout.write_all(line(&gone.to_string()).as_bytes()).await?;
                }
                stdout.flush().await?;
                replay = true;
            }
        }
    }
}

/// Owns the vault at `dir`, or reaches its owner; retries for up to `patience` while neither
/// works (an owner exiting, another sidecar taking over).
async fn reach(dir: &Path, patience: Duration) -> Result<Backend, SidecarError> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let opened = {
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || {
                Atelier::open(OpenOptions::new(dir).with_lazy_projections())
            })
            .await
            .map_err(io::Error::other)?
        };
        match opened.seal_reason() {
            None => return Ok(Backend::Owned(Arc::new(opened))),
            Some(SealReason::VaultBusy { .. }) => {
                drop(opened);
                if let Ok(mut stream) = UnixStream::connect(socket_path(dir)).await
                    && stream
                        .write_all(format!("{MCP_SESSION}\n").as_bytes())
                        .await
                        .is_ok()
                {
                    return Ok(Backend::Relayed(stream));
                }
            }
            Some(_) => {
                return Err(SidecarError::Sealed(
                    opened.status().sealed_message.unwrap_or_default(),
                ));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SidecarError::Sealed(
                "another process holds the vault and does not serve it (no answer on its socket)"
                    .to_owned(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Carries lines both ways between the host and `server` until one side closes. With
/// `replay`, the host's `initialize` (whose answer is dropped) and `initialized` go first.
async fn pump<R, S, W>(
    host: &mut Host<R>,
    server: S,
    stdout: &mut W,
    replay: bool,
) -> Result<Ended, SidecarError>
where
    R: AsyncRead + Unpin,
    S: AsyncRead + AsyncWrite,
    W: AsyncWrite + Unpin,
{
    let (from_server, mut to_server) = tokio::io::split(server);
    let mut server_lines = BoundedLines::new(BufReader::new(from_server), MAX_LINE);
    let mut drop_answer_to: Option<Value> = None;
    if replay && let Some(initialize) = &host.initialize {
        drop_answer_to = id_of(initialize);
        to_server.write_all(line(initialize).as_bytes()).await?;
        if let Some(initialized) = &host.initialized {
            to_server.write_all(line(initialized).as_bytes()).await?;
        }
    }
    loop {
        tokio::select! {
            from_host = host.lines.next_line() => match from_host? {
                Some(Line::Text(text)) => {
                    if let Some(refusal) = not_json_rpc(&text) {
                        stdout.write_all(line(&refusal.to_string()).as_bytes()).await?;
                        stdout.flush().await?;
                        continue;
                    }
                    host.remember(&text);
                    if to_server.write_all(line(&text).as_bytes()).await.is_err() {
                        return Ok(Ended::Server);
                    }
                }
                Some(Line::TooLong) => {
                    let refusal = invalid_request(
                        Value::Null,
                        &format!("a message is longer than {MAX_LINE} bytes"),
                    );
                    stdout.write_all(line(&refusal.to_string()).as_bytes()).await?;
                    stdout.flush().await?;
                }
                None => {
                    // The host is done: let the server answer what it was asked, then stop.
                    let _ = to_server.shutdown().await;
                    while let Ok(Some(Line::Text(text))) = server_lines.next_line().await {
                        stdout.write_all(line(&text).as_bytes()).await?;
                    }
                    stdout.flush().await?;
                    return Ok(Ended::Host);
                }
            },
            from_server = server_lines.next_line() => match from_server {
                Ok(Some(Line::TooLong)) => return Ok(Ended::Server),
                Ok(Some(Line::Text(text))) => {
                    let id = id_of(&text);
                    if drop_answer_to.is_some() && id == drop_answer_to {
                        drop_answer_to = None;
                        continue;
                    }
                    if let Some(id) = id {
                        host.waiting.retain(|w| *w != id);
                    }
                    stdout.write_all(line(&text).as_bytes()).await?;
                    stdout.flush().await?;
                }
                Ok(None) | Err(_) => return Ok(Ended::Server),
            },
        }
    }
}

impl<R> Host<R> {
    /// Keeps what a new server must hear again (the `initialize` request and `initialized`),
    /// and notes a request as waiting for its answer.
    fn remember(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if let (Some(_), Some(id)) = (message.get("method"), message.get("id")) {
            self.waiting.push(id.clone());
        }
        match message.get("method").and_then(Value::as_str) {
            Some("initialize") => self.initialize = Some(text.to_owned()),
            Some("notifications/initialized") => self.initialized = Some(text.to_owned()),
            _ => {}
        }
    }
}

/// The JSON-RPC error a host line gets when it is not a JSON-RPC 2.0 message (a request, a
/// notification or a response, one object or a batch of them); `None` when it is one.
fn not_json_rpc(text: &str) -> Option<Value> {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return Some(invalid_request(Value::Null, "a message is not JSON"));
    };
    let is_message = |m: &Value| m.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let valid = match &message {
        Value::Array(batch) => !batch.is_empty() && batch.iter().all(is_message),
        single => is_message(single),
    };
    if valid {
        return None;
    }
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    Some(invalid_request(id, "a message is not JSON-RPC 2.0"))
}

/// A JSON-RPC "Invalid Request" error answering `id`.
fn invalid_request(id: Value, message: &str) -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": -32600,
            "message": message,
            "data": { "code": "INVALID_REQUEST" },
        },
    })
}

fn id_of(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|m| m.get("id").cloned())
}

fn line(text: &str) -> String {
    format!("{text}\n")
}
