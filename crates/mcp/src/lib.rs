//! Atelier's MCP server: the core's api served to a chat host over stdio, acting as the
//! principal `mcp:<clientInfo.name>`, so the owner's grants decide what a host may do.
//!
//! Every tool is a thin wrapper over one `atelier_core::api` call (the core checks and audits);
//! this crate only decodes arguments against the published schemas, bounds and labels results
//! ([`bounded`]), maps core errors to JSON-RPC errors ([`refusal`]), and watches the vault's
//! change feed to tell the host when its tool list, prompt list or a subscribed resource
//! changes ([`server`]). Resources are the vault's canon, documents, roles, shapes and tasks
//! ([`resources`]); prompts are its plays, assembled.

pub mod addresses;
pub mod bounded;
mod icons;
pub mod install;
#[cfg(unix)]
mod lines;
pub mod needs;
#[cfg(unix)]
pub mod owner;
pub mod principal;
mod prompts;
pub mod refusal;
pub mod resources;
pub mod server;
#[cfg(unix)]
pub mod sidecar;
mod tools;

pub use server::VaultServer;
