//! Grants in SQLite.

use crate::access::auth::{Capability, Grant, Principal};
use crate::clock::Millis;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "id, principal, capability, scope, expires_at, created_at, revoked_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Grant> {
    let principal: String = row.get(1)?;
    let capability: String = row.get(2)?;
    let bad = |col: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
    };
    Ok(Grant {
        id: row.get(0)?,
        principal: principal
            .parse()
            .map_err(|_| bad(1, format!("principal {principal:?}")))?,
        capability: capability
            .parse()
            .map_err(|()| bad(2, format!("capability {capability:?}")))?,
        scope: row.get(3)?,
        expires_at: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

/// Every grant ever given to `principal` (the caller filters by liveness at its own clock).
pub fn for_principal(conn: &Connection, principal: &Principal) -> Result<Vec<Grant>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM grants WHERE principal = ?1 AND revoked_at IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([principal.as_text()], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every grant, newest first.
pub fn all(conn: &Connection) -> Result<Vec<Grant>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM grants ORDER BY id DESC"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One grant.
pub fn get(conn: &Connection, id: i64) -> Result<Grant> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM grants WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("grant", id))
}

/// Stores a grant and returns its id.
pub fn insert(
    conn: &Connection,
    principal: &Principal,
    capability: Capability,
    scope: Option<&str>,
    expires_at: Option<Millis>,
    now: Millis,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO grants (principal, capability, scope, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            principal.as_text(),
            capability.name(),
            scope,
            expires_at,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Marks a grant revoked.
pub fn revoke(conn: &Connection, id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE grants SET revoked_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}
