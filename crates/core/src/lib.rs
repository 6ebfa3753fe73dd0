//! Atelier's core: the vault, its typed command surface ([`api`]) and every rule of the product.
//!
//! Fronts (the `atelier` CLI, the desktop shell, the MCP sidecar) call [`vault::Atelier`] with a
//! [`access::auth::Principal`]; they hold no logic of their own. This crate never depends on Tauri,
//! rmcp or clap.

pub mod access;
pub mod api;
pub mod assets;
pub mod beneath;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod documents;
pub mod embed;
pub mod error;
pub mod input;
pub mod logfile;
pub mod names;
pub mod orchestration;
pub mod plays;
pub mod projection;
pub mod providers;
#[cfg(unix)]
pub mod remote;
pub mod runs;
pub mod secrets;
pub mod store;
pub mod tasks;
pub mod threads;
pub mod vault;

pub use vault::{Atelier, OpenOptions};

pub use error::{Error, ErrorKind, Result, SealReason};
