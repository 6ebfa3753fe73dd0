//! A task's job carried out: the run its play or role makes (as the orchestration's starter,
//! within what the role and the starter both hold), and what the outcome changes — the task's
//! state, a decomposition's subtasks, a retry or a dead letter — in one transaction fenced by
//! the job's lease.

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::access::roles::Restriction;
use crate::assets::AssetState;
use crate::error::{Error, ErrorKind, Result};
use crate::orchestration::bookkeeping::{self, Bookkeeping, Orchestration};
use crate::orchestration::jobs::{self, JobState};
use crate::plays::adhoc::AdhocRequest;
use crate::plays::spec::{Approval, Play};
use crate::providers::ProviderError;
use crate::runs::RunRequest;
use crate::tasks::commands::{NewSubtask, check_subtasks, insert_subtasks};
use crate::tasks::{self, Task, TaskState};
use crate::vault::{Atelier, Ctx, OpenVault, authorize_with, lock};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::Map;

/// How a task's run ended, for the job.
pub(crate) enum Outcome {
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

/// The capabilities a run of `play` exercises inside the run: reading sources, banking its
/// output. The task's role and the starter must both hold each (no confused deputy).
pub(crate) fn exercised(play: &Play) -> Vec<Capability> {
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
pub(crate) fn plan_of(run: &crate::runs::RunView) -> std::result::Result<Vec<NewSubtask>, String> {
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
pub(crate) fn spawn(
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
    let spawned = u32::try_from(bookkeeping::get(ctx.tx, orchestration)?.spawned).unwrap_or(0);
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
pub(crate) fn goal_of(task: &Task) -> String {
    if task.description.trim().is_empty() {
        task.title.clone()
    } else {
        format!("{}\n\n{}", task.title, task.description)
    }
}

/// The text an ad-hoc run of a task without a play gets as its Task: its title, description,
/// and the outputs of the tasks it depends on.
pub(crate) fn adhoc_task(db: &rusqlite::Connection, task: &Task) -> Result<String> {
    let mut text = goal_of(task);
    let context = crate::runs::records::task_context(db, task.id)?;
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
    /// Runs `task` as its role, within what `starter` may do now.
    pub(crate) fn run_task(
        &self,
        open: &OpenVault,
        starter: &Principal,
        task: &Task,
        key: &str,
    ) -> Outcome {
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
    pub(crate) fn delegation_allowed(
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
    pub(crate) fn record_outcome(
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
            let mut books = Bookkeeping::within(ctx);
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
                    target: Target::Task(id),
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
    pub(crate) fn scheduler_write<T>(
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

    pub(crate) fn job_done(&self, open: &OpenVault, job: i64, worker: &str) -> Result<()> {
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
