//! Orchestration commands: start the scheduler on a task subtree, follow it, stop it; and the
//! worker step that leases one task job, runs the task's play as its role within what the
//! starter may do, and records the outcome in the transaction that completes the job.

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::error::{Error, Result};
use crate::orchestration::bookkeeping::{
    self, Bookkeeping, Orchestration, OrchestrationState, TASK_JOB,
};
use crate::orchestration::jobs::{self, QueueDepth};
use crate::tasks::{self, TaskState};
use crate::vault::{Atelier, lock};
use rusqlite::{TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a worker holds a job before it must renew the lease.
pub const LEASE_MS: i64 = 60_000;

/// A subtree to work through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct OrchestrateRequest {
    /// The root task.
    pub root: i64,
}

/// How many tasks of an orchestration are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TaskCounts {
    /// Not ready yet.
    pub pending: i64,
    /// Ready, waiting for a worker.
    pub active: i64,
    /// Running.
    pub in_progress: i64,
    /// Waiting on a failed dependency or on a person's approval.
    pub blocked: i64,
    /// Done.
    pub completed: i64,
    /// Failed; `reset` retries.
    pub failed: i64,
    /// Abandoned.
    pub cancelled: i64,
}

/// A task waiting for a person to review its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReviewWait {
    /// The task.
    pub task: i64,
    /// Its title.
    pub title: String,
    /// The asset to approve or reject.
    pub asset: i64,
}

/// A job out of attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeadLetter {
    /// The job.
    pub job: i64,
    /// Its task.
    pub task: i64,
    /// Why its last attempt failed.
    pub error: String,
}

/// A task whose job waits before its next try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Held {
    /// The task.
    pub task: i64,
    /// Why it waits.
    pub reason: String,
    /// When it is tried again, ms since the epoch.
    pub until: i64,
}

/// An orchestration and where its tasks are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OrchestrationView {
    /// The orchestration.
    #[serde(flatten)]
    pub orchestration: Orchestration,
    /// Its tasks by state.
    pub tasks: TaskCounts,
    /// Tasks waiting for approval.
    pub in_review: Vec<ReviewWait>,
    /// Its jobs.
    pub jobs: QueueDepth,
    /// Its dead letters.
    pub dead_letters: Vec<DeadLetter>,
    /// Tasks whose job waits before its next try, and why (a guard, a failed attempt).
    pub held: Vec<Held>,
    /// Running, with nothing queued or held: it moves again only when a person acts (approves,
    /// resets, completes a task by hand).
    pub idle: bool,
}

/// What a worker tells while it works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkEvent {
    /// A task's run is starting.
    Started {
        /// The orchestration.
        orchestration: i64,
        /// The task.
        task: i64,
        /// Its title.
        title: String,
    },
    /// A task's run ended and the task moved.
    Finished {
        /// The orchestration.
        orchestration: i64,
        /// The task.
        task: i64,
        /// Its state now.
        state: TaskState,
        /// The run, when one was made.
        run: Option<i64>,
        /// Why it failed, will be retried, or waits.
        note: Option<String>,
    },
    /// A guard held a task back for now.
    Held {
        /// The task.
        task: i64,
        /// Which guard and until when.
        reason: String,
    },
}

/// What one worker step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worked {
    /// Nothing was due.
    Idle,
    /// A job was handled.
    Job,
}

impl Atelier {
    /// Starts the scheduler on `root`'s subtree (or answers the orchestration already working
    /// through it): ready tasks get jobs, and this process's workers, if it runs any, take
    /// them. Needs `tasks_write` and `run_plays`; every job later acts within what `who` may
    /// do then.
    pub fn orchestrate(
        &self,
        who: &Principal,
        request: &OrchestrateRequest,
    ) -> Result<OrchestrationView> {
        if request.root <= 0 {
            return Err(Error::invalid(
                "root",
                "a task id is a positive whole number",
            ));
        }
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::RunPlays)?;
        self.refuse_when_switched_off(open)?;
        let id = self.write(who, Capability::TasksWrite, |ctx| {
            let mut books = Bookkeeping::within(ctx);
            let (id, created) = books.start(request.root, &who.as_text())?;
            let effects = books.finish()?;
            let summary = if created {
                format!(
                    "started orchestration {id} on task {} ({} task(s) ready)",
                    request.root,
                    effects.enqueued.len()
                )
            } else {
                format!(
                    "orchestration {id} is already working through task {}",
                    request.root
                )
            };
            Ok((
                id,
                Entry {
                    action: "orchestration.start",
                    target: Target::Orchestration(id),
                    summary,
                },
            ))
        })?;
        tracing::info!(orchestration = id, root = request.root, principal = %who.as_text(), "orchestration started");
        self.orchestration_show(who, id)
    }

    /// One orchestration and where its tasks are. Needs `vault_read`.
    pub fn orchestration_show(&self, who: &Principal, id: i64) -> Result<OrchestrationView> {
        let now = self.now();
        self.read(who, Capability::VaultRead, |db, _| view(db, id, now))
    }

    /// Every orchestration, newest first. Needs `vault_read`.
    pub fn orchestrations_list(&self, who: &Principal) -> Result<Vec<OrchestrationView>> {
        let now = self.now();
        self.read(who, Capability::VaultRead, |db, _| {
            bookkeeping::list(db)?
                .into_iter()
                .take(100)
                .map(|o| view(db, o.id, now))
                .collect()
        })
    }

    /// Stops an orchestration: queued jobs are dropped, a run going finishes, nothing new
    /// starts; its tasks stay where they are. Needs `tasks_write`.
    pub fn orchestration_stop(&self, who: &Principal, id: i64) -> Result<OrchestrationView> {
        self.write(who, Capability::TasksWrite, |ctx| {
            let current = bookkeeping::get(ctx.tx, id)?;
            if !Bookkeeping::within(ctx).stop(id)? {
                return Err(Error::invalid(
                    "orchestration",
                    format!(
                        "orchestration {id} is {}, not running",
                        current.state.name()
                    ),
                ));
            }
            Ok((
                (),
                Entry {
                    action: "orchestration.stop",
                    target: Target::Orchestration(id),
                    summary: format!("stopped orchestration {id}"),
                },
            ))
        })?;
        tracing::info!(orchestration = id, principal = %who.as_text(), "orchestration stopped");
        self.orchestration_show(who, id)
    }

    /// Waits until something may have made work ready, at most `timeout`.
    pub fn wait_for_work(&self, timeout: Duration) {
        match self.open_vault() {
            Ok(open) => open.wake.wait(timeout),
            Err(_) => std::thread::sleep(timeout),
        }
    }

    /// Wakes this process's waiting workers (a pool stopping, or work enqueued elsewhere).
    pub fn wake_workers(&self) {
        if let Ok(open) = self.open_vault() {
            open.wake.notify();
        }
    }

    /// How many tasks run at once (`orchestration.concurrency`); 1 when sealed.
    pub fn concurrency(&self) -> u32 {
        self.open_vault()
            .map_or(1, |open| open.config.orchestration.concurrency)
    }

    /// Renews the leases of every worker named `prefix…`; a worker pool calls it well within
    /// [`LEASE_MS`].
    pub fn renew_leases(&self, prefix: &str) -> Result<usize> {
        let open = self.open_vault()?;
        Ok(jobs::heartbeat_all(
            &lock(&open.db),
            prefix,
            self.now(),
            LEASE_MS,
        )?)
    }

    /// One worker step: leases the next due task job as `worker`, runs the task and records
    /// the outcome. Answers [`Worked::Idle`] when nothing was due (or the kill switch is on).
    pub fn work_next(&self, worker: &str, on_event: &mut dyn FnMut(WorkEvent)) -> Result<Worked> {
        let open = self.open_vault()?;
        if self.refuse_when_switched_off(open).is_err() {
            return Ok(Worked::Idle);
        }
        let job = {
            let mut db = lock(&open.db);
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let job = jobs::lease(&tx, worker, self.now(), LEASE_MS)?;
            tx.commit()?;
            job
        };
        let Some(job) = job else {
            return Ok(Worked::Idle);
        };
        let task_id = bookkeeping::job_task(&job.payload)?;
        let key = job.key.clone().unwrap_or_else(|| format!("job:{}", job.id));
        let orchestration = job
            .payload
            .get("orchestration")
            .and_then(serde_json::Value::as_i64)
            .map(|id| bookkeeping::get(&lock(&open.db), id))
            .transpose()?;
        let Some(orchestration) = orchestration.filter(|o| o.state == OrchestrationState::Running)
        else {
            self.job_done(open, job.id, worker)?;
            return Ok(Worked::Job);
        };
        let starter: Principal = orchestration
            .principal
            .parse()
            .map_err(|_| Error::Storage {
                message: format!("orchestration {} has no valid principal", orchestration.id),
            })?;

        // The rate guard: runs the scheduler started in the last minute.
        let cap = open.config.orchestration.max_runs_per_minute;
        let started = bookkeeping::runs_started_since(&lock(&open.db), self.now() - 60_000)?;
        if started >= cap {
            let reason = format!(
                "rate guard: {started} runs started in the last minute, at most {cap} \
                 (orchestration.max_runs_per_minute); held for 5 s"
            );
            jobs::postpone(&lock(&open.db), job.id, worker, self.now() + 5_000, &reason)?;
            on_event(WorkEvent::Held {
                task: task_id,
                reason,
            });
            return Ok(Worked::Idle);
        }

        let go = self.scheduler_write(open, &starter, job.id, worker, |ctx| {
            let mut books = Bookkeeping::within(ctx);
            let go = books.begin(task_id)?;
            books.finish()?;
            Ok((
                go,
                Entry {
                    action: "task.transition",
                    target: Target::Task(task_id),
                    summary: format!("orchestration {} started task {task_id}", orchestration.id),
                },
            ))
        })?;
        if go != Some(true) {
            if go == Some(false) {
                self.job_done(open, job.id, worker)?;
            }
            return Ok(Worked::Job);
        }
        let task = tasks::get(&lock(&open.db), task_id)?;
        on_event(WorkEvent::Started {
            orchestration: orchestration.id,
            task: task_id,
            title: task.title.clone(),
        });
        let outcome = self.run_task(open, &starter, &task, &key);
        let attempts_left = job.attempts < job.max_attempts;
        let (state, run, note) = self.record_outcome(
            open,
            &starter,
            &orchestration,
            &job,
            worker,
            &task,
            outcome,
            attempts_left,
        )?;
        on_event(WorkEvent::Finished {
            orchestration: orchestration.id,
            task: task_id,
            state,
            run,
            note,
        });
        Ok(Worked::Job)
    }
}

fn view(db: &rusqlite::Connection, id: i64, now: i64) -> Result<OrchestrationView> {
    let orchestration = bookkeeping::get(db, id)?;
    let mut counts = TaskCounts::default();
    let mut stmt = db.prepare_cached(
        "SELECT state, COUNT(*) FROM tasks WHERE orchestration_id = ?1 GROUP BY state",
    )?;
    for row in stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (state, n) = row?;
        let slot = match state.parse::<TaskState>() {
            Ok(TaskState::Pending) => &mut counts.pending,
            Ok(TaskState::Active) => &mut counts.active,
            Ok(TaskState::InProgress) => &mut counts.in_progress,
            Ok(TaskState::Blocked) => &mut counts.blocked,
            Ok(TaskState::Completed) => &mut counts.completed,
            Ok(TaskState::Failed) => &mut counts.failed,
            Ok(TaskState::Cancelled) | Err(()) => &mut counts.cancelled,
        };
        *slot += n;
    }
    let in_review = db
        .prepare_cached(
            "SELECT id, title, waiting_on FROM tasks
             WHERE orchestration_id = ?1 AND waiting_kind = 'approval' AND state = 'blocked'
             ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(ReviewWait {
                task: r.get(0)?,
                title: r.get(1)?,
                asset: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let jobs = jobs::depth(db, now, Some(id))?;
    let dead_letters = db
        .prepare_cached(
            "SELECT id, json_extract(payload, '$.task'), COALESCE(last_error, '') FROM jobs
             WHERE state = 'dead' AND kind = ?2 AND json_extract(payload, '$.orchestration') = ?1
             ORDER BY id",
        )?
        .query_map(params![id, TASK_JOB], |r| {
            Ok(DeadLetter {
                job: r.get(0)?,
                task: r.get(1)?,
                error: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let held = db
        .prepare_cached(
            "SELECT json_extract(payload, '$.task'), last_error, run_at FROM jobs
             WHERE state = 'queued' AND run_at > ?2 AND last_error IS NOT NULL AND kind = ?3
               AND json_extract(payload, '$.orchestration') = ?1
             ORDER BY run_at, id",
        )?
        .query_map(params![id, now, TASK_JOB], |r| {
            Ok(Held {
                task: r.get(0)?,
                reason: r.get(1)?,
                until: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let idle = orchestration.state == OrchestrationState::Running
        && jobs.ready + jobs.waiting + jobs.leased == 0;
    Ok(OrchestrationView {
        orchestration,
        tasks: counts,
        in_review,
        jobs,
        dead_letters,
        held,
        idle,
    })
}
