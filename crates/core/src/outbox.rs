//! The outbox: changes for the projections, written in the same transaction as the change.

use crate::clock::Millis;
use rusqlite::{Connection, Transaction, params};
use serde::{Deserialize, Serialize};

/// A change the graph must reflect. Each carries the full projected state of what it names, so
/// applying it twice, or after a later one was lost, converges on the same graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GraphChange {
    /// A task's node and its outgoing edges, as they now are.
    Task(TaskSnapshot),
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

/// The outbox topic of graph changes.
pub const GRAPH_TOPIC: &str = "graph";

/// Queues a graph change inside `tx`.
pub fn push(tx: &Transaction<'_>, change: &GraphChange, at: Millis) -> rusqlite::Result<()> {
    let payload = serde_json::to_string(change)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "INSERT INTO outbox (topic, payload, created_at) VALUES (?1, ?2, ?3)",
        params![GRAPH_TOPIC, payload, at],
    )?;
    Ok(())
}

/// Outbox rows after `after`, oldest first, at most `limit`.
pub fn pending(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, GraphChange)>> {
    let mut stmt = conn.prepare(
        "SELECT id, payload FROM outbox WHERE topic = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![GRAPH_TOPIC, after, limit], |r| {
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
