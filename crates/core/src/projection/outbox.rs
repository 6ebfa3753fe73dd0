//! The outbox: changes for the projections, written in the same transaction as the change.
//! Each projection reads its own topic; ids are shared, so one watermark per projection is
//! enough.
//!
//! A watermark alone cannot be trusted after `atelier.db` is restored from a backup: the
//! restored outbox hands out the same ids again, for other changes. So every row carries a
//! random stamp, and a projection records a [`Mark`]: the id *and stamp* of the last row it
//! applied, and the vault it was built for. A mark the outbox does not explain (another vault,
//! an id past the outbox's head, a row whose stamp differs) means the projection is rebuilt.

use crate::clock::Millis;
use rusqlite::{Connection, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A change some projection applies, stored under its topic.
pub trait Change: Serialize + DeserializeOwned {
    /// The outbox topic.
    const TOPIC: &'static str;
}

/// A change the graph must reflect. Each carries the full projected state of what it names, so
/// applying it twice, or after a later one was lost, converges on the same graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GraphChange {
    /// A task's node and its outgoing edges, as they now are.
    Task(TaskSnapshot),
    /// A document's node and its outgoing edges, as they now are.
    Document(DocumentSnapshot),
    /// A document that no longer exists.
    DocumentRemoved {
        /// Its id.
        id: i64,
    },
    /// An asset's node and its lineage edges, as they now are.
    Asset(AssetSnapshot),
}

impl Change for GraphChange {
    const TOPIC: &'static str = "graph";
}

/// Everything the graph keeps about one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSnapshot {
    /// Document id.
    pub id: i64,
    /// Its project's name.
    pub project: String,
    /// Path in the project.
    pub path: String,
    /// Title.
    pub title: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Outgoing links: the target document, or the target as written while it dangles.
    pub links: Vec<LinkSnapshot>,
    /// Its kind (`markdown`, `image`, `pdf`, …); empty in changes queued before attachments.
    #[serde(default)]
    pub kind: String,
    /// The documents it embeds (`![[…]]` resolved), each once; also among `links`.
    #[serde(default)]
    pub embeds: Vec<i64>,
}

/// One outgoing link of a document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LinkSnapshot {
    /// Resolved to a document.
    Resolved(i64),
    /// Dangling: the target as written, lowercased.
    Dangling(String),
}

/// A document whose chunks the vector index must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VectorChange {
    /// Replace the document's points with its current embedded chunks (none if it is gone).
    Document {
        /// Document id.
        id: i64,
    },
}

impl Change for VectorChange {
    const TOPIC: &'static str = "vectors";
}

/// Everything the graph keeps about one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSnapshot {
    /// Task id.
    pub id: i64,
    /// State name.
    pub state: String,
    /// Parent task, if any.
    pub parent: Option<i64>,
    /// Assigned role, if any.
    pub role: Option<String>,
    /// Direct dependencies.
    pub depends_on: Vec<i64>,
}

/// Everything the graph keeps about one asset: its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetSnapshot {
    /// Asset id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Approval state.
    pub state: String,
    /// The task it was made for.
    pub task: Option<i64>,
    /// The runs that produced its versions, with their play's name.
    pub runs: Vec<(i64, String)>,
    /// The canon blocks its versions were given.
    pub canon: Vec<i64>,
    /// The documents whose passages its versions were given.
    pub documents: Vec<i64>,
    /// The canon block it was promoted to.
    pub promoted_to: Option<i64>,
}

/// The snapshot of every id `ids_query` lists, in its order, for a rebuild; ids whose `one`
/// finds nothing are skipped.
pub fn all_snapshots<T>(
    conn: &Connection,
    ids_query: &str,
    one: impl Fn(&Connection, i64) -> rusqlite::Result<Option<T>>,
) -> rusqlite::Result<Vec<T>> {
    let ids = conn
        .prepare(ids_query)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(snapshot) = one(conn, id)? {
            out.push(snapshot);
        }
    }
    Ok(out)
}

/// Queues a change on `tx`, a connection inside the change's transaction.
pub fn push<C: Change>(tx: &Connection, change: &C, at: Millis) -> rusqlite::Result<()> {
    let payload = serde_json::to_string(change)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "INSERT INTO outbox (topic, payload, created_at, stamp)
         VALUES (?1, ?2, ?3, random() & 9223372036854775807)",
        params![C::TOPIC, payload, at],
    )?;
    Ok(())
}

/// Where a projection stands: the last outbox row it applied, that row's stamp, and the vault
/// it was built for (`None`: not recorded, by a projection older than marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    /// The last outbox id applied (0: none).
    pub through: i64,
    /// That row's stamp.
    pub stamp: Option<i64>,
    /// The vault's identity ([`vault_identity`]).
    pub vault: Option<i64>,
}

/// How a missing stamp or identity is stored where only numbers fit (stamps are never
/// negative).
pub const NO_MARK: i64 = -1;

impl Mark {
    /// The mark of outbox row `through` of the vault `conn` holds.
    pub fn at(conn: &Connection, through: i64) -> rusqlite::Result<Mark> {
        Ok(Mark {
            through,
            stamp: stamp_of(conn, through)?,
            vault: vault_identity(conn)?,
        })
    }

    /// Whether the outbox in `conn` explains a projection standing at this mark: the same
    /// vault, an id the outbox has reached, and that row's stamp.
    pub fn explained_by(&self, conn: &Connection) -> rusqlite::Result<bool> {
        if let Some(vault) = self.vault
            && vault_identity(conn)? != Some(vault)
        {
            return Ok(false);
        }
        if self.through > last_id(conn)? {
            return Ok(false);
        }
        if self.through == 0 {
            return Ok(true);
        }
        Ok(match self.stamp {
            // A projection from before marks: only the head can be checked.
            None => true,
            Some(stamp) => stamp_of(conn, self.through)? == Some(stamp),
        })
    }

    /// A stored number as an optional stamp or identity.
    pub fn decode(value: i64) -> Option<i64> {
        (value != NO_MARK).then_some(value)
    }
}

/// The stamp of outbox row `id`, `None` when it has none or does not exist.
pub fn stamp_of(conn: &Connection, id: i64) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("SELECT stamp FROM outbox WHERE id = ?1", [id], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten())
}

/// The vault's identity as a number: the first 60 bits of its `vault_id`.
pub fn vault_identity(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    let id: Option<String> = conn
        .query_row(
            "SELECT value FROM vault_meta WHERE key = 'vault_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id.and_then(|id| i64::from_str_radix(id.get(..15)?, 16).ok()))
}

/// Outbox rows of `C`'s topic after `after`, oldest first, at most `limit`.
pub fn pending<C: Change>(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, C)>> {
    let mut stmt = conn.prepare(
        "SELECT id, payload FROM outbox WHERE topic = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![C::TOPIC, after, limit], |r| {
        let id: i64 = r.get(0)?;
        let payload: String = r.get(1)?;
        Ok((id, payload))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, payload) = row?;
        let change = serde_json::from_str(&payload).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?;
        out.push((id, change));
    }
    Ok(out)
}

/// The newest outbox id, 0 when empty.
pub fn last_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0))
}
