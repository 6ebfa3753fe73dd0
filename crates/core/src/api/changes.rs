//! What changed in the vault, as its audit events name it, for fronts that keep a view open
//! (the MCP server's lists and resource subscriptions).
//!
//! The audit log already records every change with its target (`task:12`, `grant:3`,
//! `project:novel`), in the transaction of the change, so it is the one feed that cannot miss
//! one; a watcher asks for what came after the last seq it saw.

use crate::access::audit;
pub use crate::access::audit::Change;
use crate::access::auth::{Capability, Principal};
use crate::error::Result;
use crate::vault::Atelier;

/// The most changes one call answers.
const MAX_CHANGES: i64 = 500;

impl Atelier {
    /// The audit sequence number of the newest change: where a new watcher starts.
    /// Needs `vault_read`.
    pub fn change_head(&self, who: &Principal) -> Result<i64> {
        self.read(who, Capability::VaultRead, |db, _| Ok(audit::last_seq(db)?))
    }

    /// The changes after audit seq `after`, oldest first (at most 500). Needs `vault_read`;
    /// the answer names targets, never their content.
    pub fn changes_after(&self, who: &Principal, after: i64) -> Result<Vec<Change>> {
        self.read(who, Capability::VaultRead, |db, _| {
            Ok(audit::changes_after(db, after, MAX_CHANGES)?)
        })
    }
}
