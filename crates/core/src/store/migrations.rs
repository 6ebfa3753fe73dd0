//! Schema migrations: embedded, applied in one transaction, checksummed, append-only.

use crate::clock::Millis;
use crate::error::SealReason;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number; versions start at 1 and have no gaps.
    pub version: i64,
    /// Its file name under `migrations/`.
    pub name: &'static str,
    /// Its SQL.
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL text, hex.
    pub fn checksum(&self) -> String {
        hex(&Sha256::digest(self.sql.as_bytes()))
    }
}

/// The migrations this binary carries, from the repository's `migrations/` directory.
pub const EMBEDDED: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("../../../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_documents.sql",
        sql: include_str!("../../../../migrations/0002_documents.sql"),
    },
    Migration {
        version: 3,
        name: "0003_runs.sql",
        sql: include_str!("../../../../migrations/0003_runs.sql"),
    },
    Migration {
        version: 4,
        name: "0004_orchestration.sql",
        sql: include_str!("../../../../migrations/0004_orchestration.sql"),
    },
    Migration {
        version: 5,
        name: "0005_outbox_stamps.sql",
        sql: include_str!("../../../../migrations/0005_outbox_stamps.sql"),
    },
    Migration {
        version: 6,
        name: "0006_passage_fields.sql",
        sql: include_str!("../../../../migrations/0006_passage_fields.sql"),
    },
];

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call.
    pub applied: Vec<i64>,
    /// The schema version after the call.
    pub version: i64,
}

/// Checks the applied migrations against `migrations` and applies the missing ones, all in one
/// transaction. Refuses (changing nothing) when an applied one was edited or the database is
/// newer than `migrations`.
pub fn migrate(
    conn: &mut Connection,
    migrations: &[Migration],
    now: Millis,
) -> Result<MigrationReport, MigrateError> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT    NOT NULL,
             checksum   TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let supported = migrations.last().map_or(0, |m| m.version);
    let found: i64 = tx
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0);
    if found > supported {
        return Err(MigrateError::Seal(SealReason::DatabaseNewer {
            found,
            supported,
        }));
    }
    let mut applied = Vec::new();
    for migration in migrations {
        let stored: Option<String> = tx
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [migration.version],
                |r| r.get(0),
            )
            .optional()?;
        match stored {
            Some(checksum) if checksum == migration.checksum() => {}
            Some(_) => {
                return Err(MigrateError::Seal(SealReason::MigrationChanged {
                    version: migration.version,
                    name: migration.name.to_owned(),
                }));
            }
            None => {
                tx.execute_batch(migration.sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![migration.version, migration.name, migration.checksum(), now],
                )?;
                applied.push(migration.version);
            }
        }
    }
    tx.commit()?;
    Ok(MigrationReport {
        applied,
        version: supported.max(found),
    })
}

/// Why migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The vault must stay sealed for this reason.
    #[error("{0}")]
    Seal(SealReason),
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_migrations_is_embedded_in_order_without_gaps() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<&str> = EMBEDDED.iter().map(|m| m.name).collect();
        assert_eq!(files, embedded);
        for (i, m) in EMBEDDED.iter().enumerate() {
            assert_eq!(m.version, i64::try_from(i).expect("small") + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
