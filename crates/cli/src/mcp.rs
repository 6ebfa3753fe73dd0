//! `atelier mcp`: the stdio sidecar a chat host starts. stdout carries protocol bytes only, so
//! every word for people, errors included (even with `--json`), goes to stderr.

use crate::render;
use crate::run::Failure;
use atelier_core::{Atelier, OpenOptions};
use std::path::Path;
use std::sync::Arc;

/// Opens the vault at `dir` and serves it on stdin/stdout until the host closes the stream.
pub fn serve(dir: &Path) -> Result<(), Failure> {
    let atelier = Atelier::open(OpenOptions::new(dir.to_path_buf()));
    if let Some(message) = atelier.status().sealed_message {
        render::error(&format!(
            "error[NOT_READY]: atelier mcp cannot serve the vault at {}: {message}",
            dir.display()
        ));
        return Err(Failure::Unavailable);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            render::error(&format!(
                "error[IO]: cannot start the server's runtime: {e}"
            ));
            Failure::Internal
        })?;
    runtime
        .block_on(atelier_mcp::serve_stdio(Arc::new(atelier)))
        .map_err(|e| {
            render::error(&format!("error[IO]: the MCP session ended: {e}"));
            Failure::Internal
        })
}
