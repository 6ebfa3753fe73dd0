//! Runs and their steps in SQLite: a run's row and its steps' rows written as it starts, as
//! each step goes and as it ends; the run as read back; the upstream outputs a task's run
//! sees; and the runs a dead process left behind, marked interrupted.

use super::engine::{StepFailure, StepRecord};
use super::{RunView, StepView};
use crate::access::audit::{self, Entry, Target};
use crate::access::auth::Principal;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::plays::spec::Play;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

/// What a new run's row holds.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// The play, as loaded.
    pub play: &'a Play,
    /// The play's text, kept with the run.
    pub play_text: &'a str,
    /// Bound parameters.
    pub params: &'a Map<String, Value>,
    /// Who runs it.
    pub principal: &'a Principal,
    /// The task it is for.
    pub task: Option<i64>,
    /// Its idempotency key.
    pub idempotency_key: Option<&'a str>,
}

/// Inserts a running run with a pending row per step; its id.
pub fn insert(tx: &Connection, run: &NewRun<'_>, now: Millis) -> Result<i64> {
    tx.execute(
        "INSERT INTO runs (play, play_version, play_text, params, principal, task_id, status, created_at, started_at, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?7, ?8)",
        params![
            run.play.name,
            run.play.version,
            run.play_text,
            Value::Object(run.params.clone()).to_string(),
            run.principal.as_text(),
            run.task,
            now,
            run.idempotency_key
        ],
    )?;
    let id = tx.last_insert_rowid();
    for (position, step) in run.play.steps.iter().enumerate() {
        tx.execute(
            "INSERT INTO run_steps (run_id, step, position, status, role) VALUES (?1, ?2, ?3, 'pending', ?4)",
            params![id, step.id, i64::try_from(position).unwrap_or(0), step.role],
        )?;
    }
    Ok(id)
}

/// Ends a run: its status, totals over its steps, and its unfinished steps cancelled or
/// skipped.
pub fn finish(
    tx: &Connection,
    run: i64,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: Millis,
) -> Result<()> {
    tx.execute(
        "UPDATE runs SET status = ?2, reason = ?3, message = ?4, finished_at = ?5,
            input_tokens = (SELECT COALESCE(SUM(input_tokens), 0) FROM run_steps WHERE run_id = ?1),
            output_tokens = (SELECT COALESCE(SUM(output_tokens), 0) FROM run_steps WHERE run_id = ?1),
            cost_micros = (SELECT COALESCE(SUM(cost_micros), 0) FROM run_steps WHERE run_id = ?1)
         WHERE id = ?1",
        params![run, status, reason, message, now],
    )?;
    tx.execute(
        "UPDATE run_steps SET status = CASE WHEN ?2 = 'cancelled' THEN 'cancelled' ELSE 'skipped' END
         WHERE run_id = ?1 AND status IN ('pending', 'running')",
        params![run, status],
    )?;
    Ok(())
}

/// Replaces a run's message (a passed run that could not be banked says why).
pub fn set_message(db: &Connection, run: i64, message: &str) -> Result<()> {
    db.execute(
        "UPDATE runs SET message = ?2 WHERE id = ?1",
        params![run, message],
    )?;
    Ok(())
}

/// The first run that passed under `key`.
pub fn passed_under_key(db: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(db
        .query_row(
            "SELECT id FROM runs WHERE idempotency_key = ?1 AND status = 'passed'
             ORDER BY id LIMIT 1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Run ids, newest first.
pub fn newest(db: &Connection, limit: u32) -> Result<Vec<i64>> {
    Ok(db
        .prepare("SELECT id FROM runs ORDER BY id DESC LIMIT ?1")?
        .query_map([limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Writes what the engine says about a step.
pub fn record_step(db: &Connection, run: i64, record: &StepRecord<'_>, now: Millis) -> Result<()> {
    match record {
        StepRecord::Started { step, prepared } => {
            let sources = json!({
                "cited": prepared.assembled.sources,
                "cut": prepared.assembled.cut,
            });
            db.execute(
                "UPDATE run_steps SET status = 'running', system_prompt = ?3, prompt = ?4, sources = ?5, started_at = ?6
                 WHERE run_id = ?1 AND step = ?2",
                params![run, step, prepared.assembled.system, prepared.assembled.prompt, sources.to_string(), now],
            )?;
        }
        StepRecord::Model { step, model } => {
            db.execute(
                "UPDATE run_steps SET model = ?3 WHERE run_id = ?1 AND step = ?2",
                params![run, step, model.to_string()],
            )?;
        }
        StepRecord::Failed {
            step,
            attempts,
            failure,
        } => {
            let (status, error) = match failure {
                StepFailure::Cancelled => ("cancelled", json!({"kind": "cancelled"})),
                StepFailure::Provider(_, e) => {
                    ("failed", serde_json::to_value(e).unwrap_or(Value::Null))
                }
                StepFailure::Error(e) => ("failed", serde_json::to_value(e).unwrap_or(Value::Null)),
                StepFailure::Gates(_) => ("failed", Value::Null),
            };
            db.execute(
                "UPDATE run_steps SET status = ?3, error = ?4, attempts = ?5, finished_at = ?6 WHERE run_id = ?1 AND step = ?2",
                params![run, step, status, error.to_string(), serde_json::to_string(attempts).unwrap_or_default(), now],
            )?;
        }
        StepRecord::Finished(outcome) => {
            db.execute(
                "UPDATE run_steps SET status = ?3, model = ?4, output = ?5, gates = ?6, attempts = ?7,
                    input_tokens = ?8, output_tokens = ?9, cost_micros = ?10, latency_ms = ?11, finished_at = ?12
                 WHERE run_id = ?1 AND step = ?2",
                params![
                    run,
                    outcome.step,
                    if outcome.passed { "passed" } else { "failed" },
                    outcome.model.to_string(),
                    outcome.output,
                    serde_json::to_string(&outcome.gates).unwrap_or_default(),
                    serde_json::to_string(&outcome.attempts).unwrap_or_default(),
                    i64::try_from(outcome.usage.input_tokens).unwrap_or(i64::MAX),
                    i64::try_from(outcome.usage.output_tokens).unwrap_or(i64::MAX),
                    outcome.cost.map_or(0, |c| i64::try_from(c).unwrap_or(i64::MAX)),
                    outcome.latency_ms,
                    now
                ],
            )?;
        }
    }
    Ok(())
}

/// One run with its steps.
pub fn view(db: &Connection, run: i64) -> Result<RunView> {
    let mut view = db
        .query_row(
            "SELECT id, play, play_version, params, principal, status, reason, message,
                    input_tokens, output_tokens, cost_micros, task_id, created_at, finished_at
               FROM runs WHERE id = ?1",
            [run],
            |r| {
                Ok(RunView {
                    id: r.get(0)?,
                    play: r.get(1)?,
                    play_version: r.get(2)?,
                    params: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or(Value::Null),
                    principal: r.get(4)?,
                    status: r.get(5)?,
                    reason: r.get(6)?,
                    message: r.get(7)?,
                    input_tokens: r.get(8)?,
                    output_tokens: r.get(9)?,
                    cost_micros: r.get(10)?,
                    task: r.get(11)?,
                    created_at: r.get(12)?,
                    finished_at: r.get(13)?,
                    steps: Vec::new(),
                    asset: None,
                })
            },
        )
        .optional()?
        .ok_or_else(|| Error::not_found("run", run))?;
    let mut stmt = db.prepare(
        "SELECT step, status, role, model, system_prompt, prompt, output, gates, error, attempts,
                input_tokens, output_tokens, cost_micros, latency_ms
           FROM run_steps WHERE run_id = ?1 ORDER BY COALESCE(started_at, 9223372036854775807), position",
    )?;
    let json_of = |text: Option<String>| text.and_then(|t| serde_json::from_str::<Value>(&t).ok());
    view.steps = stmt
        .query_map([run], |r| {
            Ok(StepView {
                step: r.get(0)?,
                status: r.get(1)?,
                role: r.get(2)?,
                model: r.get(3)?,
                system_prompt: r.get(4)?,
                prompt: r.get(5)?,
                output: r.get(6)?,
                gates: json_of(r.get(7)?)
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default(),
                error: json_of(r.get(8)?),
                attempts: json_of(r.get(9)?)
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default(),
                input_tokens: r.get(10)?,
                output_tokens: r.get(11)?,
                cost_micros: r.get(12)?,
                latency_ms: r.get(13)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    view.asset = db
        .query_row(
            "SELECT asset_id FROM asset_versions WHERE run_id = ?1 ORDER BY asset_id LIMIT 1",
            [run],
            |r| r.get(0),
        )
        .optional()?;
    Ok(view)
}

/// What templates of a run for `task` see besides the play's parameters: `task` (id, title,
/// description) and `upstream`, the output of the last passed run of each task it depends on.
pub fn task_context(db: &Connection, task: i64) -> Result<Map<String, Value>> {
    let found = crate::tasks::get(db, task)?;
    let mut upstream = Vec::new();
    for on in crate::tasks::dependencies(db, task)? {
        let dependency = crate::tasks::get(db, on)?;
        let output: Option<String> = db
            .query_row(
                "SELECT s.output FROM runs r JOIN run_steps s ON s.run_id = r.id
                 WHERE r.task_id = ?1 AND r.status = 'passed' AND s.status = 'passed'
                   AND s.output IS NOT NULL
                 ORDER BY r.id DESC, s.finished_at DESC, s.position DESC LIMIT 1",
                [on],
                |r| r.get(0),
            )
            .optional()?;
        upstream.push(json!({
            "task": on,
            "title": dependency.title,
            "output": output.unwrap_or_default(),
        }));
    }
    let mut context = Map::new();
    context.insert(
        "task".to_owned(),
        json!({"id": task, "title": found.title, "description": found.description}),
    );
    context.insert("upstream".to_owned(), Value::Array(upstream));
    Ok(context)
}

/// Marks runs left `running` or `pending` by a process that died as `failed (interrupted)`,
/// with one audit event each; called at open.
pub fn mark_interrupted(db: &mut Connection, now: Millis) -> Result<usize> {
    let tx = db.transaction()?;
    let runs: Vec<i64> = tx
        .prepare("SELECT id FROM runs WHERE status IN ('pending', 'running') ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for run in &runs {
        tx.execute(
            "UPDATE runs SET status = 'failed', reason = 'interrupted', message = 'Atelier stopped while the run was going; start it again', finished_at = ?2 WHERE id = ?1",
            params![run, now],
        )?;
        tx.execute(
            "UPDATE run_steps SET status = 'failed', error = '{\"kind\":\"interrupted\"}', finished_at = ?2
             WHERE run_id = ?1 AND status = 'running'",
            params![run, now],
        )?;
        tx.execute(
            "UPDATE run_steps SET status = 'skipped' WHERE run_id = ?1 AND status = 'pending'",
            [run],
        )?;
        audit::append(
            &tx,
            &Principal::Owner,
            &Entry {
                action: "run.interrupted",
                target: Target::Run(*run),
                summary: format!("run {run} was interrupted by a stop and marked failed"),
            },
            now,
        )?;
    }
    tx.commit()?;
    Ok(runs.len())
}
