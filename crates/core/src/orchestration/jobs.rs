//! The durable job queue: background work kept in the vault's SQLite, so it survives `kill -9`
//! and restarts (seed 004 used pg-boss; this is the same contract without a server).
//!
//! A job is enqueued with a kind, a JSON payload, a priority, an optional delay and an optional
//! idempotency key (enqueueing the same key again answers the first job). A worker *leases* the
//! next due job for a while and renews the lease by heartbeat; a lease that lapses (the worker
//! died) sends the job back to the queue, its attempt counted. A worker *completes* a job in the
//! same transaction as the job's effect, and only while it still holds the lease (fencing), so
//! acknowledged work is neither lost nor done twice. A failed attempt is retried after an
//! exponential backoff until `max_attempts`; then the job is `dead`, with its last error, until
//! someone requeues it.
//!
//! Every function takes the connection (or transaction) and the time: the caller owns both.

use crate::clock::Millis;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The first retry waits this long; each further one twice as long as the last.
const FIRST_BACKOFF_MS: Millis = 1_000;
/// No retry waits longer than this.
const MAX_BACKOFF_MS: Millis = 5 * 60 * 1_000;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to be leased (possibly not due yet).
    Queued,
    /// A worker holds it until its lease ends.
    Leased,
    /// Completed.
    Done,
    /// Out of attempts; kept with its last error.
    Dead,
}

impl JobState {
    fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased => "leased",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> rusqlite::Result<JobState> {
        Ok(match text {
            "queued" => JobState::Queued,
            "leased" => JobState::Leased,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    0,
                    format!("job state {other}"),
                    rusqlite::types::Type::Text,
                ));
            }
        })
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do, e.g. `task.run`.
    pub kind: String,
    /// Its arguments.
    pub payload: Value,
    /// Enqueueing the same key again answers the first job instead of adding one.
    pub key: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Not before `now + delay_ms`.
    pub delay_ms: Millis,
    /// Attempts before the job is dead (at least 1).
    pub max_attempts: u32,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// What to do.
    pub kind: String,
    /// Its arguments.
    pub payload: Value,
    /// Its idempotency key.
    pub key: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Where it is.
    pub state: JobState,
    /// Attempts started so far (a lease is an attempt).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not leased before this.
    pub run_at: Millis,
    /// The worker holding it, while leased.
    pub lease_owner: Option<String>,
    /// When the lease lapses, while leased.
    pub lease_until: Option<Millis>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Millis,
    /// When it ended (done or dead).
    pub finished_at: Option<Millis>,
}

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id.
    pub id: i64,
    /// False when a job with the same key was already there (and is answered instead).
    pub created: bool,
}

/// How many jobs are where, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QueueDepth {
    /// Queued and due now.
    pub ready: i64,
    /// Queued for later (delayed or backing off).
    pub waiting: i64,
    /// Held by a worker.
    pub leased: i64,
    /// Out of attempts.
    pub dead: i64,
}

const COLUMNS: &str = "id, kind, payload, idempotency_key, priority, state, attempts, \
     max_attempts, run_at, lease_owner, lease_until, last_error, created_at, finished_at";

fn job(row: &Row<'_>) -> rusqlite::Result<Job> {
    let payload: String = row.get(2)?;
    let state: String = row.get(5)?;
    Ok(Job {
        id: row.get(0)?,
        kind: row.get(1)?,
        payload: serde_json::from_str(&payload).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        key: row.get(3)?,
        priority: row.get(4)?,
        state: JobState::parse(&state)?,
        attempts: row.get(6)?,
        max_attempts: row.get(7)?,
        run_at: row.get(8)?,
        lease_owner: row.get(9)?,
        lease_until: row.get(10)?,
        last_error: row.get(11)?,
        created_at: row.get(12)?,
        finished_at: row.get(13)?,
    })
}

/// The job `id`, if there is one.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
        [id],
        job,
    )
    .optional()
}

/// Adds `new` to the queue, or answers the job already enqueued under its key.
pub fn enqueue(conn: &Connection, new: &NewJob, now: Millis) -> rusqlite::Result<Enqueued> {
    if let Some(key) = &new.key
        && let Some(id) = conn
            .query_row(
                "SELECT id FROM jobs WHERE idempotency_key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?
    {
        return Ok(Enqueued { id, created: false });
    }
    conn.execute(
        "INSERT INTO jobs (kind, payload, idempotency_key, priority, state, attempts, max_attempts,
                           run_at, created_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?6, ?7)",
        params![
            new.kind,
            new.payload.to_string(),
            new.key,
            new.priority,
            new.max_attempts.max(1),
            now + new.delay_ms.max(0),
            now,
        ],
    )?;
    Ok(Enqueued {
        id: conn.last_insert_rowid(),
        created: true,
    })
}

/// Leases the next due job to `worker` until `now + lease_ms`, first sending jobs whose lease
/// lapsed back to the queue (or to the dead letters, when that was their last attempt). Call it
/// in an immediate transaction so two workers never lease one job.
pub fn lease(
    conn: &Connection,
    worker: &str,
    now: Millis,
    lease_ms: Millis,
) -> rusqlite::Result<Option<Job>> {
    reclaim_lapsed(conn, now)?;
    let next: Option<i64> = conn
        .query_row(
            "SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ?1
             ORDER BY priority DESC, run_at, id LIMIT 1",
            [now],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = next else {
        return Ok(None);
    };
    conn.execute(
        "UPDATE jobs SET state = 'leased', lease_owner = ?2, lease_until = ?3,
                         attempts = attempts + 1
         WHERE id = ?1",
        params![id, worker, now + lease_ms],
    )?;
    get(conn, id)
}

/// Lapsed leases: the worker stopped renewing (it crashed, or hangs). Their attempt counts.
fn reclaim_lapsed(conn: &Connection, now: Millis) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE jobs SET
             state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
             finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE NULL END,
             last_error = 'the worker ' || lease_owner || ' stopped renewing its lease',
             lease_owner = NULL, lease_until = NULL, run_at = ?1
         WHERE state = 'leased' AND lease_until <= ?1",
        [now],
    )
}

/// A job whose process died this many times while holding it is dead: it is likely what kills
/// the process.
pub const MAX_INTERRUPTIONS: u32 = 10;

/// Sends every leased job back to the queue: call it when a process takes the vault, since one
/// process owns a vault and so every lease still held belongs to a process that died. The
/// interrupted attempt is not counted against the job (the job did not fail; its process
/// stopped), but interruptions are, up to [`MAX_INTERRUPTIONS`]. Answers how many came back.
pub fn reclaim_orphans(conn: &Connection, now: Millis) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE jobs SET
             interruptions = interruptions + 1,
             attempts = MAX(attempts - 1, 0),
             state = CASE WHEN interruptions + 1 >= ?2 THEN 'dead' ELSE 'queued' END,
             finished_at = CASE WHEN interruptions + 1 >= ?2 THEN ?1 ELSE NULL END,
             last_error = CASE WHEN interruptions + 1 >= ?2
                 THEN 'the process running it stopped ' || (interruptions + 1) || ' times'
                 ELSE last_error END,
             lease_owner = NULL, lease_until = NULL, run_at = ?1
         WHERE state = 'leased'",
        params![now, MAX_INTERRUPTIONS],
    )
}

/// Renews `worker`'s lease on job `id` until `now + lease_ms`. False when the worker no longer
/// holds it (the lease lapsed and the job went back to the queue): it must stop and not complete.
pub fn heartbeat(
    conn: &Connection,
    id: i64,
    worker: &str,
    now: Millis,
    lease_ms: Millis,
) -> rusqlite::Result<bool> {
    let renewed = conn.execute(
        "UPDATE jobs SET lease_until = ?3
         WHERE id = ?1 AND state = 'leased' AND lease_owner = ?2 AND lease_until > ?4",
        params![id, worker, now + lease_ms, now],
    )?;
    Ok(renewed == 1)
}

/// Renews every lease held by workers whose name starts with `prefix` (one process's pool)
/// until `now + lease_ms`; answers how many.
pub fn heartbeat_all(
    conn: &Connection,
    prefix: &str,
    now: Millis,
    lease_ms: Millis,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE jobs SET lease_until = ?2
         WHERE state = 'leased' AND substr(lease_owner, 1, length(?1)) = ?1 AND lease_until > ?3",
        params![prefix, now + lease_ms, now],
    )
}

/// Puts job `id` back in the queue until `until` without counting the attempt (a guard said
/// "not yet"), noting why. False when `worker` no longer holds it.
pub fn postpone(
    conn: &Connection,
    id: i64,
    worker: &str,
    until: Millis,
    why: &str,
) -> rusqlite::Result<bool> {
    let postponed = conn.execute(
        "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), run_at = ?3,
                         last_error = ?4, lease_owner = NULL, lease_until = NULL
         WHERE id = ?1 AND state = 'leased' AND lease_owner = ?2",
        params![id, worker, until, why],
    )?;
    Ok(postponed == 1)
}

/// Marks job `id` done, if `worker` still holds its lease; run it in the transaction of the
/// job's effect, and roll that back when this answers false.
pub fn complete(conn: &Connection, id: i64, worker: &str, now: Millis) -> rusqlite::Result<bool> {
    let done = conn.execute(
        "UPDATE jobs SET state = 'done', finished_at = ?3, lease_owner = NULL, lease_until = NULL
         WHERE id = ?1 AND state = 'leased' AND lease_owner = ?2 AND lease_until > ?3",
        params![id, worker, now],
    )?;
    Ok(done == 1)
}

/// Records a failed attempt of job `id` by `worker`: back to the queue after a backoff, or dead
/// when it was the last attempt. `None` when the worker no longer holds the lease (nothing is
/// changed); else the job's new state.
pub fn fail(
    conn: &Connection,
    id: i64,
    worker: &str,
    error: &str,
    now: Millis,
) -> rusqlite::Result<Option<JobState>> {
    let Some(job) = get(conn, id)? else {
        return Ok(None);
    };
    if job.state != JobState::Leased || job.lease_owner.as_deref() != Some(worker) {
        return Ok(None);
    }
    let state = if job.attempts >= job.max_attempts {
        JobState::Dead
    } else {
        JobState::Queued
    };
    conn.execute(
        "UPDATE jobs SET state = ?2, last_error = ?3, run_at = ?4, finished_at = ?5,
                         lease_owner = NULL, lease_until = NULL
         WHERE id = ?1",
        params![
            id,
            state.name(),
            error,
            now + backoff(job.attempts),
            (state == JobState::Dead).then_some(now),
        ],
    )?;
    Ok(Some(state))
}

/// How long to wait before the attempt after `attempts` failed ones: 1 s, 2 s, 4 s, … up to
/// five minutes.
pub fn backoff(attempts: u32) -> Millis {
    let doublings = attempts.saturating_sub(1).min(20);
    (FIRST_BACKOFF_MS << doublings).min(MAX_BACKOFF_MS)
}

/// Sends dead job `id` back to the queue with fresh attempts. False when it is not dead.
pub fn requeue(conn: &Connection, id: i64, now: Millis) -> rusqlite::Result<bool> {
    let requeued = conn.execute(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?2, finished_at = NULL
         WHERE id = ?1 AND state = 'dead'",
        params![id, now],
    )?;
    Ok(requeued == 1)
}

/// The dead letters, newest first.
pub fn dead_letters(conn: &Connection) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE state = 'dead' ORDER BY finished_at DESC, id DESC"
    ))?;
    stmt.query_map([], job)?.collect()
}

/// How many jobs are ready, waiting, leased and dead at `now`: all of them, or only the
/// `task.run` jobs of one orchestration.
pub fn depth(
    conn: &Connection,
    now: Millis,
    orchestration: Option<i64>,
) -> rusqlite::Result<QueueDepth> {
    conn.query_row(
        "SELECT
             COALESCE(SUM(state = 'queued' AND run_at <= ?1), 0),
             COALESCE(SUM(state = 'queued' AND run_at > ?1), 0),
             COALESCE(SUM(state = 'leased'), 0),
             COALESCE(SUM(state = 'dead'), 0)
         FROM jobs
         WHERE ?2 IS NULL OR json_extract(payload, '$.orchestration') = ?2",
        params![now, orchestration],
        |r| {
            Ok(QueueDepth {
                ready: r.get(0)?,
                waiting: r.get(1)?,
                leased: r.get(2)?,
                dead: r.get(3)?,
            })
        },
    )
}

/// Wakes waiting workers when something changed that may have made work ready.
#[derive(Debug, Default)]
pub struct Wake {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wake {
    /// Something changed.
    pub fn notify(&self) {
        *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    /// Waits for the next change, at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let generation = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seen = *generation;
        let _ = self
            .changed
            .wait_timeout_while(generation, timeout, |g| *g == seen)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests;
