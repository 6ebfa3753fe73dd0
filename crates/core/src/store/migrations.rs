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
    Migration {
        version: 7,
        name: "0007_attachments.sql",
        sql: include_str!("../../../../migrations/0007_attachments.sql"),
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
///
/// Foreign keys are off while migrations run and checked before the commit: widening a
/// constraint means rebuilding a table (SQLite's own recipe), and dropping the old table with
/// them on would delete every row that references it.
pub fn migrate(
    conn: &mut Connection,
    migrations: &[Migration],
    now: Millis,
) -> Result<MigrationReport, MigrateError> {
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = apply(conn, migrations, now);
    if enforced {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    result
}

fn apply(
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
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(MigrateError::BrokenReferences { table });
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
    /// A migration left rows pointing at rows that do not exist; it was rolled back.
    #[error("a migration left rows of {table} pointing at nothing; it was rolled back")]
    BrokenReferences {
        /// The first table with such rows.
        table: String,
    },
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

    /// Version 7 rebuilds `documents` (to widen its kinds): a vault at version 6 keeps every
    /// row that references a document (tags, links, chunks and their full-text rows), and the
    /// full-text triggers work on the rebuilt table.
    #[test]
    fn rebuilding_documents_keeps_what_references_them() {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::store::configure(&conn).expect("configure");
        migrate(&mut conn, &EMBEDDED[..6], 1).expect("migrate to 6");
        conn.execute_batch(
            "INSERT INTO projects (id, name, root, created_at) VALUES (1, 'p', '/p', 1);
             INSERT INTO documents (id, project_id, path, kind, title, content_hash, size,
                                    modified_at, ingested_at)
             VALUES (1, 1, 'a.md', 'markdown', 'A', 'h', 1, 1, 1),
                    (2, 1, 'b.md', 'markdown', 'B', 'h', 1, 1, 1);
             INSERT INTO document_tags (document_id, tag) VALUES (1, 'x');
             INSERT INTO links (source_id, form, target, line, target_id)
             VALUES (1, 'wikilink', 'b', 1, 2);
             INSERT INTO chunks (id, document_id, seq, heading, body, embeds_heading, text_hash,
                                 tokens, start_line, end_line)
             VALUES (10, 1, 0, 'A', 'lighthouse keeper', 1, 't', 2, 1, 1);",
        )
        .expect("rows");
        let report = migrate(&mut conn, EMBEDDED, 2).expect("migrate to 7");
        assert_eq!(report.applied, [7]);
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(count("SELECT COUNT(*) FROM documents"), 2);
        assert_eq!(
            count("SELECT COUNT(*) FROM documents WHERE content_hash = '' AND modified_at = -1"),
            2,
            "notes are read again by the next ingest"
        );
        assert_eq!(count("SELECT COUNT(*) FROM document_tags"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM links WHERE target_id = 2"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM chunks"), 1);
        assert_eq!(
            count("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH 'keeper'"),
            1
        );
        let enforced: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("pragma");
        assert!(enforced, "foreign keys are on again after migrating");
        // The rebuilt table's triggers: a new passage and a renamed document reach the index.
        conn.execute_batch(
            "INSERT INTO chunks (id, document_id, seq, heading, body, embeds_heading, text_hash,
                                 tokens, start_line, end_line)
             VALUES (11, 2, 0, 'B', 'storm lantern', 1, 'u', 2, 1, 1);
             UPDATE documents SET title = 'Beacon' WHERE id = 2;
             INSERT INTO documents (project_id, path, kind, title, content_hash, size,
                                    modified_at, ingested_at, media_type, width, height)
             VALUES (1, 'c.png', 'image', 'c', 'h', 1, 1, 1, 'image/png', 2, 3);",
        )
        .expect("writes");
        assert_eq!(
            count("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH 'title:beacon'"),
            1
        );
        // An attachment has a media type and a note has none.
        assert!(
            conn.execute(
                "INSERT INTO documents (project_id, path, kind, title, content_hash, size,
                                        modified_at, ingested_at)
                 VALUES (1, 'd.pdf', 'pdf', 'd', 'h', 1, 1, 1)",
                [],
            )
            .is_err()
        );
        // Deleting a document still cascades.
        conn.execute("DELETE FROM documents WHERE id = 1", [])
            .expect("delete");
        assert_eq!(count("SELECT COUNT(*) FROM document_tags"), 0);
        assert_eq!(
            count("SELECT COUNT(*) FROM links WHERE target_id IS NULL"),
            0
        );
    }
}
