//! Banked assets below the API: the approval state machine, the content-addressed blob store
//! (`blobs/<first two hex>/<sha256>`), and the lineage snapshot the graph projects.

pub mod bank;
pub mod commands;
pub mod store;

use crate::clock::Millis;
use crate::names::Named;
use crate::projection::outbox::{self, AssetSnapshot, GraphChange};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// An asset as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetView {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// What its bytes are.
    pub media_type: MediaType,
    /// Where it is in its approval.
    pub state: AssetState,
    /// The task it was made for.
    pub task: Option<i64>,
    /// The canon block it was promoted to.
    pub canon: Option<i64>,
    /// Its latest version.
    pub version: i64,
    /// When it was banked.
    pub created_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
}

/// Where an asset is in its approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AssetState {
    /// Banked; its author has not asked for review yet.
    Draft,
    /// Waiting for someone with `approve_assets`.
    InReview,
    /// Approved: it may become canon or be exported.
    Approved,
    /// Rejected, with a note; a new version goes back to review.
    Rejected,
}

impl AssetState {
    /// Every state.
    pub const ALL: [AssetState; 4] = [
        AssetState::Draft,
        AssetState::InReview,
        AssetState::Approved,
        AssetState::Rejected,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            AssetState::Draft => "draft",
            AssetState::InReview => "in_review",
            AssetState::Approved => "approved",
            AssetState::Rejected => "rejected",
        }
    }

    /// The state of a stored name.
    pub fn parse(name: &str) -> Option<AssetState> {
        AssetState::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A move in the approval flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// draft → in_review. Needs `bank_assets`.
    Submit,
    /// in_review → approved. Needs `approve_assets`.
    Approve,
    /// in_review → rejected. Needs `approve_assets`.
    Reject,
}

impl ReviewAction {
    /// Every action.
    pub const ALL: [ReviewAction; 3] = [
        ReviewAction::Submit,
        ReviewAction::Approve,
        ReviewAction::Reject,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            ReviewAction::Submit => "submit",
            ReviewAction::Approve => "approve",
            ReviewAction::Reject => "reject",
        }
    }

    /// Where the action leads from `from`, if it is allowed there.
    pub fn from(self, from: AssetState) -> Option<AssetState> {
        match (from, self) {
            (AssetState::Draft, ReviewAction::Submit) => Some(AssetState::InReview),
            (AssetState::InReview, ReviewAction::Approve) => Some(AssetState::Approved),
            (AssetState::InReview, ReviewAction::Reject) => Some(AssetState::Rejected),
            _ => None,
        }
    }

    /// The actions allowed from `state`, by name.
    pub fn allowed_from(state: AssetState) -> Vec<&'static str> {
        ReviewAction::ALL
            .into_iter()
            .filter(|a| a.from(state).is_some())
            .map(ReviewAction::name)
            .collect()
    }
}

/// What an asset's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum MediaType {
    /// `text/markdown`
    #[serde(rename = "text/markdown")]
    Markdown,
    /// `application/json`
    #[serde(rename = "application/json")]
    Json,
}

impl MediaType {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            MediaType::Markdown => "text/markdown",
            MediaType::Json => "application/json",
        }
    }

    /// The type of a stored name; Markdown for anything else.
    pub fn parse(name: &str) -> MediaType {
        if name == MediaType::Json.name() {
            MediaType::Json
        } else {
            MediaType::Markdown
        }
    }
}

/// SHA-256 of `bytes`, hex: a blob's name.
pub fn blob_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The path of blob `hash` in the vault `vault`.
pub fn blob_path(vault: &Path, hash: &str) -> PathBuf {
    vault
        .join("blobs")
        .join(hash.get(..2).unwrap_or("00"))
        .join(hash)
}

/// Stores `bytes` under their hash (once: the same bytes are stored once) and returns it. The
/// blob is written whole before any row names it, so the database never points at a missing or
/// half-written blob.
pub fn store_blob(vault: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let hash = blob_hash(bytes);
    let path = blob_path(vault, &hash);
    if std::fs::read(&path).is_ok_and(|stored| blob_hash(&stored) == hash) {
        return Ok(hash);
    }
    if let Some(dir) = path.parent()
        && !dir.is_dir()
    {
        std::fs::create_dir_all(dir)?;
        // The new `blobs/<ab>` directory's own name must survive a crash, as the blob's does
        // (`write_whole` syncs the directory it writes in).
        crate::beneath::sync_dir(dir.parent())?;
        crate::beneath::sync_dir(dir.parent().and_then(Path::parent))?;
    }
    crate::beneath::write_whole(&path, bytes)?;
    Ok(hash)
}

/// The bytes of blob `hash`, checked against it: a blob changed on disk is an error, never
/// returned as if it were the banked content.
pub fn read_blob(vault: &Path, hash: &str) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(blob_path(vault, hash))
        .map_err(|e| format!("blob {hash} cannot be read: {}", e.kind()))?;
    if blob_hash(&bytes) != hash {
        return Err(format!(
            "blob {hash} was changed on disk and no longer matches its hash"
        ));
    }
    Ok(bytes)
}

/// The lineage of asset `id` as SQLite has it, or `None` if there is no such asset.
pub fn snapshot(conn: &Connection, id: i64) -> rusqlite::Result<Option<AssetSnapshot>> {
    let Some((title, state, task, promoted_to)) = conn
        .query_row(
            "SELECT title, state, task_id, canon_id FROM assets WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let runs = conn
        .prepare(
            "SELECT DISTINCT r.id, r.play FROM asset_versions v JOIN runs r ON r.id = v.run_id
              WHERE v.asset_id = ?1 ORDER BY r.id",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // Only sources that still exist: a removed document takes its edges out of the graph, and
    // a rebuild must not bring them back.
    let sources = |kind: &str, table: &str| -> rusqlite::Result<Vec<i64>> {
        conn.prepare(&format!(
            "SELECT DISTINCT s.ref_id FROM asset_sources s JOIN {table} t ON t.id = s.ref_id
              WHERE s.asset_id = ?1 AND s.kind = ?2 ORDER BY s.ref_id"
        ))?
        .query_map(rusqlite::params![id, kind], |r| r.get(0))?
        .collect()
    };
    Ok(Some(AssetSnapshot {
        id,
        title,
        state,
        task,
        runs,
        canon: sources("canon", "canon_blocks")?,
        documents: sources("document", "documents")?,
        promoted_to,
    }))
}

/// Every asset's lineage, for a rebuild.
pub fn all_snapshots(conn: &Connection) -> rusqlite::Result<Vec<AssetSnapshot>> {
    outbox::all_snapshots(conn, "SELECT id FROM assets ORDER BY id", snapshot)
}

/// Queues asset `id`'s lineage for the graph, in the caller's transaction.
pub fn push_snapshot(tx: &Connection, id: i64, now: Millis) -> rusqlite::Result<()> {
    if let Some(snapshot) = snapshot(tx, id)? {
        outbox::push(tx, &GraphChange::Asset(snapshot), now)?;
    }
    Ok(())
}

/// The outcome of banking inside a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Banked {
    /// Banked as this asset version, in this state.
    Yes(i64, i64, AssetState),
    /// The play banks nothing by itself.
    NotByPolicy,
}

impl Named for AssetState {
    const ALL: &'static [Self] = &[Self::Draft, Self::InReview, Self::Approved, Self::Rejected];
    fn name(self) -> &'static str {
        AssetState::name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approval_flow_allows_only_its_moves() {
        use AssetState::*;
        use ReviewAction::*;
        let mut allowed = Vec::new();
        for state in AssetState::ALL {
            for action in ReviewAction::ALL {
                if let Some(to) = action.from(state) {
                    allowed.push((state, action, to));
                }
            }
        }
        assert_eq!(
            allowed,
            [
                (Draft, Submit, InReview),
                (InReview, Approve, Approved),
                (InReview, Reject, Rejected)
            ]
        );
        for state in AssetState::ALL {
            assert_eq!(AssetState::parse(state.name()), Some(state));
        }
    }

    #[test]
    fn blobs_are_stored_once_and_checked_when_read() {
        let vault = tempfile::tempdir().expect("tempdir");
        let hash = store_blob(vault.path(), b"# Mara\n").expect("store");
        assert_eq!(store_blob(vault.path(), b"# Mara\n").expect("again"), hash);
        assert_eq!(
            read_blob(vault.path(), &hash).expect("read"),
            b"# Mara\n".to_vec()
        );
        std::fs::write(blob_path(vault.path(), &hash), b"# Marx\n").expect("tamper");
        let err = read_blob(vault.path(), &hash).expect_err("tampered");
        assert!(err.contains("changed on disk"), "{err}");
        // Storing the same content again repairs the blob.
        store_blob(vault.path(), b"# Mara\n").expect("repair");
        assert!(read_blob(vault.path(), &hash).is_ok());
    }
}
