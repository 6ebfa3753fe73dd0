//! Atelier's core: the vault, its typed command surface ([`api`]) and every rule of the product.
//!
//! Fronts (the `atelier` CLI, the desktop shell, the MCP sidecar) call [`api::Atelier`] with a
//! [`auth::Principal`]; they hold no logic of their own. This crate never depends on Tauri,
//! rmcp or clap.

pub mod api;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod beneath;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod docs;
pub mod embed;
pub mod error;
pub mod grants;
pub mod graph;
pub mod input;
pub mod jobs;
pub mod logfile;
pub mod orchestrator;
pub mod outbox;
pub mod plays;
pub mod providers;
#[cfg(unix)]
pub mod remote;
pub mod roles;
pub mod secrets;
pub mod store;
pub mod tasks;
pub mod threads;
pub mod vault;
pub mod vectors;
pub mod watch;
pub mod workers;

pub use api::{Atelier, OpenOptions};

pub use error::{Error, ErrorKind, Result, SealReason};
