//! The vault's socket: how a process that does not hold the vault reaches the one that does.
//!
//! The owner (the desktop app, `atelier serve`, or an `atelier mcp` that opened the vault)
//! listens on `<vault>/atelier.sock`, a Unix socket only its OS user can open (mode 0600, and
//! the owner checks the peer's uid). A connection's first line ([`Opening`]) says what it is:
//!
//! - `{"session": "mcp"}`: an MCP session follows (the sidecar relaying a chat host). The
//!   session's principal is `mcp:<clientInfo.name>`, decided by the MCP server from the
//!   session's `initialize`; nothing on the connection can name another principal, and no api
//!   call is accepted on it. The sidecar writes this line itself before any byte of the host's,
//!   so a host cannot choose what its connection is.
//! - `{"call": METHOD, "as": PRINCIPAL, "params": {…}}`: one api call (the CLI). The owner
//!   answers with lines `{"progress": …}` while it runs and one `{"answer": …}` or
//!   `{"error": …}` at the end, then closes. The principal is taken as sent: only the same OS
//!   user can connect, and that user could open the vault directly (as `owner`) when no one
//!   holds it, so claiming one here gives nothing that user lacks.
//!
//! Any other first line is refused with an `{"error": …}` line and the connection closed.

use crate::access::auth::Principal;
use crate::api::Status;
use crate::api::wire::{self, Api, Progress};
use crate::error::{Error, Result, SealReason};
use crate::vault::Atelier;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The socket's name in the vault directory.
pub const SOCKET: &str = "atelier.sock";

/// The socket of the vault at `vault`.
pub fn socket_path(vault: &Path) -> PathBuf {
    vault.join(SOCKET)
}

/// The first line of an MCP session on the socket, written by the sidecar before any byte of
/// the host's.
pub const MCP_SESSION: &str = r#"{"session":"mcp"}"#;

/// What a connection is, as its first line says.
#[derive(Debug)]
pub enum Opening {
    /// One api call.
    Call(Call),
    /// An MCP session: every following line is the host's, relayed.
    McpSession,
}

/// The session line's shape: exactly `{"session": "mcp"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionLine {
    session: SessionKind,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SessionKind {
    Mcp,
}

impl Opening {
    /// What a connection's first line opens, or `None` when it is neither an api call nor the
    /// session line (a bare JSON-RPC message included: the sidecar always says it is one).
    pub fn parse(line: &str) -> Option<Opening> {
        if let Ok(SessionLine {
            session: SessionKind::Mcp,
        }) = serde_json::from_str::<SessionLine>(line)
        {
            return Some(Opening::McpSession);
        }
        serde_json::from_str::<Call>(line).ok().map(Opening::Call)
    }
}

/// The line the owner sends before closing a connection whose first line opened nothing.
pub fn refusal_line() -> String {
    let error = Error::invalid(
        "connection",
        "the first line must be an api call or the MCP session line",
    );
    serde_json::to_string(&Reply::Error(error)).unwrap_or_default()
}

/// One api call as it crosses the socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The [`Api`] method's name.
    pub call: String,
    /// Who is asking.
    #[serde(rename = "as")]
    pub who: Principal,
    /// Its arguments by name.
    pub params: Value,
}

/// One line of the owner's reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    /// Reported while the call runs.
    Progress(Progress),
    /// The call's answer; the last line.
    Answer(Value),
    /// Why the call failed; the last line.
    Error(Error),
}

/// Answers `call` on `atelier` over `stream` (whose first line it was), then closes it. When the
/// caller goes away, a call that runs until told (`watch`) stops.
pub fn answer_call(atelier: &Atelier, call: Call, stream: UnixStream) {
    let stop = Arc::new(AtomicBool::new(false));
    // The caller writes nothing after its call, so the end of its input means it went away.
    if let Ok(mut input) = stream.try_clone() {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = input.read_to_end(&mut rest);
            stop.store(true, Ordering::Relaxed);
        });
    }
    let mut output = &stream;
    let mut send = |reply: &Reply| -> bool {
        serde_json::to_string(reply).is_ok_and(|text| {
            writeln!(output, "{text}")
                .and_then(|()| output.flush())
                .is_ok()
        })
    };
    let answered = wire::answer(
        atelier,
        &call.who,
        &call.call,
        call.params,
        &mut |progress| {
            if !send(&Reply::Progress(progress)) {
                stop.store(true, Ordering::Relaxed);
            }
        },
        &stop,
    );
    let _ = send(&match answered {
        Ok(value) => Reply::Answer(value),
        Err(error) => Reply::Error(error),
    });
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// The vault's owner, reached through its socket.
#[derive(Debug, Clone)]
pub struct Remote {
    vault: PathBuf,
}

impl Remote {
    /// The owner of the vault at `vault`, when one answers on its socket now.
    pub fn reach(vault: &Path) -> Option<Remote> {
        UnixStream::connect(socket_path(vault)).ok()?;
        Some(Remote {
            vault: vault.to_path_buf(),
        })
    }
}

impl Api for Remote {
    fn call(
        &self,
        who: &Principal,
        method: &str,
        params: Value,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Value> {
        let mut stream =
            UnixStream::connect(socket_path(&self.vault)).map_err(|_| Error::OwnerGone)?;
        let call = Call {
            call: method.to_owned(),
            who: who.clone(),
            params,
        };
        let text = serde_json::to_string(&call).map_err(|e| Error::Io {
            message: format!("a call could not be encoded: {e}"),
        })?;
        writeln!(stream, "{text}").map_err(|_| Error::OwnerGone)?;
        for line in BufReader::new(&stream).lines() {
            let line = line.map_err(|_| Error::OwnerGone)?;
            match serde_json::from_str::<Reply>(&line) {
                Ok(Reply::Progress(p)) => progress(p),
                Ok(Reply::Answer(value)) => return Ok(value),
                Ok(Reply::Error(error)) => return Err(error),
                Err(e) => return Err(wire::unreadable(&e)),
            }
        }
        Err(Error::OwnerGone)
    }

    fn status(&self) -> Status {
        self.call(&Principal::Owner, "status", Value::Null, &mut |_| {})
            .and_then(wire::decode)
            .unwrap_or_else(|_| {
                Status::sealed(
                    self.vault.display().to_string(),
                    SealReason::VaultBusy { pid: None },
                )
            })
    }
}
