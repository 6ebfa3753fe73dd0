//! Orchestration commands: start the scheduler on a task subtree, follow it, stop it; and the
//! worker step that leases one task job, runs the task's play as its role within what the
//! starter may do, and records the outcome in the transaction that completes the job.

use super::runs::RunRequest;
use super::tasks::{NewSubtask, check_subtasks, insert_subtasks};
use super::{Atelier, Ctx, OpenVault, authorize_with, lock};
use crate::assets::AssetState;
use crate::audit::Entry;
use crate::auth::{Capability, Principal};
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::{self, JobState, QueueDepth};
use crate::orchestrator::{self, Bookkeeping, Orchestration, OrchestrationState, TASK_JOB};
use crate::plays::adhoc::AdhocRequest;
use crate::plays::spec::{Approval, Play};
use crate::providers::ProviderError;
use crate::roles::Restriction;
use crate::tasks::{self, Task, TaskState};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How long a worker holds a job before it must renew the lease.
pub const LEASE_MS: i64 = 60_000;

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

/// How a task's run ended, for the job.
enum Outcome {
    Passed {
        run: i64,
        in_review: Option<i64>,
        /// A decomposition's subtasks, to create under the task.
        plan: Option<Vec<NewSubtask>>,
    },
    /// Worth another attempt (a provider or the vault was unavailable, a crash).
    Retry(String, Option<i64>),
    /// Another attempt would end the same way.
    Fail(String, Option<i64>),
}

/// The scheduler's bookkeeping inside a command's transaction.
pub(super) fn books<'c>(ctx: &'c Ctx<'_, '_>) -> Bookkeeping<'c> {
    Bookkeeping::new(ctx.tx, ctx.now, ctx.config.orchestration.attempts)
}

fn view(db: &rusqlite::Connection, id: i64, now: i64) -> Result<OrchestrationView> {
    let orchestration = orchestrator::get(db, id)?;
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

/// The capabilities a run of `play` exercises inside the run: reading sources, banking its
/// output. The task's role and the starter must both hold each (no confused deputy).
fn exercised(play: &Play) -> Vec<Capability> {
    let mut needs = Vec::new();
    if play
        .steps
        .iter()
        .any(|s| !s.sources.canon_tags.is_empty() || s.sources.search.is_some())
    {
        needs.push(Capability::VaultRead);
    }
    if play.approval != Approval::Manual {
        needs.push(Capability::BankAssets);
    }
    if play.decomposes {
        needs.push(Capability::SpawnTasks);
    }
    needs
}

/// What a decomposition play answers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    subtasks: Vec<NewSubtask>,
}

/// The subtasks in a decomposition run's output.
fn plan_of(run: &super::RunView) -> std::result::Result<Vec<NewSubtask>, String> {
    let output = run
        .steps
        .iter()
        .rev()
        .find_map(|s| s.output.as_deref().filter(|_| s.status == "passed"))
        .ok_or_else(|| "its plan run has no output".to_owned())?;
    serde_json::from_str::<Plan>(output.trim())
        .map(|plan| plan.subtasks)
        .map_err(|e| format!("its plan is not a list of subtasks ({e})"))
}

/// Creates a decomposition's subtasks under `task`, within the loop guards: subtasks per task
/// (`orchestration.max_spawned_per_task`, lowered by the role's `max_spawned_tasks`) and per
/// orchestration (`orchestration.max_spawned_per_orchestration`). All are created, or none.
fn spawn(
    ctx: &Ctx<'_, '_>,
    orchestration: i64,
    task: &Task,
    subtasks: &[NewSubtask],
) -> Result<Vec<i64>> {
    let rules = &ctx.config.orchestration;
    let asked = u32::try_from(subtasks.len()).unwrap_or(u32::MAX);
    let role_cap = task
        .role
        .as_deref()
        .and_then(|r| ctx.roles.get(r))
        .and_then(|role| {
            role.restrictions.iter().find_map(|r| match r {
                Restriction::MaxSpawnedTasks(n) => Some((*n, role.name.clone())),
                _ => None,
            })
        });
    let (per_task, why) = match role_cap {
        Some((n, role)) if n < rules.max_spawned_per_task => {
            (n, format!("role {role}'s max_spawned_tasks"))
        }
        _ => (
            rules.max_spawned_per_task,
            "orchestration.max_spawned_per_task".to_owned(),
        ),
    };
    if asked > per_task {
        return Err(Error::GuardRefused {
            guard: "spawned_per_task".to_owned(),
            detail: format!(
                "the plan for task {} has {asked} subtasks; at most {per_task} per task ({why})",
                task.id
            ),
        });
    }
    let spawned = u32::try_from(orchestrator::get(ctx.tx, orchestration)?.spawned).unwrap_or(0);
    let cap = rules.max_spawned_per_orchestration;
    if spawned + asked > cap {
        return Err(Error::GuardRefused {
            guard: "spawned_per_orchestration".to_owned(),
            detail: format!(
                "orchestration {orchestration} has created {spawned} subtasks; {asked} more would pass its cap of {cap} (orchestration.max_spawned_per_orchestration)"
            ),
        });
    }
    check_subtasks(subtasks)?;
    let ids = insert_subtasks(ctx, task.id, subtasks)?;
    ctx.tx.execute(
        "UPDATE orchestrations SET spawned = spawned + ?2 WHERE id = ?1",
        params![orchestration, asked],
    )?;
    Ok(ids)
}

/// A task as a goal in words: its title, and its description when it has one.
fn goal_of(task: &Task) -> String {
    if task.description.trim().is_empty() {
        task.title.clone()
    } else {
        format!("{}\n\n{}", task.title, task.description)
    }
}

/// The text an ad-hoc run of a task without a play gets as its Task: its title, description,
/// and the outputs of the tasks it depends on.
fn adhoc_task(db: &rusqlite::Connection, task: &Task) -> Result<String> {
    let mut text = goal_of(task);
    let context = super::runs::task_context(db, task.id)?;
    for upstream in context
        .get("upstream")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let title = upstream["title"].as_str().unwrap_or_default();
        let output = upstream["output"].as_str().unwrap_or_default();
        text.push_str(&format!("\n\n## From \"{title}\"\n\n{output}"));
    }
    Ok(text)
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
            let mut books = books(ctx);
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
                    target: format!("orchestration:{id}"),
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
            orchestrator::list(db)?
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
            let current = orchestrator::get(ctx.tx, id)?;
            if !books(ctx).stop(id)? {
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
                    target: format!("orchestration:{id}"),
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
        let task_id = orchestrator::job_task(&job.payload)?;
        let key = job.key.clone().unwrap_or_else(|| format!("job:{}", job.id));
        let orchestration = job
            .payload
            .get("orchestration")
            .and_then(serde_json::Value::as_i64)
            .map(|id| orchestrator::get(&lock(&open.db), id))
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
        let started = orchestrator::runs_started_since(&lock(&open.db), self.now() - 60_000)?;
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
            let mut books = books(ctx);
            let go = books.begin(task_id)?;
            books.finish()?;
            Ok((
                go,
                Entry {
                    action: "task.transition",
                    target: format!("task:{task_id}"),
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

    /// Runs `task` as its role, within what `starter` may do now.
    fn run_task(&self, open: &OpenVault, starter: &Principal, task: &Task, key: &str) -> Outcome {
        let request = match (&task.play, &task.role) {
            (Some(play), _) => RunRequest {
                play: play.clone(),
                adhoc: None,
                params: Map::new(),
                model: None,
                task: Some(task.id),
                idempotency_key: Some(key.to_owned()),
            },
            (None, Some(role)) => RunRequest {
                play: String::new(),
                adhoc: Some(AdhocRequest {
                    role: role.clone(),
                    canon_tags: Vec::new(),
                    search: None,
                    project: None,
                    passages: None,
                    budget_tokens: None,
                    shape: None,
                    expectations: Vec::new(),
                    task: match adhoc_task(&lock(&open.db), task) {
                        Ok(text) => text,
                        Err(e) => return Outcome::Retry(e.to_string(), None),
                    },
                    task_class: None,
                }),
                params: Map::new(),
                model: None,
                task: Some(task.id),
                idempotency_key: Some(key.to_owned()),
            },
            (None, None) => {
                return Outcome::Fail("it has neither a play nor a role".to_owned(), None);
            }
        };
        let play = match self.requested_play(&request) {
            Ok(loaded) => loaded.play,
            Err(e) => return Outcome::Fail(e.to_string(), None),
        };
        let mut request = request;
        if play.parameters.iter().any(|p| p.name == "goal") {
            // A play run on a task takes the task as its goal (the shipped `plan` does).
            request
                .params
                .insert("goal".to_owned(), serde_json::Value::String(goal_of(task)));
        }
        if let Err(e) = self.delegation_allowed(open, starter, task, &play) {
            return Outcome::Fail(e.to_string(), None);
        }
        match self.run_play(starter, &request, &mut |_| {}) {
            Ok(run)
                if run.status == "passed"
                    && run.asset.is_none()
                    && play.approval != Approval::Manual =>
            {
                // Its output must be banked (and maybe reviewed) before the task can count as
                // done; the next attempt banks the passed run without calling a model.
                let why = run
                    .message
                    .clone()
                    .unwrap_or_else(|| "its output was not banked".to_owned());
                Outcome::Retry(why, Some(run.id))
            }
            Ok(run) if run.status == "passed" => {
                let in_review = run.asset.filter(|asset| {
                    lock(&open.db)
                        .query_row("SELECT state FROM assets WHERE id = ?1", [asset], |r| {
                            r.get::<_, String>(0)
                        })
                        .optional()
                        .ok()
                        .flatten()
                        .is_some_and(|s| s == AssetState::InReview.name())
                });
                let plan = if play.decomposes {
                    match plan_of(&run) {
                        Ok(plan) => Some(plan),
                        Err(why) => return Outcome::Fail(why, Some(run.id)),
                    }
                } else {
                    None
                };
                Outcome::Passed {
                    run: run.id,
                    in_review,
                    plan,
                }
            }
            Ok(run) => {
                let message = run
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("run {} {}", run.id, run.status));
                // A refused key or request, or output that failed its gates, would fail the
                // same way again; an overloaded, slow or unreachable provider may not.
                let transient = run
                    .steps
                    .iter()
                    .filter_map(|s| s.error.clone())
                    .filter_map(|e| serde_json::from_value::<ProviderError>(e).ok())
                    .any(|e| e.retryable() || matches!(e, ProviderError::Unreachable { .. }));
                match run.reason.as_deref() {
                    Some("gates") => Outcome::Fail(message, Some(run.id)),
                    Some("provider") if !transient => Outcome::Fail(message, Some(run.id)),
                    _ => Outcome::Retry(message, Some(run.id)),
                }
            }
            Err(e) => match e.kind() {
                ErrorKind::Unavailable | ErrorKind::Internal => Outcome::Retry(e.to_string(), None),
                ErrorKind::Refused => Outcome::Fail(e.to_string(), None),
            },
        }
    }

    /// The task's role and the starter must both hold what the run exercises; a task without
    /// a role acts as each step's role, which `run_play` checks.
    fn delegation_allowed(
        &self,
        open: &OpenVault,
        starter: &Principal,
        task: &Task,
        play: &Play,
    ) -> Result<()> {
        let role = task
            .role
            .as_deref()
            .map(|name| {
                open.roles
                    .get(name)
                    .ok_or_else(|| Error::not_found("role", name))
            })
            .transpose()?;
        let db = lock(&open.db);
        for need in exercised(play) {
            authorize_with(&db, open, starter, need, self.now())?;
            if let Some(role) = role
                && !role.capabilities.contains(&need)
            {
                return Err(Error::Denied {
                    principal: format!("role:{}", role.name),
                    capability: need,
                });
            }
        }
        Ok(())
    }

    /// Completes or fails the job and moves the task, in one transaction.
    #[allow(clippy::too_many_arguments)]
    fn record_outcome(
        &self,
        open: &OpenVault,
        starter: &Principal,
        orchestration: &Orchestration,
        job: &jobs::Job,
        worker: &str,
        task: &Task,
        outcome: Outcome,
        attempts_left: bool,
    ) -> Result<(TaskState, Option<i64>, Option<String>)> {
        let id = task.id;
        let recorded = self.scheduler_write(open, starter, job.id, worker, |ctx| {
            let mut books = books(ctx);
            let (run, note, summary) = match &outcome {
                Outcome::Passed {
                    run,
                    in_review,
                    plan,
                } => {
                    if !jobs::complete(ctx.tx, job.id, worker, ctx.now)? {
                        return Err(lease_lost(job.id));
                    }
                    let spawned = match plan {
                        Some(plan) => spawn(ctx, orchestration.id, task, plan)?,
                        None => Vec::new(),
                    };
                    books.passed(id, *in_review)?;
                    let note = match (in_review, spawned.is_empty()) {
                        (Some(a), _) => Some(format!("asset {a} waits for approval")),
                        (None, false) => Some(format!("planned {} subtask(s)", spawned.len())),
                        (None, true) => None,
                    };
                    (Some(*run), note, format!("run {run} passed"))
                }
                Outcome::Retry(why, run) if attempts_left => {
                    if jobs::fail(ctx.tx, job.id, worker, why, ctx.now)?.is_none() {
                        return Err(lease_lost(job.id));
                    }
                    books.retrying(id)?;
                    let wait = jobs::backoff(job.attempts) / 1000;
                    let note = format!("{why}; trying again in {wait} s");
                    (*run, Some(note.clone()), note)
                }
                Outcome::Retry(why, run) | Outcome::Fail(why, run) => {
                    let dead = matches!(outcome, Outcome::Retry(..));
                    let done = if dead {
                        jobs::fail(ctx.tx, job.id, worker, why, ctx.now)? == Some(JobState::Dead)
                    } else {
                        jobs::complete(ctx.tx, job.id, worker, ctx.now)?
                    };
                    if !done {
                        return Err(lease_lost(job.id));
                    }
                    books.gave_up(id, why)?;
                    (*run, Some(why.clone()), format!("failed: {why}"))
                }
            };
            books.finish()?;
            let state = tasks::get(ctx.tx, id)?.state;
            Ok((
                (state, run, note),
                Entry {
                    action: "task.run",
                    target: format!("task:{id}"),
                    summary: format!(
                        "orchestration {} ran task {id}: {summary}; task {}",
                        orchestration.id,
                        state.name()
                    ),
                },
            ))
        });
        let recorded = match (recorded, &outcome) {
            // A plan a guard refused, or that cannot be created (an unknown role, too deep):
            // nothing of it was created; the task fails saying why.
            (
                Err(e),
                Outcome::Passed {
                    run, plan: Some(_), ..
                },
            ) if e.kind() == ErrorKind::Refused => {
                let why = format!("its plan was not created: {e}");
                return self.record_outcome(
                    open,
                    starter,
                    orchestration,
                    job,
                    worker,
                    task,
                    Outcome::Fail(why, Some(*run)),
                    attempts_left,
                );
            }
            (recorded, _) => recorded?,
        };
        Ok(recorded.unwrap_or((
            task.state,
            None,
            Some("the job's lease was lost".to_owned()),
        )))
    }

    /// A scheduler change made as the starter. If the starter may no longer change tasks, the
    /// job becomes a dead letter saying so (`Ok(None)`); a lost lease is `Ok(None)` too.
    fn scheduler_write<T>(
        &self,
        open: &OpenVault,
        starter: &Principal,
        job: i64,
        worker: &str,
        change: impl FnOnce(&Ctx<'_, '_>) -> Result<(T, Entry)>,
    ) -> Result<Option<T>> {
        match self.write(starter, Capability::TasksWrite, change) {
            Ok(out) => Ok(Some(out)),
            Err(Error::Denied {
                principal,
                capability,
            }) => {
                let why = format!("{principal} may no longer {capability}");
                let db = lock(&open.db);
                db.execute(
                    "UPDATE jobs SET state = 'dead', last_error = ?3, finished_at = ?4,
                         lease_owner = NULL, lease_until = NULL
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![job, worker, why, self.now()],
                )?;
                Ok(None)
            }
            Err(Error::InvalidInput { field, .. }) if field == "lease" => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn job_done(&self, open: &OpenVault, job: i64, worker: &str) -> Result<()> {
        jobs::complete(&lock(&open.db), job, worker, self.now())?;
        Ok(())
    }
}

fn lease_lost(job: i64) -> Error {
    Error::invalid(
        "lease",
        format!("job {job} went back to the queue before its run ended"),
    )
}
