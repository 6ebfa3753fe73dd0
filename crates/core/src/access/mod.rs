//! Access: who may do what. Principals and capabilities ([`auth`]), grants with scopes and
//! expiry ([`grants`]), roles loaded from `roles/` ([`roles`]) and the hash-chained audit log
//! ([`audit`]); [`commands`] are the grant, role, audit and reindex commands.

pub mod audit;
pub mod auth;
pub mod commands;
pub mod grants;
pub mod roles;
