//! Task commands: create, edit, move, dependencies, transitions, list, tree, next, show. About
//! 700 lines because each request type sits beside the one command that takes it.

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::error::{Error, Result};
use crate::input::{self, MAX_TITLE};
use crate::orchestration::bookkeeping::Bookkeeping;
use crate::projection::outbox::{self, GraphChange};
use crate::tasks::{self, Task, TaskAction, TaskFilter, TaskState, Waiting};
use crate::vault::{Atelier, Ctx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest task title, characters.
/// Longest description, bytes.
pub const MAX_DESCRIPTION: usize = 64 * 1024;

/// The most subtasks one call creates.
pub const MAX_SUBTASKS: usize = 100;

/// A subtask, created with its parent in one call (all or none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSubtask {
    /// Title.
    pub title: String,
    /// What it is about.
    #[serde(default)]
    pub description: String,
    /// 0 to 100, higher first.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = 100)))]
    pub priority: i64,
    /// The role it is for.
    #[serde(default)]
    pub role: Option<String>,
    /// The play it runs.
    #[serde(default)]
    pub play: Option<String>,
    /// Earlier subtasks of this call it waits on, by position from 0.
    #[serde(default)]
    pub after: Vec<usize>,
}

/// A task to create, with the subtasks created with it (all or none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Title.
    pub title: String,
    /// What it is about.
    #[serde(default)]
    pub description: String,
    /// The task it belongs under.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(range(min = 1)))]
    pub parent: Option<i64>,
    /// Existing tasks it waits on.
    #[serde(default)]
    pub depends_on: Vec<i64>,
    /// 0 to 100, higher first.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = 100)))]
    pub priority: i64,
    /// The role it is for.
    #[serde(default)]
    pub role: Option<String>,
    /// The play it runs.
    #[serde(default)]
    pub play: Option<String>,
    /// Subtasks created with it, all or none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtasks: Vec<NewSubtask>,
}

/// Changes to a task's fields; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskEdit {
    /// The task.
    pub id: i64,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New role.
    #[serde(default)]
    pub role: Option<String>,
    /// Remove the role.
    #[serde(default)]
    pub clear_role: bool,
    /// New play.
    #[serde(default)]
    pub play: Option<String>,
    /// Remove the play.
    #[serde(default)]
    pub clear_play: bool,
    /// New priority.
    #[serde(default)]
    pub priority: Option<i64>,
}

/// Moves a task under another parent, or to the top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskMove {
    /// The task.
    pub id: i64,
    /// Its new parent; `None` makes it a root.
    pub parent: Option<i64>,
}

/// A dependency edge: `id` waits on `depends_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskDependency {
    /// The waiting task.
    pub id: i64,
    /// What it waits on.
    pub depends_on: i64,
}

/// A state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskTransition {
    /// The task.
    pub id: i64,
    /// What to do.
    pub action: TaskAction,
    /// Why (kept for `block` and `fail`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A task with everything around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TaskDetail {
    /// The task.
    #[serde(flatten)]
    pub task: Task,
    /// Direct children.
    pub children: Vec<i64>,
    /// Direct dependencies.
    pub depends_on: Vec<i64>,
    /// Tasks that wait on this one.
    pub dependents: Vec<i64>,
    /// Everything it depends on, transitively (from the graph).
    pub transitive_dependencies: Vec<i64>,
    /// Not-completed tasks in that closure (from the graph).
    pub blocked_by: Vec<i64>,
    /// Actions the state machine allows now.
    pub allowed_actions: Vec<TaskAction>,
}

/// A node of the task tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TaskTreeNode {
    /// The task.
    #[serde(flatten)]
    pub task: Task,
    /// Its direct dependencies, by id.
    pub depends_on: Vec<i64>,
    /// Actions the state machine allows now.
    pub allowed_actions: Vec<TaskAction>,
    /// Its children.
    pub children: Vec<TaskTreeNode>,
}

/// Tasks grouped by parent, and dependency edges by task, for building [`TaskTreeNode`]s.
struct Forest {
    children: BTreeMap<Option<i64>, Vec<Task>>,
    depends_on: BTreeMap<i64, Vec<i64>>,
}

impl Forest {
    fn take(&mut self, parent: Option<i64>) -> Vec<TaskTreeNode> {
        let kids = self.children.remove(&parent).unwrap_or_default();
        kids.into_iter().map(|task| self.node(task)).collect()
    }

    fn node(&mut self, task: Task) -> TaskTreeNode {
        TaskTreeNode {
            children: self.take(Some(task.id)),
            depends_on: self.depends_on.remove(&task.id).unwrap_or_default(),
            allowed_actions: TaskAction::allowed_from(task.state),
            task,
        }
    }
}

fn check_role(ctx: &Ctx<'_, '_>, role: &str) -> Result<String> {
    if ctx.roles.get(role).is_some() {
        Ok(role.to_owned())
    } else {
        let known: Vec<&str> = ctx.roles.iter().map(|r| r.name.as_str()).collect();
        Err(Error::invalid(
            "role",
            format!("unknown role `{role}` (known: {})", known.join(", ")),
        ))
    }
}

/// Why a person cannot move a task the scheduler blocked, and what ends the wait.
fn waiting_error(task: i64, waiting: Waiting) -> Error {
    let (waiting, remedy) = match waiting {
        Waiting::Dependency { task: failed } => (
            format!("task {failed}, which failed"),
            format!("reset task {failed}; this one goes on once it completes"),
        ),
        Waiting::Approval { asset } => (
            format!("the review of its output, asset {asset}"),
            format!("approve asset {asset} to complete the task, or reject it to fail the task"),
        ),
    };
    Error::TaskWaiting {
        task,
        waiting,
        remedy,
    }
}

pub(crate) fn check_id(field: &str, id: i64) -> Result<i64> {
    if id > 0 {
        Ok(id)
    } else {
        Err(Error::invalid(
            field,
            "a task id is a positive whole number",
        ))
    }
}

fn existing(ctx: &Ctx<'_, '_>, field: &str, id: i64) -> Result<Task> {
    check_id(field, id)?;
    tasks::get(ctx.tx, id)
}

/// Refuses a dependency that would close a cycle.
fn check_dependency(ctx: &Ctx<'_, '_>, id: i64, on: i64) -> Result<()> {
    existing(ctx, "depends_on", on)?;
    if id == on || tasks::depends_transitively(ctx.tx, on, id)? {
        return Err(Error::Cycle {
            task: id,
            relation: "depend on".to_owned(),
            other: on,
        });
    }
    Ok(())
}

fn project(ctx: &Ctx<'_, '_>, id: i64) -> Result<()> {
    let snapshot = tasks::snapshot(ctx.tx, id)?;
    outbox::push(ctx.tx, &GraphChange::Task(snapshot), ctx.now)?;
    Ok(())
}

/// Refuses too many subtasks, or one waiting on itself or a later one.
pub(crate) fn check_subtasks(subtasks: &[NewSubtask]) -> Result<()> {
    if subtasks.len() > MAX_SUBTASKS {
        return Err(Error::invalid(
            "subtasks",
            format!("at most {MAX_SUBTASKS} in one call"),
        ));
    }
    for (index, sub) in subtasks.iter().enumerate() {
        if let Some(bad) = sub.after.iter().find(|a| **a >= index) {
            return Err(Error::invalid(
                "after",
                format!("subtask {index} can only wait on earlier subtasks, not {bad}"),
            ));
        }
    }
    Ok(())
}

/// Inserts checked `subtasks` under `parent` (each waiting on the earlier ones its `after`
/// names); answers their ids in order.
pub(crate) fn insert_subtasks(
    ctx: &Ctx<'_, '_>,
    parent: i64,
    subtasks: &[NewSubtask],
) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = Vec::with_capacity(subtasks.len());
    for sub in subtasks {
        let child = NewTask {
            title: sub.title.clone(),
            description: sub.description.clone(),
            parent: Some(parent),
            role: sub.role.clone(),
            play: sub.play.clone(),
            priority: sub.priority,
            depends_on: sub.after.iter().map(|a| ids[*a]).collect(),
            subtasks: Vec::new(),
        };
        ids.push(insert_task(ctx, &child)?.0);
    }
    Ok(ids)
}

/// Checks `new` and inserts it with its dependencies; answers its id and checked title.
fn insert_task(ctx: &Ctx<'_, '_>, new: &NewTask) -> Result<(i64, String)> {
    let title = input::line("title", &new.title, MAX_TITLE)?;
    let description = input::text("description", &new.description, MAX_DESCRIPTION, false)?;
    let priority = input::within("priority", new.priority, 0..=100)?;
    let role = new
        .role
        .as_deref()
        .map(|r| check_role(ctx, r))
        .transpose()?;
    let play = new
        .play
        .as_deref()
        .map(|p| input::slug("play", p))
        .transpose()?;
    if let Some(parent) = new.parent {
        existing(ctx, "parent", parent)?;
        let depth = tasks::depth(ctx.tx, parent)? + 1;
        if depth > ctx.config.task_depth_limit {
            return Err(Error::DepthExceeded {
                depth,
                limit: ctx.config.task_depth_limit,
            });
        }
    }
    for on in &new.depends_on {
        existing(ctx, "depends_on", *on)?;
    }
    let id = tasks::insert(
        ctx.tx,
        &tasks::Insert {
            title: &title,
            description: &description,
            parent_id: new.parent,
            role: role.as_deref(),
            play: play.as_deref(),
            priority,
        },
        ctx.now,
    )?;
    for on in &new.depends_on {
        // A new task has no dependents, so none of these can close a cycle.
        tasks::add_dependency(ctx.tx, id, *on, ctx.now)?;
    }
    project(ctx, id)?;
    if let Some(parent) = new.parent {
        // A task added under an orchestrated one joins that orchestration.
        let mut books = Bookkeeping::within(ctx);
        books.adopt(id, parent)?;
        books.finish()?;
    }
    Ok((id, title))
}

impl Atelier {
    /// Creates a pending task, optionally under `parent` and waiting on `depends_on`.
    /// Needs `tasks_write`.
    pub fn task_create(&self, who: &Principal, new: NewTask) -> Result<Task> {
        if !new.subtasks.is_empty() {
            let created = self.task_create_with_subtasks(who, new)?;
            return created
                .into_iter()
                .next()
                .ok_or_else(|| Error::invalid("subtasks", "nothing was created"));
        }
        self.write(who, Capability::TasksWrite, |ctx| {
            let (id, title) = insert_task(ctx, &new)?;
            let task = tasks::get(ctx.tx, id)?;
            let entry = Entry {
                action: "task.create",
                target: Target::Task(id),
                summary: format!("created task {id} {title:?}"),
            };
            Ok((task, entry))
        })
    }

    /// Creates a task and its subtasks (`new.subtasks`) in one transaction: all of them or
    /// none. A subtask may wait on earlier subtasks of the same call (`after`, by position).
    /// Answers the task, then its subtasks in order. Needs `tasks_write`.
    pub fn task_create_with_subtasks(
        &self,
        who: &Principal,
        mut new: NewTask,
    ) -> Result<Vec<Task>> {
        let subtasks = std::mem::take(&mut new.subtasks);
        check_subtasks(&subtasks)?;
        self.write(who, Capability::TasksWrite, |ctx| {
            let (root, title) = insert_task(ctx, &new)?;
            let mut ids = vec![root];
            ids.extend(insert_subtasks(ctx, root, &subtasks)?);
            let created = ids
                .iter()
                .map(|id| tasks::get(ctx.tx, *id))
                .collect::<Result<Vec<_>>>()?;
            let entry = Entry {
                action: "task.create",
                target: Target::Task(root),
                summary: format!(
                    "created task {root} {title:?} with {} subtask(s)",
                    subtasks.len()
                ),
            };
            Ok((created, entry))
        })
    }

    /// Changes a task's title, description, role, play or priority. Needs `tasks_write`.
    pub fn task_edit(&self, who: &Principal, edit: TaskEdit) -> Result<Task> {
        self.write(who, Capability::TasksWrite, |ctx| {
            let mut task = existing(ctx, "id", edit.id)?;
            let mut changed = Vec::new();
            if let Some(title) = &edit.title {
                task.title = input::line("title", title, MAX_TITLE)?;
                changed.push("title");
            }
            if let Some(description) = &edit.description {
                task.description = input::text("description", description, MAX_DESCRIPTION, false)?;
                changed.push("description");
            }
            match (&edit.role, edit.clear_role) {
                (Some(_), true) => {
                    return Err(Error::invalid("role", "give a role or clear it, not both"));
                }
                (Some(role), false) => {
                    task.role = Some(check_role(ctx, role)?);
                    changed.push("role");
                }
                (None, true) => {
                    task.role = None;
                    changed.push("role");
                }
                (None, false) => {}
            }
            match (&edit.play, edit.clear_play) {
                (Some(_), true) => {
                    return Err(Error::invalid("play", "give a play or clear it, not both"));
                }
                (Some(play), false) => {
                    task.play = Some(input::slug("play", play)?);
                    changed.push("play");
                }
                (None, true) => {
                    task.play = None;
                    changed.push("play");
                }
                (None, false) => {}
            }
            if let Some(priority) = edit.priority {
                task.priority = input::within("priority", priority, 0..=100)?;
                changed.push("priority");
            }
            if changed.is_empty() {
                return Err(Error::invalid("edit", "nothing to change"));
            }
            tasks::update(ctx.tx, &task, ctx.now)?;
            project(ctx, task.id)?;
            let task = tasks::get(ctx.tx, task.id)?;
            let entry = Entry {
                action: "task.edit",
                target: Target::Task(task.id),
                summary: format!("changed {} of task {}", changed.join(", "), task.id),
            };
            Ok((task, entry))
        })
    }

    /// Moves a task (with its subtree) under another parent or to the top. Refuses cycles and
    /// trees deeper than the limit. Needs `tasks_write`.
    pub fn task_move(&self, who: &Principal, request: TaskMove) -> Result<Task> {
        self.write(who, Capability::TasksWrite, |ctx| {
            let mut task = existing(ctx, "id", request.id)?;
            if let Some(parent) = request.parent {
                existing(ctx, "parent", parent)?;
                if tasks::is_self_or_ancestor(ctx.tx, task.id, parent)? {
                    return Err(Error::Cycle {
                        task: task.id,
                        relation: "move under".to_owned(),
                        other: parent,
                    });
                }
                let depth = tasks::depth(ctx.tx, parent)? + tasks::subtree_height(ctx.tx, task.id)?;
                if depth > ctx.config.task_depth_limit {
                    return Err(Error::DepthExceeded {
                        depth,
                        limit: ctx.config.task_depth_limit,
                    });
                }
            }
            task.parent_id = request.parent;
            tasks::update(ctx.tx, &task, ctx.now)?;
            project(ctx, task.id)?;
            let entry = Entry {
                action: "task.move",
                target: Target::Task(task.id),
                summary: match request.parent {
                    Some(p) => format!("moved task {} under task {p}", task.id),
                    None => format!("moved task {} to the top level", task.id),
                },
            };
            Ok((tasks::get(ctx.tx, task.id)?, entry))
        })
    }

    /// Makes `id` wait on `depends_on`. Refuses cycles. Needs `tasks_write`.
    pub fn task_dependency_add(&self, who: &Principal, dep: TaskDependency) -> Result<TaskDetail> {
        self.write(who, Capability::TasksWrite, |ctx| {
            existing(ctx, "id", dep.id)?;
            check_dependency(ctx, dep.id, dep.depends_on)?;
            if !tasks::add_dependency(ctx.tx, dep.id, dep.depends_on, ctx.now)? {
                return Err(Error::AlreadyExists {
                    kind: "dependency".to_owned(),
                    id: format!("{} → {}", dep.id, dep.depends_on),
                });
            }
            project(ctx, dep.id)?;
            let entry = Entry {
                action: "task.dependency.add",
                target: Target::Task(dep.id),
                summary: format!("task {} now waits on task {}", dep.id, dep.depends_on),
            };
            Ok((dep.id, entry))
        })
        .and_then(|id| self.task_show(who, id))
    }

    /// Removes a dependency. Needs `tasks_write`.
    pub fn task_dependency_remove(
        &self,
        who: &Principal,
        dep: TaskDependency,
    ) -> Result<TaskDetail> {
        self.write(who, Capability::TasksWrite, |ctx| {
            existing(ctx, "id", dep.id)?;
            existing(ctx, "depends_on", dep.depends_on)?;
            if !tasks::remove_dependency(ctx.tx, dep.id, dep.depends_on)? {
                return Err(Error::not_found(
                    "dependency",
                    format!("{} → {}", dep.id, dep.depends_on),
                ));
            }
            project(ctx, dep.id)?;
            let mut books = Bookkeeping::within(ctx);
            books.consider(dep.id)?;
            books.finish()?;
            let entry = Entry {
                action: "task.dependency.remove",
                target: Target::Task(dep.id),
                summary: format!("task {} no longer waits on task {}", dep.id, dep.depends_on),
            };
            Ok((dep.id, entry))
        })
        .and_then(|id| self.task_show(who, id))
    }

    /// Moves a task through the state machine. `start` needs every dependency completed;
    /// `complete` needs every child completed or cancelled. Needs `tasks_write`.
    pub fn task_transition(&self, who: &Principal, request: TaskTransition) -> Result<Task> {
        self.write(who, Capability::TasksWrite, |ctx| {
            let mut task = existing(ctx, "id", request.id)?;
            let reason = request
                .reason
                .as_deref()
                .map(|r| input::text("reason", r, 4096, false))
                .transpose()?;
            let from = task.state;
            if let Some(waiting) = task.waiting
                && request.action != TaskAction::Cancel
            {
                return Err(waiting_error(task.id, waiting));
            }
            let Some(to) = request.action.apply(from) else {
                let allowed: Vec<&str> = TaskAction::allowed_from(from)
                    .iter()
                    .map(|a| a.name())
                    .collect();
                return Err(Error::InvalidTransition {
                    task: task.id,
                    from: from.name().to_owned(),
                    action: request.action.name().to_owned(),
                    allowed: if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    },
                });
            };
            if request.action == TaskAction::Start {
                let waiting_on = tasks::incomplete_dependencies(ctx.tx, task.id)?;
                if !waiting_on.is_empty() {
                    return Err(Error::DependenciesIncomplete {
                        task: task.id,
                        waiting_on,
                    });
                }
            }
            if to == TaskState::Completed {
                let children = tasks::open_children(ctx.tx, task.id)?;
                if !children.is_empty() {
                    return Err(Error::OpenChildren {
                        task: task.id,
                        children,
                    });
                }
            }
            task.state = to;
            task.reason = match to {
                TaskState::Blocked | TaskState::Failed | TaskState::Cancelled => reason,
                _ => None,
            };
            task.waiting = None;
            tasks::update(ctx.tx, &task, ctx.now)?;
            project(ctx, task.id)?;
            // What this move changes for an orchestration working through the task.
            let mut books = Bookkeeping::within(ctx);
            match request.action {
                TaskAction::Complete => books.after_completed(task.id)?,
                TaskAction::Cancel => books.closed(task.id)?,
                TaskAction::Fail => {
                    books.after_failed(task.id, task.reason.as_deref().unwrap_or("failed"))?;
                }
                TaskAction::Reset => books.reset(task.id)?,
                _ => {}
            }
            books.finish()?;
            let entry = Entry {
                action: "task.transition",
                target: Target::Task(task.id),
                summary: format!("task {} {} → {} ({})", task.id, from, to, request.action),
            };
            Ok((tasks::get(ctx.tx, task.id)?, entry))
        })
    }

    /// One task with its neighbourhood; transitive dependencies and blockers come from the
    /// graph. Needs `vault_read`.
    pub fn task_show(&self, who: &Principal, id: i64) -> Result<TaskDetail> {
        check_id("id", id)?;
        let (task, children, depends_on, dependents) =
            self.read(who, Capability::VaultRead, |db, _| {
                Ok((
                    tasks::get(db, id)?,
                    tasks::children(db, id)?,
                    tasks::dependencies(db, id)?,
                    tasks::dependents(db, id)?,
                ))
            })?;
        let open = self.open_vault()?;
        let upstream = self.with_graph(open, |g| g.upstream(id))?;
        let transitive_dependencies = upstream.iter().map(|u| u.id).collect();
        let blocked_by = upstream
            .iter()
            .filter(|u| !u.completed)
            .map(|u| u.id)
            .collect();
        Ok(TaskDetail {
            allowed_actions: TaskAction::allowed_from(task.state),
            task,
            children,
            depends_on,
            dependents,
            transitive_dependencies,
            blocked_by,
        })
    }

    /// Tasks matching `filter`, by id. Needs `vault_read`.
    pub fn task_list(&self, who: &Principal, filter: &TaskFilter) -> Result<Vec<Task>> {
        if let Some(parent) = filter.parent {
            check_id("parent", parent)?;
        }
        self.read(who, Capability::VaultRead, |db, _| tasks::list(db, filter))
    }

    /// The task forest, or the subtree under `root`. Needs `vault_read`.
    pub fn task_tree(&self, who: &Principal, root: Option<i64>) -> Result<Vec<TaskTreeNode>> {
        if let Some(id) = root {
            check_id("root", id)?;
        }
        self.read(who, Capability::VaultRead, |db, _| {
            let mut forest = Forest {
                children: BTreeMap::new(),
                depends_on: tasks::dependencies_by_task(db)?,
            };
            for task in tasks::list(db, &TaskFilter::default())? {
                forest
                    .children
                    .entry(task.parent_id)
                    .or_default()
                    .push(task);
            }
            match root {
                None => Ok(forest.take(None)),
                Some(id) => Ok(vec![forest.node(tasks::get(db, id)?)]),
            }
        })
    }

    /// The ready set: pending or active tasks whose every dependency is completed, most
    /// urgent first. Needs `vault_read`.
    pub fn task_next(&self, who: &Principal) -> Result<Vec<Task>> {
        self.read(who, Capability::VaultRead, |db, _| tasks::ready(db))
    }
}
