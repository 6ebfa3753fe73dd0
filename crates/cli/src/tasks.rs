//! `atelier tasks`: the hierarchy, its dependencies and the state machine.

use crate::args::{DepCommand, TaskCommand, TransitionArgs};
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{NewTask, TaskDependency, TaskEdit, TaskMove, TaskTransition};
use atelier_core::tasks::{TaskAction, TaskFilter};

pub fn tasks(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: TaskCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    let transition = |action: TaskAction, args: TransitionArgs| -> Result<(), Failure> {
        let task = atelier
            .task_transition(
                who,
                TaskTransition {
                    id: args.id,
                    action,
                    reason: args.reason,
                },
            )
            .map_err(fail)?;
        out.show(&task, |t| format!("Task {} is now {}.", t.id, t.state));
        Ok(())
    };
    match command {
        TaskCommand::Add(a) => {
            let task = atelier
                .task_create(
                    who,
                    NewTask {
                        title: a.title,
                        description: a.description,
                        parent: a.parent,
                        role: a.role,
                        play: a.play,
                        priority: a.priority,
                        depends_on: a.depends_on,
                        subtasks: Vec::new(),
                    },
                )
                .map_err(fail)?;
            out.show(&task, |t| format!("Created task {}: {}", t.id, t.title));
        }
        TaskCommand::Ls(a) => {
            let filter = TaskFilter {
                states: a.states,
                parent: a.parent,
                roots_only: a.roots,
                role: a.role,
            };
            let list = atelier.task_list(who, &filter).map_err(fail)?;
            out.show(&list, |l| render::task_table(l));
        }
        TaskCommand::Tree { root } => {
            let tree = atelier.task_tree(who, root).map_err(fail)?;
            out.show(&tree, |t| render::task_tree(t));
        }
        TaskCommand::Plan { root } => {
            let plan = atelier.task_plan(who, root).map_err(fail)?;
            out.show(&plan, render::task_plan);
        }
        TaskCommand::Show { id } => {
            let detail = atelier.task_show(who, id).map_err(fail)?;
            out.show(&detail, render::task_detail);
        }
        TaskCommand::Edit(a) => {
            let task = atelier
                .task_edit(
                    who,
                    TaskEdit {
                        id: a.id,
                        title: a.title,
                        description: a.description,
                        role: a.role,
                        clear_role: a.no_role,
                        play: a.play,
                        clear_play: a.no_play,
                        priority: a.priority,
                    },
                )
                .map_err(fail)?;
            out.show(&task, |t| format!("Updated task {}: {}", t.id, t.title));
        }
        TaskCommand::Move { id, under, top: _ } => {
            let task = atelier
                .task_move(who, TaskMove { id, parent: under })
                .map_err(fail)?;
            out.show(&task, |t| match t.parent_id {
                Some(p) => format!("Task {} is now under task {p}.", t.id),
                None => format!("Task {} is now a top-level task.", t.id),
            });
        }
        TaskCommand::Dep(DepCommand::Add { id, on }) => {
            let detail = atelier
                .task_dependency_add(who, TaskDependency { id, depends_on: on })
                .map_err(fail)?;
            out.show(&detail, |d| {
                format!("Task {} now waits on {:?}.", d.task.id, d.depends_on)
            });
        }
        TaskCommand::Dep(DepCommand::Rm { id, on }) => {
            let detail = atelier
                .task_dependency_remove(who, TaskDependency { id, depends_on: on })
                .map_err(fail)?;
            out.show(&detail, |d| {
                format!("Task {} now waits on {:?}.", d.task.id, d.depends_on)
            });
        }
        TaskCommand::Activate(a) => transition(TaskAction::Activate, a)?,
        TaskCommand::Start(a) => transition(TaskAction::Start, a)?,
        TaskCommand::Complete(a) => transition(TaskAction::Complete, a)?,
        TaskCommand::Fail(a) => transition(TaskAction::Fail, a)?,
        TaskCommand::Block(a) => transition(TaskAction::Block, a)?,
        TaskCommand::Unblock(a) => transition(TaskAction::Unblock, a)?,
        TaskCommand::Reset(a) => transition(TaskAction::Reset, a)?,
        TaskCommand::Cancel(a) => transition(TaskAction::Cancel, a)?,
        TaskCommand::Run { root, .. } => crate::orchestrate::run(out, atelier, who, root)?,
        TaskCommand::Orchestrations => crate::orchestrate::list(out, atelier, who)?,
        TaskCommand::Stop { orchestration } => {
            crate::orchestrate::stop(out, atelier, who, orchestration)?
        }
        TaskCommand::Next => {
            let ready = atelier.task_next(who).map_err(fail)?;
            out.show(&ready, |l| {
                if l.is_empty() {
                    "Nothing is ready: every open task waits on something.".to_owned()
                } else {
                    render::task_table(l)
                }
            });
        }
    }
    Ok(())
}
