//! What changed in the vault, as its audit events name it, for fronts that keep a view open
//! (the MCP server's lists and resource subscriptions).
//!
//! The audit log already records every change with its target (`task:12`, `grant:3`,
//! `project:novel`), in the transaction of the change, so it is the one feed that cannot miss
//! one; a watcher asks for what came after the last seq it saw.

use super::Atelier;
use crate::auth::{Capability, Principal};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// One change: an audit event without its principal and summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Its audit sequence number; pass the last one seen to [`Atelier::changes_after`].
    pub seq: i64,
    /// A dotted verb, e.g. `task.create`, `grant.add`.
    pub action: String,
    /// What it acted on, e.g. `task:12`, `canon:3`, `project:novel`.
    pub target: String,
}

/// The most changes one call answers.
const MAX_CHANGES: i64 = 500;

impl Atelier {
    /// The audit sequence number of the newest change: where a new watcher starts.
    /// Needs `vault_read`.
    pub fn change_head(&self, who: &Principal) -> Result<i64> {
        self.read(who, Capability::VaultRead, |db, _| {
            Ok(
                db.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_events", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    /// The changes after audit seq `after`, oldest first (at most 500). Needs `vault_read`;
    /// the answer names targets, never their content.
    pub fn changes_after(&self, who: &Principal, after: i64) -> Result<Vec<Change>> {
        self.read(who, Capability::VaultRead, |db, _| {
            let mut stmt = db.prepare_cached(
                "SELECT seq, action, target FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map([after, MAX_CHANGES], |r| {
                Ok(Change {
                    seq: r.get(0)?,
                    action: r.get(1)?,
                    target: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
