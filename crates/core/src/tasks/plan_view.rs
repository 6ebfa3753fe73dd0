//! The plan view: a task subtree as a dependency DAG, its shape from the graph and its live
//! states from SQLite, with the critical path weighted by how long each task's work took or is
//! likely to take.

use super::commands::check_id;
use crate::access::auth::{Capability, Principal};
use crate::clock::Millis;
use crate::error::Result;
use crate::tasks::plan::{Span, schedule};
use crate::tasks::{self, Task, TaskState};
use crate::vault::Atelier;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a leaf's work is taken to last when no run of any play has finished yet: every leaf
/// then weighs the same, and the critical path is the longest chain by count.
const UNKNOWN_WORK_MS: i64 = 1_000;

/// A task subtree laid out as a DAG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TaskPlan {
    /// The subtree's root.
    pub root: i64,
    /// The root, every task below it, and tasks outside it that one of them waits on.
    pub nodes: Vec<PlanNode>,
    /// Dependency edges between nodes.
    pub edges: Vec<PlanEdge>,
    /// The tasks whose work decides when the root can finish, in order.
    pub critical_path: Vec<i64>,
    /// How long that chain takes from the start, in ms (measured where a task has run,
    /// estimated where it has not).
    pub length_ms: i64,
    /// How long the longest chain of work still to do takes, in ms.
    pub remaining_ms: i64,
    /// Tasks that can never start because they wait on themselves through the hierarchy (a
    /// task waiting on its own parent, say).
    pub stuck: Vec<i64>,
}

/// A task in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanNode {
    /// The task, in its current state.
    #[serde(flatten)]
    pub task: Task,
    /// Layout column: how many steps of work come before it can start.
    pub column: u32,
    /// Whether it lies on the critical path (a container does when the path runs through
    /// its children).
    pub critical: bool,
    /// Whether it lies outside the subtree (a task one in it waits on).
    pub outside: bool,
    /// Whether it has subtasks in the plan; its span is then theirs.
    pub container: bool,
    /// Its own work, in ms: 0 for a container.
    pub work_ms: i64,
    /// Whether `work_ms` is measured from its finished run rather than estimated.
    pub measured: bool,
    /// Earliest start, ms from the plan's start.
    pub start_ms: i64,
    /// Earliest finish, ms from the plan's start.
    pub finish_ms: i64,
}

/// `to` waits on `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PlanEdge {
    /// The dependency.
    pub from: i64,
    /// The task waiting on it.
    pub to: i64,
    /// Whether the critical path follows it.
    pub critical: bool,
}

/// A task's latest run with a start.
#[derive(Debug, Clone, Copy)]
struct LastRun {
    started_at: Millis,
    finished_at: Option<Millis>,
}

/// What runs have taken: mean passed-run duration by play, and over every play.
#[derive(Debug, Default)]
struct Typical {
    by_play: BTreeMap<String, i64>,
    overall: Option<i64>,
}

impl Typical {
    fn load(db: &Connection) -> Result<Typical> {
        let mut stmt = db.prepare(
            "SELECT play, SUM(finished_at - started_at), COUNT(*) FROM runs
              WHERE status = 'passed' AND started_at IS NOT NULL AND finished_at IS NOT NULL
              GROUP BY play",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut typical = Typical::default();
        let (mut total, mut count) = (0_i64, 0_i64);
        for row in rows {
            let (play, sum, n) = row?;
            typical.by_play.insert(play, sum / n.max(1));
            total = total.saturating_add(sum);
            count += n;
        }
        typical.overall = (count > 0).then(|| total / count);
        Ok(typical)
    }

    fn of(&self, play: Option<&str>) -> i64 {
        play.and_then(|p| self.by_play.get(p).copied())
            .or(self.overall)
            .unwrap_or(UNKNOWN_WORK_MS)
    }
}

/// The latest started run of each task in `ids`.
fn last_runs(db: &Connection, ids: &BTreeSet<i64>) -> Result<BTreeMap<i64, LastRun>> {
    let mut stmt = db.prepare(
        "SELECT task_id, started_at, finished_at FROM runs
          WHERE task_id IS NOT NULL AND started_at IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            LastRun {
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
            },
        ))
    })?;
    let mut last = BTreeMap::new();
    for row in rows {
        let (task, run) = row?;
        if ids.contains(&task) {
            last.insert(task, run);
        }
    }
    Ok(last)
}

/// A leaf's work, whether it was measured, and how much of it is left at `now`.
fn work_of(task: &Task, run: Option<&LastRun>, typical: &Typical, now: Millis) -> (i64, bool, i64) {
    let closed = matches!(task.state, TaskState::Completed | TaskState::Cancelled);
    match run {
        Some(LastRun {
            started_at,
            finished_at: Some(finished_at),
        }) => {
            let took = (finished_at - started_at).max(0);
            let left = if closed || task.state == TaskState::Blocked {
                0
            } else {
                // Finished but the task is open again (reset): it runs once more.
                took
            };
            (took, true, left)
        }
        Some(LastRun {
            started_at,
            finished_at: None,
        }) => {
            let elapsed = (now - started_at).max(0);
            let expected = typical.of(task.play.as_deref()).max(elapsed);
            (expected, false, expected - elapsed)
        }
        None if task.state == TaskState::Cancelled => (0, true, 0),
        None => {
            let expected = typical.of(task.play.as_deref());
            (expected, false, if closed { 0 } else { expected })
        }
    }
}

impl Atelier {
    /// The plan of the subtree under `root`: its dependency DAG with live states, and its
    /// critical path. Needs `vault_read`.
    pub fn task_plan(&self, who: &Principal, root: i64) -> Result<TaskPlan> {
        check_id("root", root)?;
        let now = self.now();
        let depth = self.read(who, Capability::VaultRead, |db, open| {
            tasks::get(db, root)?;
            Ok(u32::try_from(open.config.task_depth_limit).unwrap_or(u32::MAX))
        })?;
        let open = self.open_vault()?;
        let shape = self.with_graph(open, |g| g.subtree(root, depth))?;

        let parents: BTreeMap<i64, i64> = shape.children.iter().copied().collect();
        let inside: BTreeSet<i64> = parents.keys().copied().chain([root]).collect();
        let everyone: BTreeSet<i64> = inside
            .iter()
            .copied()
            .chain(shape.dependencies.iter().map(|(_, d)| *d))
            .collect();
        let containers: BTreeSet<i64> = parents.values().copied().collect();
        let mut depends_on: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (task, dependency) in &shape.dependencies {
            depends_on.entry(*task).or_default().push(*dependency);
        }

        let (found, runs, typical) = self.read(who, Capability::VaultRead, |db, _| {
            let mut found = Vec::with_capacity(everyone.len());
            for id in &everyone {
                found.push(tasks::get(db, *id)?);
            }
            Ok((found, last_runs(db, &everyone)?, Typical::load(db)?))
        })?;

        // Work, and work left, per task; containers have none of their own.
        let mut spans = Vec::with_capacity(found.len());
        let mut remaining = Vec::with_capacity(found.len());
        let mut measured = BTreeMap::new();
        let mut unit = Vec::with_capacity(found.len());
        for task in &found {
            let container = containers.contains(&task.id);
            let (work, was_measured, left) = if container {
                (0, true, 0)
            } else {
                work_of(task, runs.get(&task.id), &typical, now)
            };
            measured.insert(task.id, was_measured);
            let span = Span {
                id: task.id,
                parent: parents.get(&task.id).copied(),
                depends_on: depends_on.get(&task.id).cloned().unwrap_or_default(),
                work_ms: work,
            };
            remaining.push(Span {
                work_ms: left,
                ..span.clone()
            });
            unit.push(Span {
                work_ms: i64::from(!container),
                ..span.clone()
            });
            spans.push(span);
        }
        let planned = schedule(&spans, root);
        let left = schedule(&remaining, root);
        let steps = schedule(&unit, root);

        let edges = shape
            .dependencies
            .iter()
            .map(|(task, dependency)| PlanEdge {
                from: *dependency,
                to: *task,
                critical: planned.critical_edges.contains(&(*dependency, *task)),
            })
            .collect();
        let nodes = found
            .into_iter()
            .zip(spans)
            .map(|(task, span)| {
                let (start_ms, finish_ms) = planned.times.get(&task.id).copied().unwrap_or((0, 0));
                let column = steps.times.get(&task.id).map_or(0, |(start, _)| *start);
                PlanNode {
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                    critical: planned.on_path.contains(&task.id),
                    outside: !inside.contains(&task.id),
                    container: containers.contains(&task.id),
                    work_ms: span.work_ms,
                    measured: measured.get(&task.id).copied().unwrap_or(false),
                    start_ms,
                    finish_ms,
                    task,
                }
            })
            .collect();
        Ok(TaskPlan {
            root,
            nodes,
            edges,
            critical_path: planned.critical_path,
            length_ms: planned.length_ms,
            remaining_ms: left.length_ms,
            stuck: planned.stuck,
        })
    }
}
