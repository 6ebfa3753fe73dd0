//! `atelier mcp`: the stdio sidecar a chat host starts (stdout carries protocol bytes only, so
//! every word for people, errors included, even with `--json`, goes to stderr), and
//! `atelier mcp install`, which points a host at it.

use crate::args::McpHost;
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::clock::Clock;
use atelier_core::{Atelier, Error, OpenOptions, vault};
use std::path::Path;
use std::sync::Arc;

/// Serves a chat host on stdin/stdout: owning the vault at `dir` when it can, relaying to its
/// owner when the app or `atelier serve` holds it, taking over when that owner exits.
pub fn serve(dir: &Path) -> Result<(), Failure> {
    runtime()?
        .block_on(atelier_mcp::sidecar::run(dir))
        .map_err(|e| match e {
            atelier_mcp::sidecar::SidecarError::Sealed(message) => {
                render::error(&format!(
                    "error[NOT_READY]: atelier mcp cannot serve the vault at {}: {message}",
                    dir.display()
                ));
                Failure::Unavailable
            }
            atelier_mcp::sidecar::SidecarError::Io(e) => {
                render::error(&format!("error[IO]: the MCP session ended: {e}"));
                Failure::Internal
            }
        })
}

/// `atelier serve`: owns the vault at `dir`, serves it on its socket and runs the scheduler's
/// jobs until Ctrl-C.
pub fn own(dir: &Path) -> Result<(), Failure> {
    let atelier = Atelier::open(OpenOptions::new(dir.to_path_buf()));
    if let Some(message) = atelier.status().sealed_message {
        render::error(&format!(
            "error[NOT_READY]: cannot serve the vault at {}: {message}",
            dir.display()
        ));
        return Err(Failure::Unavailable);
    }
    let socket = atelier_mcp::owner::socket_path(dir);
    render::error(&format!(
        "Serving the vault at {} on {} (Ctrl-C stops).",
        dir.display(),
        socket.display()
    ));
    let atelier = Arc::new(atelier);
    // The owner runs the scheduler's jobs, whoever started them (the CLI, a chat host).
    let _workers = atelier_core::orchestration::workers::Workers::start(
        Arc::clone(&atelier),
        atelier.concurrency(),
        Arc::new(|_| {}),
    );
    runtime()?.block_on(async {
        tokio::select! {
            served = atelier_mcp::owner::serve_owner(Arc::clone(&atelier), dir) => served.map_err(|e| {
                render::error(&format!("error[IO]: the vault's socket failed: {e}"));
                Failure::Internal
            }),
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = terminated() => Ok(()),
        }
    })
}

/// Resolves when this process is asked to stop with SIGTERM (what a service manager, or a
/// test harness whose children ignore SIGINT, sends); never when that cannot be listened for.
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// Serves the vault's socket from a background thread while this process holds the vault for a
/// long command; the socket goes when the returned guard does. Serving is a courtesy to other
/// processes: when it cannot start, the command runs anyway and they see the vault as busy.
pub fn serve_meanwhile(atelier: Arc<Atelier>, dir: &Path) -> atelier_mcp::owner::Unlink {
    let vault = dir.to_path_buf();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let _ = runtime.block_on(atelier_mcp::owner::serve_owner(atelier, &vault));
    });
    atelier_mcp::owner::Unlink(atelier_mcp::owner::socket_path(dir))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            render::error(&format!(
                "error[IO]: cannot start the server's runtime: {e}"
            ));
            Failure::Internal
        })
}

/// What `atelier mcp install` did.
#[derive(Debug, serde::Serialize)]
struct Installed {
    host: &'static str,
    #[serde(skip)]
    title: &'static str,
    file: String,
    changed: bool,
    written: bool,
    backup: Option<String>,
    /// The file as it is (or, in a dry run, would be) afterwards.
    text: Option<String>,
}

/// Adds Atelier to `host`'s MCP servers, pointing at this binary (and `vault`, when named).
pub fn install(
    out: &Out,
    host: McpHost,
    dry_run: bool,
    vault: Option<&Path>,
) -> Result<(), Failure> {
    use atelier_mcp::install::{self, Entry, Host, Os};
    let host = match host {
        McpHost::ClaudeDesktop => Host::ClaudeDesktop,
        McpHost::Cursor => Host::Cursor,
        McpHost::ClaudeCode => Host::ClaudeCode,
    };
    let Some(file) = install::config_path(host, Os::current(), &vault::process_env) else {
        return Err(out.fail(&Error::invalid(
            "host",
            "cannot tell where its configuration lives: HOME (or APPDATA) is not set",
        )));
    };
    let io = |what: &str, e: &std::io::Error| out.fail(&Error::io(what, e));
    let command = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| io("cannot tell where this atelier binary is", &e))?;
    let mut args = vec!["mcp".to_owned()];
    if let Some(vault) = vault {
        let vault = std::path::absolute(vault).map_err(|e| io("the vault path", &e))?;
        args.extend(["--vault".to_owned(), vault.display().to_string()]);
    }
    let entry = Entry {
        command: command.display().to_string(),
        args,
    };
    let existing = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io("the host's configuration cannot be read", &e)),
    };
    let merged = install::merged(existing.as_deref(), host, &entry).map_err(|e| {
        out.fail(&Error::invalid(
            "config",
            format!(
                "{} was left as it is: {e}. Fix or move it, then run this again",
                file.display()
            ),
        ))
    })?;
    let mut report = Installed {
        host: host.name(),
        title: host.title(),
        file: file.display().to_string(),
        changed: merged.is_some(),
        written: false,
        backup: None,
        text: merged.clone().or(existing.clone()),
    };
    if let (Some(text), false) = (&merged, dry_run) {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("the host's settings folder", &e))?;
        }
        if existing.is_some() {
            let stamp = atelier_core::clock::SystemClock.now().to_string();
            let backup = install::backup_path(&file, &stamp);
            std::fs::copy(&file, &backup).map_err(|e| io("the backup cannot be written", &e))?;
            report.backup = Some(backup.display().to_string());
        }
        // A whole new file in one rename, so a host never reads half of one.
        let partial = install::backup_path(&file, "partial");
        std::fs::write(&partial, text)
            .map_err(|e| io("the configuration cannot be written", &e))?;
        std::fs::rename(&partial, &file)
            .map_err(|e| io("the configuration cannot be written", &e))?;
        report.written = true;
    }
    out.show(&report, |r| {
        let mut lines = Vec::new();
        if !r.changed {
            lines.push(format!(
                "{} is already set up in {}: nothing changed.",
                r.title, r.file
            ));
        } else if r.written {
            lines.push(format!("Added Atelier to {} in {}.", r.title, r.file));
            if let Some(backup) = &r.backup {
                lines.push(format!("The previous file is kept as {backup}."));
            }
            lines.push(format!("Restart {} to pick it up.", r.title));
        } else {
            lines.push(format!(
                "Dry run: {} would become (nothing written):\n\n{}",
                r.file,
                r.text.as_deref().unwrap_or_default()
            ));
        }
        lines.join("\n")
    });
    Ok(())
}
