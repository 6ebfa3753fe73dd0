//! What changed in the vault, as its audit events name it, for fronts that keep a view open
//! (the MCP server's tool list and resource subscriptions).
//!
//! The audit log already records every change with its target (`task:12`, `grant:3`,
//! `project:novel`), in the transaction of the change, so it is the one feed that cannot miss
//! one. A waiter sleeps on a signal raised after each commit, with a short poll as a backstop.

use super::{Atelier, lock};
use crate::auth::{Capability, Principal};
use crate::error::Result;
use serde::Serialize;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// One change: an audit event without its principal and summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Its audit sequence number; pass the last one seen to [`Atelier::changes_after`].
    pub seq: i64,
    /// A dotted verb, e.g. `task.create`, `grant.add`.
    pub action: String,
    /// What it acted on, e.g. `task:12`, `canon:3`, `project:novel`.
    pub target: String,
}

/// Raised after every commit, so waiters wake at once.
#[derive(Debug, Default)]
pub(super) struct ChangeSignal {
    generation: Mutex<u64>,
    raised: Condvar,
}

impl ChangeSignal {
    pub(super) fn raise(&self) {
        *lock(&self.generation) += 1;
        self.raised.notify_all();
    }

    fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        let guard = lock(&self.generation);
        let (guard, _) = self
            .raised
            .wait_timeout_while(guard, timeout, |g| *g == seen)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard
    }

    fn current(&self) -> u64 {
        *lock(&self.generation)
    }
}

/// The longest one call waits.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How often the audit log is read while waiting, in case a change came without a signal.
const POLL: Duration = Duration::from_millis(500);
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

    /// The changes after audit seq `after`, oldest first (at most 500), waiting up to `wait`
    /// (at most 30 s) for one if there are none yet; an empty answer means none came.
    /// Needs `vault_read`; the answer names targets, never their content.
    pub fn changes_after(
        &self,
        who: &Principal,
        after: i64,
        wait: Duration,
    ) -> Result<Vec<Change>> {
        let open = self.open_vault()?;
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        loop {
            let seen = open.changed.current();
            let changes = self.read(who, Capability::VaultRead, |db, _| {
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
            })?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !changes.is_empty() || left.is_zero() {
                return Ok(changes);
            }
            open.changed.wait(seen, left.min(POLL));
        }
    }
}
