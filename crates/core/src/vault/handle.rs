//! The handle every command goes through, and the spine of a command: authorize, change,
//! audit, in one SQLite transaction ([`Atelier::write`]), or authorize and query
//! ([`Atelier::read`]). Nothing here knows any area of the product.

use super::VaultLock;
use super::anchor::{AUDIT_ANCHOR, AnchorWriter};
use super::authorize::authorize_with;
use super::catch_up::Projection;
use crate::access::audit;
use crate::access::auth::{Capability, Principal};
use crate::access::roles::RoleSet;
use crate::clock::{Clock, Millis};
use crate::config::Config;
use crate::embed::Embedder;
use crate::error::{Error, Result, SealReason};
use crate::projection::vectors::Vectors;
use crate::store::{self, migrations::Migration};
use rusqlite::{Connection, Transaction};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How to open a vault.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The vault directory.
    pub vault: PathBuf,
    /// The clock every timestamp and expiry uses.
    pub clock: Arc<dyn Clock>,
    /// The migrations to hold the database to; the embedded ones outside tests.
    pub migrations: &'static [Migration],
    /// Where to look for the embedding model; `None` for the usual places
    /// ([`crate::embed::search_path`]).
    pub model_dirs: Option<Vec<PathBuf>>,
    /// Whether opening brings the graph and the vector index up to date at once (a
    /// long-lived owner: the desktop, `atelier serve`), or leaves each to the first command
    /// that needs it (the MCP sidecar, which a host spawns per session and which may only
    /// ever read text: opening the graph alone costs about 80 ms).
    pub projections_at_open: bool,
}

impl OpenOptions {
    /// The vault at `vault`, on the system clock, with the embedded migrations.
    pub fn new(vault: impl Into<PathBuf>) -> Self {
        OpenOptions {
            vault: vault.into(),
            clock: Arc::new(crate::clock::SystemClock),
            migrations: store::migrations::EMBEDDED,
            model_dirs: None,
            projections_at_open: true,
        }
    }

    /// The same, opening the graph and the vector index only when first needed.
    pub fn with_lazy_projections(mut self) -> Self {
        self.projections_at_open = false;
        self
    }

    /// The same, looking for the embedding model only in `dir`.
    pub fn with_model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dirs = Some(vec![dir.into()]);
        self
    }

    /// The same, on `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// An opened (or sealed) vault: the handle every command goes through.
#[derive(Debug)]
pub struct Atelier {
    pub(crate) vault: PathBuf,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) state: std::result::Result<OpenVault, SealReason>,
}

#[derive(Debug)]
pub(crate) struct OpenVault {
    pub(crate) db: Mutex<Connection>,
    pub(crate) graph: Mutex<Option<Projection>>,
    pub(crate) vectors: Mutex<Option<Vectors>>,
    pub(crate) embedder: Mutex<Option<Arc<Embedder>>>,
    /// The keychain after its round trip, or why that failed and when (asked again once
    /// [`crate::secrets::KEYCHAIN_RETRY_MS`] have passed: a keyring unlocked meanwhile is found).
    pub(crate) keychain: Mutex<crate::secrets::KeychainProbe>,
    /// The audit seq anchored in the keychain, [`ANCHOR_UNCHECKED`] before this process
    /// looked, or [`ANCHOR_KEPT`] when the anchor there is evidence against the log.
    pub(crate) anchored: Mutex<i64>,
    /// Writes the audit head to the keychain off the committing thread.
    pub(crate) anchor: AnchorWriter,
    /// Changes committed since the projections last caught up on the write path.
    pub(crate) changes_unprojected: AtomicU32,
    /// When a read last anchored the audit head (see [`Atelier::record_read`]).
    pub(crate) read_anchored_at: Mutex<Millis>,
    /// The kill switch's token: every run and provider call holds a child of it.
    pub(crate) kill: Mutex<crate::providers::transport::Cancel>,
    /// Runs going in this process, by id, for `run_cancel`.
    pub(crate) runs: Mutex<std::collections::HashMap<i64, crate::providers::transport::Cancel>>,
    /// Calls in flight per provider, within `orchestration.provider_limits`.
    pub(crate) slots: crate::providers::slots::ProviderSlots,
    /// Wakes this process's workers when jobs were enqueued.
    pub(crate) wake: crate::orchestration::jobs::Wake,
    pub(crate) model_dirs: Vec<PathBuf>,
    pub(crate) roles: RoleSet,
    pub(crate) config: Config,
    pub(crate) schema_version: i64,
    pub(crate) _lock: VaultLock,
}

impl Atelier {
    /// The vault directory.
    pub fn vault_dir(&self) -> &Path {
        &self.vault
    }

    /// Why the vault is sealed, or `None` when it is open. Touches nothing: unlike
    /// [`Atelier::status`] it opens no projection, so a process that only needs to know whether
    /// it owns the vault (the MCP sidecar at spawn) pays for nothing else.
    pub fn seal_reason(&self) -> Option<&SealReason> {
        self.state.as_ref().err()
    }

    /// The current time on the injected clock.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    pub(crate) fn open_vault(&self) -> Result<&OpenVault> {
        self.state
            .as_ref()
            .map_err(|reason| Error::from(reason.clone()))
    }

    /// Runs a mutating command: authorize, `change`, audit, all in one transaction; then lets
    /// the projections follow ([`Atelier::projections_follow`]).
    pub(crate) fn write<T>(
        &self,
        who: &Principal,
        need: Capability,
        change: impl FnOnce(&Ctx<'_, '_>) -> Result<(T, audit::Entry)>,
    ) -> Result<T> {
        let open = self.open_vault()?;
        let now = self.clock.now();
        let out = {
            let mut db = lock(&open.db);
            let tx = db.transaction()?;
            authorize_with(&tx, open, who, need, now)?;
            let ctx = Ctx {
                tx: &tx,
                now,
                roles: &open.roles,
                config: &open.config,
            };
            let (out, entry) = change(&ctx)?;
            audit::append(&tx, who, &entry, now)?;
            tx.commit()?;
            out
        };
        self.anchor_audit(open);
        // The change may have made scheduled work ready.
        open.wake.notify();
        self.projections_follow(open);
        Ok(out)
    }

    /// Lets the graph and the vector index catch up once [`CATCH_UP_EVERY`] changes have
    /// gone by since they last did. Every read of a projection catches it up first, so what
    /// a reader sees is the same; a change only stops paying for a Kuzu transaction of its
    /// own (its fixed cost — statements prepared, a commit synced — was most of a scheduled
    /// task's time), and the rows of a burst of changes are applied together. The change is
    /// committed; a projection failure here is repaired on the next read.
    fn projections_follow(&self, open: &OpenVault) {
        let since = open.changes_unprojected.fetch_add(1, Ordering::Relaxed) + 1;
        if since >= CATCH_UP_EVERY {
            open.changes_unprojected.store(0, Ordering::Relaxed);
            let _ = self.graph_in_sync(open);
            let _ = self.vectors_in_sync(open);
        }
    }

    /// Audits an effect outside SQLite (a file written) that the caller was authorized for
    /// before it happened, in a transaction of its own.
    pub(crate) fn record(&self, who: &Principal, entry: &audit::Entry) -> Result<()> {
        let open = self.open_vault()?;
        let now = self.clock.now();
        append_alone(&mut lock(&open.db), who, entry, now)?;
        self.anchor_audit(open);
        Ok(())
    }

    /// Audits a read that is about to be answered, in a transaction of its own committed
    /// without waiting for the disk: in WAL mode the commit is a `write` of its pages to the
    /// log file, which the kernel holds for the file once the call returns, so the event
    /// survives the death of this process (`kill -9`, a panic, an abort) but not a power loss
    /// before the next full sync — the next change, or a checkpoint, syncs it. A read changes
    /// nothing, so that is the guarantee it gets; changes keep `synchronous = FULL`. The head
    /// is anchored in the keychain at most every [`READ_ANCHOR_EVERY_MS`] for reads (a round
    /// trip to the keychain per read would cost more than the read); the next change hands it
    /// to the anchor thread at once.
    pub(crate) fn record_read(&self, who: &Principal, entry: &audit::Entry) -> Result<()> {
        let open = self.open_vault()?;
        let now = self.clock.now();
        {
            let mut db = lock(&open.db);
            db.pragma_update(None, "synchronous", "NORMAL")?;
            let committed = append_alone(&mut db, who, entry, now);
            // Back to the setting of every other commit, whatever became of this one.
            db.pragma_update(None, "synchronous", "FULL")?;
            committed?;
        }
        let due = {
            let mut last = lock(&open.read_anchored_at);
            let due = now.saturating_sub(*last) >= READ_ANCHOR_EVERY_MS;
            if due {
                *last = now;
            }
            due
        };
        if due {
            self.anchor_audit(open);
        }
        Ok(())
    }

    /// Has the audit head written to the OS keychain when it moved (see [`audit`]), by the
    /// anchor thread ([`super::anchor`]), so the commit does not wait for the keychain; best
    /// effort, after the commit: a keychain that cannot be used leaves the log unanchored,
    /// never a change undone.
    pub(crate) fn anchor_audit(&self, open: &OpenVault) {
        let Ok(head) = audit::head_anchor(&lock(&open.db)) else {
            return;
        };
        let mut anchored = lock(&open.anchored);
        if *anchored == ANCHOR_UNCHECKED {
            // An anchor the log does not explain is the evidence of a rollback or a rewrite:
            // it is kept for `audit verify`, never overwritten by a newer head.
            *anchored = match self.audit_anchor(open) {
                None => 0,
                Some(anchor) => {
                    let intact = audit::Verification {
                        events: head.seq,
                        first_bad_seq: None,
                        problem: None,
                    };
                    let db = lock(&open.db);
                    match audit::check_anchor(&db, intact, &anchor) {
                        Ok(v) if v.is_intact() => anchor.seq,
                        _ => {
                            tracing::warn!(
                                anchored = anchor.seq,
                                head = head.seq,
                                "the audit log does not match its anchor in the keychain; the anchor is kept"
                            );
                            ANCHOR_KEPT
                        }
                    }
                }
            };
        }
        if *anchored == ANCHOR_KEPT || head.seq <= *anchored {
            return;
        }
        if let Ok(keychain) = self.keychain(open) {
            // Written by the anchor thread; a write that fails leaves the head to the next
            // change, as a missing keychain does.
            *anchored = head.seq;
            open.anchor.anchor(keychain, head);
        }
    }

    /// The audit head anchored in the OS keychain, if there is a keychain and an anchor.
    pub(crate) fn audit_anchor(&self, open: &OpenVault) -> Option<audit::Anchor> {
        open.anchor.flush();
        let secret = self.keychain(open).ok()?.get(AUDIT_ANCHOR).ok()?;
        audit::Anchor::parse(secret.expose())
    }

    /// Runs a read after authorizing `need`.
    pub(crate) fn read<T>(
        &self,
        who: &Principal,
        need: Capability,
        query: impl FnOnce(&Connection, &OpenVault) -> Result<T>,
    ) -> Result<T> {
        let open = self.open_vault()?;
        let db = lock(&open.db);
        authorize_with(&db, open, who, need, self.clock.now())?;
        query(&db, open)
    }
}

/// What a change runs with.
pub(crate) struct Ctx<'a, 'c> {
    pub(crate) tx: &'a Transaction<'c>,
    pub(crate) now: Millis,
    pub(crate) roles: &'a RoleSet,
    pub(crate) config: &'a Config,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves SQLite consistent (the transaction rolls back), so
    // the data behind a poisoned lock is still sound.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Appends `entry` to the audit log in a transaction of its own.
fn append_alone(
    db: &mut Connection,
    who: &Principal,
    entry: &audit::Entry,
    now: Millis,
) -> Result<()> {
    let tx = db.transaction()?;
    audit::append(&tx, who, entry, now)?;
    tx.commit()?;
    Ok(())
}

/// How many changes a projection may trail by before a change catches it up (reads always
/// do): enough to share one graph transaction among the changes of a few scheduled tasks,
/// few enough that the catch-up a read pays stays small.
const CATCH_UP_EVERY: u32 = 32;

/// How often, at most, reads anchor the audit head in the keychain.
const READ_ANCHOR_EVERY_MS: Millis = 10_000;
/// `OpenVault::anchored` before the keychain's anchor was read.
pub(crate) const ANCHOR_UNCHECKED: i64 = -1;
/// `OpenVault::anchored` when the keychain's anchor contradicts the log and is kept.
pub(crate) const ANCHOR_KEPT: i64 = -2;
