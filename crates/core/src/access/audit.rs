//! The audit log: one hash-chained event per change, written in the change's transaction.
//!
//! The chain alone proves only that the log is consistent with itself: whoever can write
//! `atelier.db` can recompute every hash after an edit, or put back an older copy, and the
//! chain still verifies. So the head is also anchored outside the database: after each commit
//! the owner writes the head's seq and hash ([`Anchor`]) to the OS keychain, where a process
//! without the user's keyring cannot reach. `verify` then also checks the log against the
//! anchor ([`check_anchor`]): a log that ends before the anchored event was rolled back or
//! truncated; one whose anchored event has another hash was rewritten. What it cannot prove:
//! changes to events after the last anchor (a crash between a commit and its anchor leaves a
//! few), or anything by someone who can also write the user's keychain.

use crate::access::auth::Principal;
use crate::clock::Millis;
use crate::store::migrations::hex;
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a command records about itself. `summary` never holds a secret.
#[derive(Debug, Clone)]
pub struct Entry {
    /// A dotted verb, e.g. `task.create`.
    pub action: &'static str,
    /// What it acted on.
    pub target: Target,
    /// A short description for people.
    pub summary: String,
}

/// What an audit event acted on, written `kind:name` (`task:12`, `project:novel`) or as one
/// word (`vault`, `graph`, `kill_switch`). The stored text is parsed back here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A task.
    Task(i64),
    /// A canon block.
    Canon(i64),
    /// A shape, by name.
    Shape(String),
    /// A grant.
    Grant(i64),
    /// A project, by name.
    Project(String),
    /// A hook rule.
    Hook(i64),
    /// A run.
    Run(i64),
    /// An asset.
    Asset(i64),
    /// An orchestration.
    Orchestration(i64),
    /// A thread.
    Thread(i64),
    /// A keychain entry, by name.
    Key(String),
    /// A provider, by name.
    Provider(String),
    /// A route, by task class.
    Route(String),
    /// The kill switch.
    KillSwitch,
    /// The graph and vector projections (a reindex).
    Graph,
    /// The vault itself.
    Vault,
    /// What a front read, in its own words: a tool call, a resource URI, a prompt.
    Read(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Task(id) => write!(f, "task:{id}"),
            Target::Canon(id) => write!(f, "canon:{id}"),
            Target::Shape(name) => write!(f, "shape:{name}"),
            Target::Grant(id) => write!(f, "grant:{id}"),
            Target::Project(name) => write!(f, "project:{name}"),
            Target::Hook(id) => write!(f, "hook:{id}"),
            Target::Run(id) => write!(f, "run:{id}"),
            Target::Asset(id) => write!(f, "asset:{id}"),
            Target::Orchestration(id) => write!(f, "orchestration:{id}"),
            Target::Thread(id) => write!(f, "thread:{id}"),
            Target::Key(name) => write!(f, "key:{name}"),
            Target::Provider(name) => write!(f, "provider:{name}"),
            Target::Route(class) => write!(f, "route:{class}"),
            Target::KillSwitch => f.write_str("kill_switch"),
            Target::Graph => f.write_str("graph"),
            Target::Vault => f.write_str("vault"),
            Target::Read(text) => f.write_str(text),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = std::convert::Infallible;

    /// Never fails: text that names no known target (or a bad id) is a [`Target::Read`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let read = || Target::Read(text.to_owned());
        let (kind, name) = match text {
            "kill_switch" => return Ok(Target::KillSwitch),
            "graph" => return Ok(Target::Graph),
            "vault" => return Ok(Target::Vault),
            _ => match text.split_once(':') {
                Some(parts) => parts,
                None => return Ok(read()),
            },
        };
        let id = || name.parse::<i64>().ok();
        let named = || name.to_owned();
        Ok(match kind {
            "task" => id().map_or_else(read, Target::Task),
            "canon" => id().map_or_else(read, Target::Canon),
            "grant" => id().map_or_else(read, Target::Grant),
            "hook" => id().map_or_else(read, Target::Hook),
            "run" => id().map_or_else(read, Target::Run),
            "asset" => id().map_or_else(read, Target::Asset),
            "orchestration" => id().map_or_else(read, Target::Orchestration),
            "thread" => id().map_or_else(read, Target::Thread),
            "shape" => Target::Shape(named()),
            "project" => Target::Project(named()),
            "key" => Target::Key(named()),
            "provider" => Target::Provider(named()),
            "route" => Target::Route(named()),
            _ => read(),
        })
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Event {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, in ms since the epoch.
    pub at: Millis,
    /// Who acted, as text.
    pub principal: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// For people.
    pub summary: String,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// The hash of an event: SHA-256 over a length-prefixed encoding of every field, so that no
/// two different events share an encoding.
pub fn event_hash(
    seq: i64,
    at: Millis,
    principal: &str,
    action: &str,
    target: &str,
    summary: &str,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"atelier-audit-v1");
    hasher.update(seq.to_be_bytes());
    hasher.update(at.to_be_bytes());
    for field in [principal, action, target, summary, prev_hash] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex(&hasher.finalize())
}

/// Appends an event inside `tx`. If this fails, the caller's whole change fails with it.
pub fn append(
    tx: &Transaction<'_>,
    principal: &Principal,
    entry: &Entry,
    at: Millis,
) -> rusqlite::Result<i64> {
    let (head_seq, head_hash): (i64, String) =
        tx.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let seq = head_seq + 1;
    let who = principal.as_text();
    let target = entry.target.to_string();
    let hash = event_hash(
        seq,
        at,
        &who,
        entry.action,
        &target,
        &entry.summary,
        &head_hash,
    );
    tx.execute(
        "INSERT INTO audit_events (seq, at, principal, action, target, summary, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq,
            at,
            who,
            entry.action,
            target,
            entry.summary,
            head_hash,
            hash
        ],
    )?;
    Ok(seq)
}

/// The head as anchored outside the database: an event's seq and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The event's seq.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

impl Anchor {
    /// As stored: `SEQ HASH`.
    pub fn encode(&self) -> String {
        format!("{} {}", self.seq, self.hash)
    }

    /// From its stored form; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Anchor> {
        let (seq, hash) = text.trim().split_once(' ')?;
        let hash = hash.trim();
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
        Some(Anchor {
            seq: seq.parse().ok().filter(|s: &i64| *s > 0)?,
            hash: hash.to_owned(),
        })
    }
}

/// The log's head now, as it would be anchored (seq 0 for an empty log).
pub fn head_anchor(conn: &rusqlite::Connection) -> rusqlite::Result<Anchor> {
    let (seq, hash) = head(conn)?;
    Ok(Anchor { seq, hash })
}

/// `verification` (of a chain that verified) checked against `anchor`: the anchored event must
/// still be in the log with the anchored hash.
pub fn check_anchor(
    conn: &rusqlite::Connection,
    verification: Verification,
    anchor: &Anchor,
) -> rusqlite::Result<Verification> {
    if !verification.is_intact() {
        return Ok(verification);
    }
    use rusqlite::OptionalExtension;
    let stored: Option<String> = conn
        .query_row(
            "SELECT hash FROM audit_events WHERE seq = ?1",
            [anchor.seq],
            |r| r.get(0),
        )
        .optional()?;
    let problem = match stored {
        None => Some((
            verification.events + 1,
            format!(
                "the log ends at event {}, but the OS keychain anchors event {}: the log was rolled back (an older copy of atelier.db?) or truncated",
                verification.events, anchor.seq
            ),
        )),
        Some(hash) if hash != anchor.hash => Some((
            anchor.seq,
            format!(
                "event {} differs from the hash anchored in the OS keychain: the log was rewritten",
                anchor.seq
            ),
        )),
        Some(_) => None,
    };
    Ok(match problem {
        None => verification,
        Some((seq, problem)) => Verification {
            events: verification.events,
            first_bad_seq: Some(seq),
            problem: Some(problem),
        },
    })
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Verification {
    /// Events read.
    pub events: i64,
    /// The first seq at which the chain is wrong, if any.
    pub first_bad_seq: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
}

impl Verification {
    /// Whether the whole chain verified.
    pub fn is_intact(&self) -> bool {
        self.first_bad_seq.is_none()
    }
}

const EVENT_COLUMNS: &str = "seq, at, principal, action, target, summary, prev_hash, hash";

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: row.get(0)?,
        at: row.get(1)?,
        principal: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        summary: row.get(5)?,
        prev_hash: row.get(6)?,
        hash: row.get(7)?,
    })
}

/// Recomputes every hash in order and checks seq continuity and the recorded head, naming the
/// first bad seq. Reads only.
pub fn verify(conn: &rusqlite::Connection) -> rusqlite::Result<Verification> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq"
    ))?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1;
    let mut prev = GENESIS_HASH.to_owned();
    let mut events = 0;
    let bad = |seq: i64, events: i64, problem: String| Verification {
        events,
        first_bad_seq: Some(seq),
        problem: Some(problem),
    };
    while let Some(row) = rows.next()? {
        let event = event_from_row(row)?;
        events += 1;
        if event.seq != expected_seq {
            return Ok(bad(
                expected_seq,
                events,
                format!(
                    "event {expected_seq} is missing (next stored is {})",
                    event.seq
                ),
            ));
        }
        if event.prev_hash != prev {
            return Ok(bad(
                event.seq,
                events,
                "its previous-hash does not match the event before it".to_owned(),
            ));
        }
        let recomputed = event_hash(
            event.seq,
            event.at,
            &event.principal,
            &event.action,
            &event.target,
            &event.summary,
            &event.prev_hash,
        );
        if recomputed != event.hash {
            return Ok(bad(
                event.seq,
                events,
                "its contents do not match its hash (edited)".to_owned(),
            ));
        }
        prev = event.hash;
        expected_seq += 1;
    }
    let (head_seq, head_hash): (i64, String) =
        conn.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let last_seq = expected_seq - 1;
    if head_seq > last_seq {
        return Ok(bad(
            last_seq + 1,
            events,
            format!(
                "events {} to {head_seq} are missing (truncated)",
                last_seq + 1
            ),
        ));
    }
    if head_seq < last_seq || head_hash != prev {
        return Ok(bad(
            head_seq + 1,
            events,
            "events after the recorded head were added outside Atelier".to_owned(),
        ));
    }
    Ok(Verification {
        events,
        first_bad_seq: None,
        problem: None,
    })
}

/// The newest `limit` events, newest first.
pub fn tail(conn: &rusqlite::Connection, limit: u32) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], event_from_row)?;
    rows.collect()
}

/// The current head: (seq, hash). Used by tests to show that a refused command left no trace.
pub fn head(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, String)> {
    conn.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// The seq of the newest event, 0 for an empty log.
pub fn last_seq(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_events", [], |r| {
        r.get(0)
    })
}

/// One change: an audit event without its principal and summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Its audit sequence number; pass the last one seen to `changes_after`.
    pub seq: i64,
    /// A dotted verb, e.g. `task.create`, `grant.add`.
    pub action: String,
    /// What it acted on, e.g. `task:12`, `canon:3`, `project:novel`.
    pub target: String,
}

/// The changes after seq `after`, oldest first, at most `limit`.
pub fn changes_after(
    conn: &rusqlite::Connection,
    after: i64,
    limit: i64,
) -> rusqlite::Result<Vec<Change>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, action, target FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map([after, limit], |r| {
        Ok(Change {
            seq: r.get(0)?,
            action: r.get(1)?,
            target: r.get(2)?,
        })
    })?;
    rows.collect()
}
