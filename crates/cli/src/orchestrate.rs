//! `atelier tasks run`, `tasks orchestrations` and `tasks stop`: the scheduler from a terminal.
//! `run` starts (or rejoins) the orchestration of a subtree and follows it until nothing more
//! can move without a person, printing each task as it changes; the work itself is done by the
//! worker pool of whichever process owns the vault (this one, or the app / `atelier serve`).

use crate::out::{Failure, Out};
use crate::render;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{OrchestrateRequest, OrchestrationView, TaskTreeNode};
use atelier_core::error::Error;
use atelier_core::orchestration::bookkeeping::OrchestrationState;
use atelier_core::tasks::TaskState;
use std::collections::BTreeMap;
use std::time::Duration;

/// Follows orchestration of `root` until it finishes, is stopped, or idles.
pub fn run(out: &Out, atelier: &dyn Api, who: &Principal, root: i64) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    let started = atelier
        .orchestrate(who, &OrchestrateRequest { root })
        .map_err(fail)?;
    let id = started.orchestration.id;
    if !out.json {
        render::error(&format!(
            "orchestration {id} is working through task {root}; Ctrl-C stops following (the work goes on wherever the vault is open)"
        ));
    }
    let mut seen: BTreeMap<i64, TaskState> = BTreeMap::new();
    loop {
        let view = atelier.orchestration_show(who, id).map_err(fail)?;
        let tree = atelier.task_tree(who, Some(root)).map_err(fail)?;
        let mut now = BTreeMap::new();
        flatten(&tree, &mut |node| {
            now.insert(node.task.id, node.task.state);
            if seen.get(&node.task.id) != Some(&node.task.state) && !out.json {
                let why = node
                    .task
                    .reason
                    .as_deref()
                    .map_or_else(String::new, |r| format!(" — {r}"));
                render::error(&format!(
                    "task {} {:?}: {}{why}",
                    node.task.id, node.task.title, node.task.state
                ));
            }
        });
        seen = now;
        let settled = view.orchestration.state != OrchestrationState::Running || view.idle;
        if settled {
            out.show(&view, summary);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn flatten(nodes: &[TaskTreeNode], visit: &mut dyn FnMut(&TaskTreeNode)) {
    for node in nodes {
        visit(node);
        flatten(&node.children, visit);
    }
}

/// One orchestration in a few lines.
pub fn summary(view: &OrchestrationView) -> String {
    let o = &view.orchestration;
    let t = &view.tasks;
    let mut lines = vec![format!(
        "Orchestration {} of task {} ({}, started by {}): {} completed, {} running, {} ready, {} pending, {} blocked, {} failed, {} cancelled.",
        o.id,
        o.root,
        o.state.name(),
        o.principal,
        t.completed,
        t.in_progress,
        t.active,
        t.pending,
        t.blocked,
        t.failed,
        t.cancelled
    )];
    for wait in &view.in_review {
        lines.push(format!(
            "  task {} {:?} waits for approval: atelier assets approve {}",
            wait.task, wait.title, wait.asset
        ));
    }
    for dead in &view.dead_letters {
        lines.push(format!(
            "  task {} gave up after its last attempt (job {}): {}",
            dead.task, dead.job, dead.error
        ));
    }
    if view.idle && t.pending + t.active > 0 {
        lines.push(
            "  Pending tasks without a play or a role wait for a person: complete them by hand."
                .to_owned(),
        );
    }
    lines.join("\n")
}

/// Every orchestration.
pub fn list(out: &Out, atelier: &dyn Api, who: &Principal) -> Result<(), Failure> {
    let views = atelier.orchestrations_list(who).map_err(|e| out.fail(&e))?;
    out.show(&views, |views| {
        if views.is_empty() {
            return "No orchestrations yet: atelier tasks run ROOT".to_owned();
        }
        views.iter().map(summary).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

/// Stops one.
pub fn stop(out: &Out, atelier: &dyn Api, who: &Principal, id: i64) -> Result<(), Failure> {
    let view = atelier
        .orchestration_stop(who, id)
        .map_err(|e| out.fail(&e))?;
    out.show(&view, summary);
    Ok(())
}
