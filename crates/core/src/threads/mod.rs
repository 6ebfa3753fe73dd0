//! Agent threads (seed 004): conversations in the vault through which chat hosts, roles and the
//! scheduler coordinate. Messages are numbered 1, 2, 3… per thread with no gaps (the number is
//! taken in the post's transaction); a post retried with the same author and idempotency key
//! answers the first message instead of adding one; each participant has a cursor, the last seq
//! it acknowledged, which only moves forward.
//!
//! The functions take the connection (a transaction, for posts) and the time; authorizing and
//! auditing are the api's.

pub mod commands;

use crate::clock::Millis;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

/// A thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Thread {
    /// Row id.
    pub id: i64,
    /// What it is about.
    pub title: String,
    /// Who started it.
    pub created_by: String,
    /// When.
    pub created_at: Millis,
    /// The newest message's seq (0 while empty).
    pub last_seq: i64,
}

/// A message in a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Message {
    /// The thread.
    pub thread: i64,
    /// Its place: 1, 2, 3… with no gaps.
    pub seq: i64,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub body: String,
    /// The key a retried post is recognized by.
    pub key: Option<String>,
    /// When it was posted.
    pub created_at: Millis,
}

/// What a post did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    /// The message (the first one, for a retried post).
    pub message: Message,
    /// False when the post was a retry and nothing was added.
    pub created: bool,
}

/// Why a thread operation was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ThreadRefusal {
    /// No such thread.
    #[error("no thread with id {0}")]
    NoThread(i64),
    /// An acknowledgement past the newest message.
    #[error("thread {thread} has {last} messages; seq {seq} cannot be acknowledged")]
    BeyondEnd {
        /// The thread.
        thread: i64,
        /// Its newest seq.
        last: i64,
        /// The seq asked for.
        seq: i64,
    },
    /// The database failed.
    #[error("{0}")]
    Storage(#[from] rusqlite::Error),
}

fn thread_row(row: &Row<'_>) -> rusqlite::Result<Thread> {
    Ok(Thread {
        id: row.get(0)?,
        title: row.get(1)?,
        created_by: row.get(2)?,
        created_at: row.get(3)?,
        last_seq: row.get(4)?,
    })
}

fn message_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        thread: row.get(0)?,
        seq: row.get(1)?,
        author: row.get(2)?,
        body: row.get(3)?,
        key: row.get(4)?,
        created_at: row.get(5)?,
    })
}

const MESSAGE_COLUMNS: &str = "thread_id, seq, author, body, idempotency_key, created_at";

/// Starts a thread by `by`, who takes part in it, with the other `participants`.
pub fn create(
    conn: &Connection,
    title: &str,
    by: &str,
    participants: &[String],
    now: Millis,
) -> rusqlite::Result<Thread> {
    conn.execute(
        "INSERT INTO threads (title, created_by, created_at) VALUES (?1, ?2, ?3)",
        params![title, by, now],
    )?;
    let id = conn.last_insert_rowid();
    for who in std::iter::once(by).chain(participants.iter().map(String::as_str)) {
        join(conn, id, who, now)?;
    }
    Ok(Thread {
        id,
        title: title.to_owned(),
        created_by: by.to_owned(),
        created_at: now,
        last_seq: 0,
    })
}

/// The thread `id`.
pub fn get(conn: &Connection, id: i64) -> Result<Thread, ThreadRefusal> {
    conn.query_row(
        "SELECT id, title, created_by, created_at, last_seq FROM threads WHERE id = ?1",
        [id],
        thread_row,
    )
    .optional()?
    .ok_or(ThreadRefusal::NoThread(id))
}

/// Adds `who` to thread `id` (nothing changes if it takes part already).
pub fn join(conn: &Connection, id: i64, who: &str, now: Millis) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO thread_participants (thread_id, principal, joined_at)
         VALUES (?1, ?2, ?3)",
        params![id, who, now],
    )?;
    Ok(())
}

/// Posts `body` to thread `id` as `author` (who joins it by posting). With a `key` that
/// `author` used before in this thread, answers that message and adds nothing. Run it in a
/// transaction: the seq is taken there.
pub fn post(
    conn: &Connection,
    id: i64,
    author: &str,
    body: &str,
    key: Option<&str>,
    now: Millis,
) -> Result<Posted, ThreadRefusal> {
    get(conn, id)?;
    if let Some(key) = key
        && let Some(message) = conn
            .query_row(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE thread_id = ?1 AND author = ?2 AND idempotency_key = ?3"
                ),
                params![id, author, key],
                message_row,
            )
            .optional()?
    {
        return Ok(Posted {
            message,
            created: false,
        });
    }
    let seq: i64 = conn.query_row(
        "UPDATE threads SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        [id],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO messages (thread_id, seq, author, body, idempotency_key, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, seq, author, body, key, now],
    )?;
    join(conn, id, author, now)?;
    Ok(Posted {
        message: Message {
            thread: id,
            seq,
            author: author.to_owned(),
            body: body.to_owned(),
            key: key.map(str::to_owned),
            created_at: now,
        },
        created: true,
    })
}

/// Up to `limit` messages of thread `id` after seq `after`, oldest first.
pub fn read(
    conn: &Connection,
    id: i64,
    after: i64,
    limit: u32,
) -> Result<Vec<Message>, ThreadRefusal> {
    get(conn, id)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ?1 AND seq > ?2
         ORDER BY seq LIMIT ?3"
    ))?;
    Ok(stmt
        .query_map(params![id, after, limit], message_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The last seq `who` acknowledged in thread `id` (0 before any, or when it does not take part).
pub fn cursor(conn: &Connection, id: i64, who: &str) -> Result<i64, ThreadRefusal> {
    get(conn, id)?;
    Ok(conn
        .query_row(
            "SELECT acked_seq FROM thread_participants WHERE thread_id = ?1 AND principal = ?2",
            params![id, who],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Moves `who`'s cursor in thread `id` to `seq` (joining it if needed); a seq at or behind the
/// cursor leaves it where it is. Answers the cursor.
pub fn ack(
    conn: &Connection,
    id: i64,
    who: &str,
    seq: i64,
    now: Millis,
) -> Result<i64, ThreadRefusal> {
    let thread = get(conn, id)?;
    if seq > thread.last_seq {
        return Err(ThreadRefusal::BeyondEnd {
            thread: id,
            last: thread.last_seq,
            seq,
        });
    }
    join(conn, id, who, now)?;
    conn.execute(
        "UPDATE thread_participants SET acked_seq = MAX(acked_seq, ?3)
         WHERE thread_id = ?1 AND principal = ?2",
        params![id, who, seq],
    )?;
    cursor(conn, id, who)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrations::{EMBEDDED, migrate};

    const T0: Millis = 1_767_225_600_000;

    fn vault() -> Connection {
        let mut conn = Connection::open_in_memory().expect("sqlite");
        migrate(&mut conn, EMBEDDED, T0).expect("migrate");
        conn
    }

    #[test]
    fn messages_are_numbered_without_gaps_and_a_retried_post_answers_the_first() {
        let conn = vault();
        let thread =
            create(&conn, "chapter 12", "owner", &["mcp:cursor".into()], T0).expect("create");
        let first = post(&conn, thread.id, "owner", "outline first", Some("k1"), T0).expect("post");
        let second =
            post(&conn, thread.id, "mcp:cursor", "on it", Some("k1"), T0 + 1).expect("post");
        let retried = post(
            &conn,
            thread.id,
            "owner",
            "outline first (again)",
            Some("k1"),
            T0 + 2,
        )
        .expect("retry");
        let third = post(&conn, thread.id, "owner", "no key", None, T0 + 3).expect("post");
        assert_eq!(
            [first.message.seq, second.message.seq, third.message.seq],
            [1, 2, 3]
        );
        assert!(first.created && second.created && third.created);
        assert_eq!(
            retried,
            Posted {
                message: first.message.clone(),
                created: false
            }
        );
        let all = read(&conn, thread.id, 0, 100).expect("read");
        assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            read(&conn, thread.id, 2, 100).expect("since 2"),
            vec![third.message]
        );
        assert_eq!(get(&conn, thread.id).expect("thread").last_seq, 3);
    }

    #[test]
    fn cursors_only_move_forward_and_never_past_the_end() {
        let conn = vault();
        let thread = create(&conn, "t", "owner", &[], T0).expect("create");
        for n in 0..3 {
            post(&conn, thread.id, "owner", &format!("m{n}"), None, T0).expect("post");
        }
        assert_eq!(cursor(&conn, thread.id, "mcp:claude").expect("cursor"), 0);
        assert_eq!(ack(&conn, thread.id, "mcp:claude", 2, T0).expect("ack"), 2);
        assert_eq!(
            ack(&conn, thread.id, "mcp:claude", 1, T0).expect("ack"),
            2,
            "not back"
        );
        assert_eq!(
            ack(&conn, thread.id, "mcp:claude", 4, T0),
            Err(ThreadRefusal::BeyondEnd {
                thread: thread.id,
                last: 3,
                seq: 4
            })
        );
        assert_eq!(cursor(&conn, thread.id, "mcp:claude").expect("cursor"), 2);
        assert_eq!(cursor(&conn, thread.id, "owner").expect("cursor"), 0);
    }

    #[test]
    fn a_missing_thread_is_refused_by_name() {
        let conn = vault();
        assert_eq!(
            post(&conn, 9, "owner", "x", None, T0),
            Err(ThreadRefusal::NoThread(9))
        );
        assert_eq!(read(&conn, 9, 0, 10), Err(ThreadRefusal::NoThread(9)));
        assert_eq!(
            ack(&conn, 9, "owner", 0, T0),
            Err(ThreadRefusal::NoThread(9))
        );
    }
}
