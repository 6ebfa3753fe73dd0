//! SQLite, the vault's only source of truth: connection settings, migrations and the row
//! counts `status` reports.

pub mod census;
pub mod migrations;

use crate::clock::Millis;
use crate::error::SealReason;
use migrations::{MigrateError, Migration};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Opens (creating if needed) the database file with the settings every connection uses, then
/// brings its schema up to `migrations`.
pub fn open(path: &Path, migrations: &[Migration], now: Millis) -> Result<Connection, SealReason> {
    let storage = |e: rusqlite::Error| SealReason::StorageUnavailable {
        message: crate::error::Error::from(e).to_string(),
    };
    let mut conn = Connection::open(path).map_err(storage)?;
    configure(&conn).map_err(storage)?;
    migrations::migrate(&mut conn, migrations, now).map_err(|e| match e {
        MigrateError::Seal(reason) => reason,
        MigrateError::Sqlite(e) => storage(e),
        broken @ MigrateError::BrokenReferences { .. } => SealReason::StorageUnavailable {
            message: broken.to_string(),
        },
    })?;
    Ok(conn)
}

/// Statements kept prepared per connection. rusqlite keeps 16, fewer than the queries of one
/// search or read (authorize, grants, filters, ranking, snippets, sources, audit), so each call
/// parsed most of them again.
const PREPARED_STATEMENTS: usize = 256;

/// WAL for concurrent readers, FULL sync so an acknowledged change survives power loss,
/// foreign keys on, a busy timeout so a reader never fails a writer outright, and room for
/// every statement the commands prepare.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
    // journal_mode answers with the mode now in force; WAL persists in the file.
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}
