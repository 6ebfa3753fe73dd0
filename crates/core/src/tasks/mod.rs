//! Tasks in SQLite: rows, the hierarchy and dependency queries (recursive CTEs), and the checks
//! that keep both acyclic and within the depth limit.

pub mod commands;
pub mod plan;
pub mod plan_view;
pub mod state;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::projection::outbox::TaskSnapshot;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
pub use state::{TaskAction, TaskState};
use std::collections::BTreeMap;

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Task {
    /// Id, assigned by the vault.
    pub id: i64,
    /// One line.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Where it is in its life.
    pub state: TaskState,
    /// Parent task.
    pub parent_id: Option<i64>,
    /// Assigned role.
    pub role: Option<String>,
    /// Play it runs, by name.
    pub play: Option<String>,
    /// 0 (lowest) to 100.
    pub priority: i64,
    /// Why it is blocked or failed, when it is.
    pub reason: Option<String>,
    /// What a blocked task waits on, when the scheduler blocked it.
    pub waiting: Option<Waiting>,
    /// The orchestration working through it, if one is.
    pub orchestration: Option<i64>,
    /// Created, ms since the epoch.
    pub created_at: Millis,
    /// Last changed, ms since the epoch.
    pub updated_at: Millis,
}

/// What a task blocked by the scheduler waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Waiting {
    /// A task it depends on, directly or through others, failed; resetting that task (and it
    /// completing) lets this one go on.
    Dependency {
        /// The failed task.
        task: i64,
    },
    /// A person approving its output: approving the asset completes the task, rejecting it
    /// fails the task.
    Approval {
        /// The asset in review.
        asset: i64,
    },
}

impl Waiting {
    /// The stored kind and id.
    pub fn columns(self) -> (&'static str, i64) {
        match self {
            Waiting::Dependency { task } => ("dependency", task),
            Waiting::Approval { asset } => ("approval", asset),
        }
    }

    fn from_columns(kind: Option<String>, on: Option<i64>) -> Option<Waiting> {
        match (kind.as_deref(), on) {
            (Some("dependency"), Some(task)) => Some(Waiting::Dependency { task }),
            (Some("approval"), Some(asset)) => Some(Waiting::Approval { asset }),
            _ => None,
        }
    }
}

const COLUMNS: &str = "id, title, description, state, parent_id, role, play, priority, \
                       blocked_reason, created_at, updated_at, waiting_kind, waiting_on, \
                       orchestration_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    let state: String = row.get(3)?;
    Ok(Task {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        state: state.parse().map_err(|()| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("unknown task state {state:?}").into(),
            )
        })?,
        parent_id: row.get(4)?,
        role: row.get(5)?,
        play: row.get(6)?,
        priority: row.get(7)?,
        reason: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        waiting: Waiting::from_columns(row.get(11)?, row.get(12)?),
        orchestration: row.get(13)?,
    })
}

/// Reads one task.
pub fn get(conn: &Connection, id: i64) -> Result<Task> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("task", id))
}

/// Filters for [`list`]; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default, deny_unknown_fields)]
pub struct TaskFilter {
    /// Only tasks in one of these states.
    pub states: Vec<TaskState>,
    /// Only direct children of this task.
    pub parent: Option<i64>,
    /// Only top-level tasks.
    pub roots_only: bool,
    /// Only tasks assigned to this role.
    pub role: Option<String>,
}

/// Lists tasks matching `filter`, by id.
pub fn list(conn: &Connection, filter: &TaskFilter) -> Result<Vec<Task>> {
    let mut sql = format!("SELECT {COLUMNS} FROM tasks WHERE 1 = 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if !filter.states.is_empty() {
        let marks: Vec<String> = filter
            .states
            .iter()
            .map(|s| {
                args.push(s.name().to_owned().into());
                format!("?{}", args.len())
            })
            .collect();
        sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
    }
    if let Some(parent) = filter.parent {
        args.push(parent.into());
        sql.push_str(&format!(" AND parent_id = ?{}", args.len()));
    }
    if filter.roots_only {
        sql.push_str(" AND parent_id IS NULL");
    }
    if let Some(role) = &filter.role {
        args.push(role.clone().into());
        sql.push_str(&format!(" AND role = ?{}", args.len()));
    }
    sql.push_str(" ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The fields of a new task, checked by the api layer.
#[derive(Debug, Clone)]
pub struct Insert<'a> {
    /// Title.
    pub title: &'a str,
    /// Description.
    pub description: &'a str,
    /// Parent.
    pub parent_id: Option<i64>,
    /// Role.
    pub role: Option<&'a str>,
    /// Play.
    pub play: Option<&'a str>,
    /// Priority.
    pub priority: i64,
}

/// Inserts a pending task and returns its id.
pub fn insert(conn: &Connection, new: &Insert<'_>, now: Millis) -> Result<i64> {
    conn.execute(
        "INSERT INTO tasks (title, description, state, parent_id, role, play, priority,
                            created_at, updated_at)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            new.title,
            new.description,
            new.parent_id,
            new.role,
            new.play,
            new.priority,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes every editable field of `task` back (the orchestration is stamped by the scheduler).
pub fn update(conn: &Connection, task: &Task, now: Millis) -> Result<()> {
    let (kind, on) = task.waiting.map(Waiting::columns).unzip();
    conn.execute(
        "UPDATE tasks SET title = ?2, description = ?3, state = ?4, parent_id = ?5, role = ?6,
                          play = ?7, priority = ?8, blocked_reason = ?9, updated_at = ?10,
                          waiting_kind = ?11, waiting_on = ?12
         WHERE id = ?1",
        params![
            task.id,
            task.title,
            task.description,
            task.state.name(),
            task.parent_id,
            task.role,
            task.play,
            task.priority,
            task.reason,
            now,
            kind,
            on
        ],
    )?;
    Ok(())
}

/// How deep `id` sits: a root is 1.
pub fn depth(conn: &Connection, id: i64) -> Result<usize> {
    let depth: i64 = conn.query_row(
        "WITH RECURSIVE up(id, parent_id) AS (
             SELECT id, parent_id FROM tasks WHERE id = ?1
             UNION ALL
             SELECT t.id, t.parent_id FROM tasks t JOIN up ON t.id = up.parent_id
         )
         SELECT COUNT(*) FROM up",
        [id],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(depth).unwrap_or(usize::MAX))
}

/// How many levels the subtree under `id` spans: a leaf is 1.
pub fn subtree_height(conn: &Connection, id: i64) -> Result<usize> {
    let height: i64 = conn.query_row(
        "WITH RECURSIVE down(id, level) AS (
             SELECT ?1, 1
             UNION ALL
             SELECT t.id, down.level + 1 FROM tasks t JOIN down ON t.parent_id = down.id
         )
         SELECT MAX(level) FROM down",
        [id],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(height).unwrap_or(usize::MAX))
}

/// Whether `ancestor` is `id` or one of its ancestors.
pub fn is_self_or_ancestor(conn: &Connection, ancestor: i64, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "WITH RECURSIVE up(id, parent_id) AS (
             SELECT id, parent_id FROM tasks WHERE id = ?1
             UNION ALL
             SELECT t.id, t.parent_id FROM tasks t JOIN up ON t.id = up.parent_id
         )
         SELECT EXISTS (SELECT 1 FROM up WHERE id = ?2)",
        params![id, ancestor],
        |r| r.get(0),
    )?)
}

/// The recursive CTE `closure(id)`: every task that task ?1 depends on, transitively.
const CLOSURE: &str = "WITH RECURSIVE closure(id) AS (
    SELECT depends_on FROM task_dependencies WHERE task_id = ?1
    UNION
    SELECT d.depends_on FROM task_dependencies d JOIN closure c ON d.task_id = c.id
)";

/// Every task `id` depends on, directly or through others, by id (a recursive CTE).
pub fn dependency_closure(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&format!("{CLOSURE} SELECT id FROM closure ORDER BY id"))?;
    let ids = stmt.query_map([id], |r| r.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// The tasks in `id`'s dependency closure that are not completed (a recursive CTE).
pub fn blocked_by(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{CLOSURE} SELECT c.id FROM closure c JOIN tasks t ON t.id = c.id
         WHERE t.state <> 'completed' ORDER BY c.id"
    ))?;
    let ids = stmt.query_map([id], |r| r.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Whether `from` depends on `to`, directly or transitively.
pub fn depends_transitively(conn: &Connection, from: i64, to: i64) -> Result<bool> {
    Ok(conn.query_row(
        &format!("{CLOSURE} SELECT EXISTS (SELECT 1 FROM closure WHERE id = ?2)"),
        params![from, to],
        |r| r.get(0),
    )?)
}

/// Direct dependencies of `id`.
pub fn dependencies(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    ids(
        conn,
        "SELECT depends_on FROM task_dependencies WHERE task_id = ?1 ORDER BY depends_on",
        id,
    )
}

/// Every task's direct dependencies, ordered, keyed by task (tasks without any are absent); for
/// building whole trees and graphs at once.
pub fn dependencies_by_task(conn: &Connection) -> Result<BTreeMap<i64, Vec<i64>>> {
    let mut stmt =
        conn.prepare_cached("SELECT task_id, depends_on FROM task_dependencies ORDER BY 1, 2")?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?;
    let mut by_task: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for row in rows {
        let (task, on) = row?;
        by_task.entry(task).or_default().push(on);
    }
    Ok(by_task)
}

/// Tasks that depend directly on `id`.
pub fn dependents(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    ids(
        conn,
        "SELECT task_id FROM task_dependencies WHERE depends_on = ?1 ORDER BY task_id",
        id,
    )
}

/// Direct children of `id`.
pub fn children(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    ids(
        conn,
        "SELECT id FROM tasks WHERE parent_id = ?1 ORDER BY id",
        id,
    )
}

/// Direct children of `id` that are still open.
pub fn open_children(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    ids(
        conn,
        "SELECT id FROM tasks WHERE parent_id = ?1 AND state NOT IN ('completed', 'cancelled')
         ORDER BY id",
        id,
    )
}

/// Direct dependencies of `id` that are not completed.
pub fn incomplete_dependencies(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    ids(
        conn,
        "SELECT d.depends_on FROM task_dependencies d JOIN tasks t ON t.id = d.depends_on
         WHERE d.task_id = ?1 AND t.state <> 'completed' ORDER BY d.depends_on",
        id,
    )
}

fn ids(conn: &Connection, sql: &str, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records that `id` depends on `on`.
pub fn add_dependency(conn: &Connection, id: i64, on: i64, now: Millis) -> Result<bool> {
    let added = conn.execute(
        "INSERT OR IGNORE INTO task_dependencies (task_id, depends_on, created_at)
         VALUES (?1, ?2, ?3)",
        params![id, on, now],
    )?;
    Ok(added == 1)
}

/// Removes the dependency; `false` if there was none.
pub fn remove_dependency(conn: &Connection, id: i64, on: i64) -> Result<bool> {
    let removed = conn.execute(
        "DELETE FROM task_dependencies WHERE task_id = ?1 AND depends_on = ?2",
        params![id, on],
    )?;
    Ok(removed == 1)
}

/// Pending or active tasks with no dependency left to complete.
const READY: &str = "t.state IN ('pending', 'active')
     AND NOT EXISTS (
         SELECT 1 FROM task_dependencies d JOIN tasks x ON x.id = d.depends_on
         WHERE d.task_id = t.id AND x.state <> 'completed')";

/// The ready set: pending or active tasks whose every dependency is completed, most urgent
/// first.
pub fn ready(conn: &Connection) -> Result<Vec<Task>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks t WHERE {READY} ORDER BY t.priority DESC, t.id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The ids of the ready set, ascending.
pub fn ready_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t.id FROM tasks t WHERE {READY} ORDER BY t.id"
    ))?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What the graph keeps of `id`, read inside the same transaction as the change.
pub fn snapshot(conn: &Connection, id: i64) -> Result<TaskSnapshot> {
    let task = get(conn, id)?;
    Ok(TaskSnapshot {
        id,
        state: task.state.name().to_owned(),
        parent: task.parent_id,
        role: task.role,
        depends_on: dependencies(conn, id)?,
    })
}

/// Every task's snapshot, for rebuilding the graph.
pub fn all_snapshots(conn: &Connection) -> Result<Vec<TaskSnapshot>> {
    let mut deps = dependencies_by_task(conn)?;
    let mut stmt = conn.prepare("SELECT id, state, parent_id, role FROM tasks ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, state, parent, role) = row?;
        out.push(TaskSnapshot {
            id,
            state,
            parent,
            role,
            depends_on: deps.remove(&id).unwrap_or_default(),
        });
    }
    Ok(out)
}
