//! The scheduler's bookkeeping in SQLite: which tasks of an orchestration are ready, the jobs
//! that run them, and what a task completing, failing, being reset or reviewed changes around it.
//!
//! Everything here runs inside the caller's transaction, so a state change, the jobs it
//! enqueues and the tasks it releases commit together or not at all. The ready set is kept
//! incrementally: a change looks only at the changed task's dependents and parent (indexes on
//! `task_dependencies (depends_on)` and `tasks (parent_id)`), never at the whole tree, which is
//! what keeps the cost per state change flat on a 100,000-task graph.
//!
//! The rules, for a task `t` stamped with a running orchestration:
//! - `t` is *ready* when it is pending or active, not waiting, every dependency is completed,
//!   and its parent (if the parent belongs to the same orchestration) is in progress.
//! - A ready task with children is a *container*: it moves to in progress at once and its
//!   children become candidates; it completes when every child is completed or cancelled.
//! - A ready leaf with a play or a role is *activated* and gets one `task.run` job, keyed by
//!   task and attempt, so enqueueing twice is harmless. A leaf with neither waits for a person.
//! - A failure blocks every task downstream of it (dependents, transitively) that has not
//!   started, with the reason and the failed task; `reset` of that task releases them.
//! - A passed run whose output waits in review blocks the task on that asset; approving it
//!   completes the task, rejecting it fails the task.

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::orchestration::jobs::{self, NewJob};
use crate::projection::outbox::{self, GraphChange};
use crate::tasks::{self, TaskState, Waiting};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;

/// The job kind that runs one task.
pub const TASK_JOB: &str = "task.run";

/// Where an orchestration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum OrchestrationState {
    /// Working, or waiting for a person or a retry.
    Running,
    /// Its root task closed.
    Finished,
    /// A person stopped it.
    Stopped,
}

impl OrchestrationState {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            OrchestrationState::Running => "running",
            OrchestrationState::Finished => "finished",
            OrchestrationState::Stopped => "stopped",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Running, Self::Finished, Self::Stopped]
            .into_iter()
            .find(|s| s.name() == text)
    }
}

/// An orchestration as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Orchestration {
    /// Id.
    pub id: i64,
    /// The task whose subtree it works through.
    pub root: i64,
    /// Who started it; every job acts within what this principal may do.
    pub principal: String,
    /// Where it is.
    pub state: OrchestrationState,
    /// Tasks its decompositions created.
    pub spawned: i64,
    /// Started, ms since the epoch.
    pub started_at: Millis,
    /// Finished or stopped, ms since the epoch.
    pub finished_at: Option<Millis>,
}

/// Reads orchestration `id`.
pub fn get(conn: &Connection, id: i64) -> Result<Orchestration> {
    conn.query_row(
        "SELECT id, root_task, principal, state, spawned, started_at, finished_at
           FROM orchestrations WHERE id = ?1",
        [id],
        |r| {
            let state: String = r.get(3)?;
            Ok(Orchestration {
                id: r.get(0)?,
                root: r.get(1)?,
                principal: r.get(2)?,
                state: OrchestrationState::parse(&state).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Text,
                        format!("unknown orchestration state {state:?}").into(),
                    )
                })?,
                spawned: r.get(4)?,
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| Error::not_found("orchestration", id))
}

/// Every orchestration, newest first.
pub fn list(conn: &Connection) -> Result<Vec<Orchestration>> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM orchestrations ORDER BY id DESC")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter().map(|id| get(conn, id)).collect()
}

/// Tasks moved and jobs enqueued by one piece of bookkeeping.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// Tasks whose state changed (their graph nodes are re-projected).
    pub changed: BTreeSet<i64>,
    /// Tasks that got a job.
    pub enqueued: Vec<i64>,
    /// Orchestrations that finished.
    pub finished: Vec<i64>,
}

/// The scheduler's view of one transaction: the connection, the time, how many tries a task
/// job gets, and what it has changed so far.
#[derive(Debug)]
pub struct Bookkeeping<'c> {
    conn: &'c Connection,
    now: Millis,
    attempts: u32,
    /// What has changed so far.
    pub effects: Effects,
}

const SUBTREE: &str = "WITH RECURSIVE sub(id) AS (
    SELECT ?1
    UNION ALL
    SELECT t.id FROM tasks t JOIN sub ON t.parent_id = sub.id
)";

impl<'c> Bookkeeping<'c> {
    /// Bookkeeping inside a command's transaction, with the vault's attempts per task job.
    pub(crate) fn within(ctx: &'c crate::vault::Ctx<'_, '_>) -> Self {
        Bookkeeping::new(ctx.tx, ctx.now, ctx.config.orchestration.attempts)
    }

    /// Bookkeeping inside `conn`'s transaction at `now`; task jobs get `attempts` tries.
    pub fn new(conn: &'c Connection, now: Millis, attempts: u32) -> Self {
        Bookkeeping {
            conn,
            now,
            attempts,
            effects: Effects::default(),
        }
    }

    /// Starts an orchestration on `root`'s subtree for `principal`, stamps the subtree and
    /// enqueues what is ready. Starting again on the root of a running orchestration answers
    /// that one (`false`); a subtree that overlaps another running orchestration is refused.
    pub fn start(&mut self, root: i64, principal: &str) -> Result<(i64, bool)> {
        let task = tasks::get(self.conn, root)?;
        if !task.state.is_open() {
            // Nothing is left to run: answer the orchestration that closed it, if one did.
            let last: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM orchestrations WHERE root_task = ?1 ORDER BY id DESC LIMIT 1",
                    [root],
                    |r| r.get(0),
                )
                .optional()?;
            return match last {
                Some(id) => Ok((id, false)),
                None => Err(Error::invalid(
                    "root",
                    format!("task {root} is {}: nothing is left to run", task.state),
                )),
            };
        }
        let taken: Option<(i64, i64)> = self
            .conn
            .query_row(
                &format!(
                    "{SUBTREE} SELECT t.id, t.orchestration_id FROM tasks t JOIN sub ON t.id = sub.id
                     JOIN orchestrations o ON o.id = t.orchestration_id
                     WHERE o.state = 'running' ORDER BY t.id LIMIT 1"
                ),
                [root],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((task, orchestration)) = taken {
            if get(self.conn, orchestration)?.root == root {
                return Ok((orchestration, false));
            }
            return Err(Error::AlreadyOrchestrated {
                task,
                orchestration,
            });
        }
        if let Some(parent) = tasks::get(self.conn, root)?.parent_id
            && let Some(orchestration) = self.running_orchestration_of(parent)?
        {
            return Err(Error::AlreadyOrchestrated {
                task: root,
                orchestration,
            });
        }
        self.conn.execute(
            "INSERT INTO orchestrations (root_task, principal, state, started_at)
             VALUES (?1, ?2, 'running', ?3)",
            params![root, principal, self.now],
        )?;
        let id = self.conn.last_insert_rowid();
        self.conn.execute(
            &format!(
                "{SUBTREE} UPDATE tasks SET orchestration_id = ?2 WHERE id IN (SELECT id FROM sub)"
            ),
            params![root, id],
        )?;
        self.consider(root)?;
        Ok((id, true))
    }

    /// The running orchestration `task` belongs to, if any.
    pub fn running_orchestration_of(&self, task: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT o.id FROM tasks t JOIN orchestrations o ON o.id = t.orchestration_id
                 WHERE t.id = ?1 AND o.state = 'running'",
                [task],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stamps a task created under `parent` with the parent's running orchestration, and
    /// enqueues it if it is ready.
    pub fn adopt(&mut self, task: i64, parent: i64) -> Result<()> {
        if let Some(orchestration) = self.running_orchestration_of(parent)? {
            self.conn.execute(
                "UPDATE tasks SET orchestration_id = ?2 WHERE id = ?1",
                params![task, orchestration],
            )?;
            self.consider(task)?;
        }
        Ok(())
    }

    /// Stops orchestration `id`: its queued jobs are dropped; a running job finishes its run
    /// but nothing new starts. False if it was not running.
    pub fn stop(&mut self, id: i64) -> Result<bool> {
        let stopped = self.conn.execute(
            "UPDATE orchestrations SET state = 'stopped', finished_at = ?2
             WHERE id = ?1 AND state = 'running'",
            params![id, self.now],
        )? == 1;
        if stopped {
            self.conn.execute(
                "UPDATE jobs SET state = 'done', finished_at = ?2,
                     last_error = 'the orchestration was stopped'
                 WHERE state = 'queued' AND kind = ?3
                   AND json_extract(payload, '$.orchestration') = ?1",
                params![id, self.now, TASK_JOB],
            )?;
        }
        Ok(stopped)
    }

    fn set_state(
        &mut self,
        id: i64,
        state: TaskState,
        reason: Option<&str>,
        waiting: Option<Waiting>,
    ) -> Result<()> {
        let (kind, on) = waiting.map(Waiting::columns).unzip();
        self.conn.execute(
            "UPDATE tasks SET state = ?2, blocked_reason = ?3, waiting_kind = ?4, waiting_on = ?5,
                              updated_at = ?6
             WHERE id = ?1",
            params![id, state.name(), reason, kind, on, self.now],
        )?;
        self.effects.changed.insert(id);
        Ok(())
    }

    /// Looks at `id` and, if it is ready, starts it (a container) or enqueues its job.
    pub fn consider(&mut self, id: i64) -> Result<()> {
        let task = tasks::get(self.conn, id)?;
        let Some(orchestration) = task.orchestration else {
            return Ok(());
        };
        if !task.state.is_startable()
            || task.waiting.is_some()
            || self.running_orchestration_of(id)?.is_none()
            || !tasks::incomplete_dependencies(self.conn, id)?.is_empty()
        {
            return Ok(());
        }
        if let Some(parent) = task.parent_id {
            let parent = tasks::get(self.conn, parent)?;
            if parent.orchestration == Some(orchestration) && parent.state != TaskState::InProgress
            {
                return Ok(());
            }
        }
        let children = tasks::children(self.conn, id)?;
        if !children.is_empty() {
            self.set_state(id, TaskState::InProgress, None, None)?;
            if tasks::open_children(self.conn, id)?.is_empty() {
                return self.completed(id);
            }
            for child in children {
                self.consider(child)?;
            }
            return Ok(());
        }
        if task.play.is_none() && task.role.is_none() {
            // Nothing says how to do it: it waits for a person.
            return Ok(());
        }
        if task.state == TaskState::Pending {
            self.set_state(id, TaskState::Active, None, None)?;
        }
        let attempt: i64 =
            self.conn
                .query_row("SELECT attempt FROM tasks WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
        jobs::enqueue(
            self.conn,
            &NewJob {
                kind: TASK_JOB.to_owned(),
                payload: json!({ "task": id, "orchestration": orchestration }),
                key: Some(job_key(id, attempt)),
                priority: task.priority,
                delay_ms: 0,
                max_attempts: self.attempts,
            },
            self.now,
        )?;
        self.effects.enqueued.push(id);
        Ok(())
    }

    /// `id` is done: its dependents and its parent may now move.
    pub fn completed(&mut self, id: i64) -> Result<()> {
        self.set_state(id, TaskState::Completed, None, None)?;
        self.after_completed(id)
    }

    /// What `id` having completed (here or by a person) changes around it.
    pub fn after_completed(&mut self, id: i64) -> Result<()> {
        self.closed(id)?;
        for dependent in tasks::dependents(self.conn, id)? {
            self.consider(dependent)?;
        }
        Ok(())
    }

    /// `id` closed (completed or cancelled): a parent of the same orchestration whose children
    /// are all closed completes, and an orchestration whose root closed finishes.
    pub fn closed(&mut self, id: i64) -> Result<()> {
        let task = tasks::get(self.conn, id)?;
        let Some(orchestration) = task.orchestration else {
            return Ok(());
        };
        if get(self.conn, orchestration)?.root == id {
            if self.conn.execute(
                "UPDATE orchestrations SET state = 'finished', finished_at = ?2
                 WHERE id = ?1 AND state = 'running'",
                params![orchestration, self.now],
            )? == 1
            {
                self.effects.finished.push(orchestration);
            }
            return Ok(());
        }
        if let Some(parent) = task.parent_id {
            let parent = tasks::get(self.conn, parent)?;
            if parent.orchestration == Some(orchestration)
                && parent.state == TaskState::InProgress
                && self.running_orchestration_of(parent.id)?.is_some()
                && tasks::open_children(self.conn, parent.id)?.is_empty()
            {
                self.completed(parent.id)?;
            }
        }
        Ok(())
    }

    /// `id` failed with `reason`: every task downstream of it that has not started is blocked
    /// on it.
    pub fn failed(&mut self, id: i64, reason: &str) -> Result<()> {
        self.set_state(id, TaskState::Failed, Some(reason), None)?;
        self.after_failed(id, reason)
    }

    /// What `id` having failed (here or by a person) changes downstream: every task that
    /// depends on it, directly or through others, and has not started is blocked on it.
    pub fn after_failed(&mut self, id: i64, reason: &str) -> Result<()> {
        let downstream: Vec<i64> = self
            .conn
            .prepare_cached(
                "WITH RECURSIVE down(id) AS (
                     SELECT task_id FROM task_dependencies WHERE depends_on = ?1
                     UNION
                     SELECT d.task_id FROM task_dependencies d JOIN down ON d.depends_on = down.id
                 )
                 SELECT t.id FROM tasks t JOIN down ON t.id = down.id
                 JOIN orchestrations o ON o.id = t.orchestration_id
                 WHERE o.state = 'running' AND t.state IN ('pending', 'active')
                 ORDER BY t.id",
            )?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let why = format!("waits on task {id}, which failed: {reason}");
        for task in downstream {
            self.set_state(
                task,
                TaskState::Blocked,
                Some(&why),
                Some(Waiting::Dependency { task: id }),
            )?;
        }
        Ok(())
    }

    /// `id` was reset (now pending): it gets a fresh attempt, the tasks its failure blocked go
    /// back to pending, and it is enqueued again if it is ready.
    pub fn reset(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("UPDATE tasks SET attempt = attempt + 1 WHERE id = ?1", [id])?;
        // The reset deals with the dead letter of the failed attempt.
        self.conn.execute(
            "UPDATE jobs SET state = 'done', last_error = 'reset after: ' || COALESCE(last_error, '')
             WHERE state = 'dead' AND kind = ?2 AND json_extract(payload, '$.task') = ?1",
            params![id, TASK_JOB],
        )?;
        for task in self.blocked_on(Waiting::Dependency { task: id })? {
            self.set_state(task, TaskState::Pending, None, None)?;
        }
        self.consider(id)
    }

    /// The blocked tasks that wait on `waiting`, by id.
    fn blocked_on(&self, waiting: Waiting) -> Result<Vec<i64>> {
        let (kind, on) = waiting.columns();
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM tasks WHERE waiting_kind = ?1 AND waiting_on = ?2
                   AND state = 'blocked' ORDER BY id",
            )?
            .query_map(params![kind, on], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A person approved (`true`) or rejected asset `asset`: the tasks waiting on it complete
    /// or fail.
    pub fn reviewed(&mut self, asset: i64, approved: bool, note: Option<&str>) -> Result<()> {
        for task in self.blocked_on(Waiting::Approval { asset })? {
            if approved {
                self.completed(task)?;
            } else {
                let reason = match note.map(str::trim).filter(|n| !n.is_empty()) {
                    Some(note) => format!("its output (asset {asset}) was rejected: {note}"),
                    None => format!("its output (asset {asset}) was rejected"),
                };
                self.failed(task, &reason)?;
            }
        }
        Ok(())
    }

    /// A worker is about to run task `id`: true, with the task now in progress, if it is still
    /// active (or in progress, resumed after a crash); false if it moved on meanwhile
    /// (cancelled, completed by hand, blocked) and the job has nothing to do.
    pub fn begin(&mut self, id: i64) -> Result<bool> {
        let task = tasks::get(self.conn, id)?;
        match task.state {
            TaskState::Active => {
                self.set_state(id, TaskState::InProgress, None, None)?;
                Ok(true)
            }
            TaskState::InProgress if task.waiting.is_none() => Ok(true),
            _ => Ok(false),
        }
    }

    /// The run of task `id` passed; `in_review` is the asset that waits for a person, if the
    /// play asks for approval. A task that now has open children (its run planned them) stays
    /// in progress until they close. Nothing happens if the task moved on meanwhile.
    pub fn passed(&mut self, id: i64, in_review: Option<i64>) -> Result<()> {
        if tasks::get(self.conn, id)?.state != TaskState::InProgress {
            return Ok(());
        }
        if in_review.is_none() && !tasks::open_children(self.conn, id)?.is_empty() {
            return Ok(());
        }
        match in_review {
            Some(asset) => self.set_state(
                id,
                TaskState::Blocked,
                Some(&format!("its output (asset {asset}) waits for approval")),
                Some(Waiting::Approval { asset }),
            ),
            None => self.completed(id),
        }
    }

    /// The run of task `id` failed for good. Nothing happens if the task moved on meanwhile.
    pub fn gave_up(&mut self, id: i64, reason: &str) -> Result<()> {
        if tasks::get(self.conn, id)?.state != TaskState::InProgress {
            return Ok(());
        }
        self.failed(id, reason)
    }

    /// The job of task `id` will be tried again later: the task goes back to active.
    pub fn retrying(&mut self, id: i64) -> Result<()> {
        if tasks::get(self.conn, id)?.state == TaskState::InProgress {
            self.set_state(id, TaskState::Active, None, None)?;
        }
        Ok(())
    }

    /// Writes the graph changes for every task moved so far, and answers the effects.
    pub fn finish(self) -> Result<Effects> {
        for id in &self.effects.changed {
            let snapshot = tasks::snapshot(self.conn, *id)?;
            outbox::push(self.conn, &GraphChange::Task(snapshot), self.now)?;
        }
        Ok(self.effects)
    }
}

/// The idempotency key of task `id`'s job at `attempt` (bumped by each reset); also the key of
/// its run and, with the step id, of its model calls.
pub fn job_key(id: i64, attempt: i64) -> String {
    format!("task:{id}:{attempt}")
}

/// The task a `task.run` job is for.
pub fn job_task(payload: &serde_json::Value) -> Result<i64> {
    payload
        .get("task")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| Error::Storage {
            message: "a task job without its task".to_owned(),
        })
}

/// Running orchestrations, oldest first (a worker pool resumes them at start).
pub fn running(conn: &Connection) -> Result<Vec<i64>> {
    Ok(conn
        .prepare("SELECT id FROM orchestrations WHERE state = 'running' ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// How many runs the scheduler started since `since` (the rate guard counts these).
pub fn runs_started_since(conn: &Connection, since: Millis) -> Result<u32> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM runs WHERE idempotency_key IS NOT NULL AND created_at >= ?1",
        [since],
        |r| r.get(0),
    )?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
