//! `atelier demo`: a small example project, so a newcomer sees the product working at once.

use crate::out::{Failure, Out};
use crate::render;
use atelier_core::access::auth::Principal;
use atelier_core::api::{NewCanon, NewShape, NewTask, TaskTransition};
use atelier_core::catalog::{ShapeKind, Tier};
use atelier_core::tasks::{TaskAction, TaskFilter};
use atelier_core::{Atelier, Error, OpenOptions, clock, vault};
use std::path::Path;

/// Creates the vault if needed, seeds an example podcast episode when it has no tasks, then
/// prints the tree, the ready list and the status.
pub fn run(out: &Out, dir: &Path) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    if !vault::exists(dir) {
        Atelier::init(dir, &clock::SystemClock, false).map_err(fail)?;
    }
    let atelier = Atelier::open(OpenOptions::new(dir));
    let owner = Principal::Owner;
    if atelier
        .task_list(&owner, &TaskFilter::default())
        .map_err(fail)?
        .is_empty()
    {
        seed(&atelier, &owner).map_err(fail)?;
    }
    let tree = atelier.task_tree(&owner, None).map_err(fail)?;
    let ready = atelier.task_next(&owner).map_err(fail)?;
    let status = atelier.status();
    if out.json {
        render::json(&serde_json::json!({ "tree": tree, "next": ready, "status": status }));
    } else {
        render::line(&format!(
            "{}\nReady to start next:\n{}\n{}\n\nTry: atelier --vault {} tasks show 3",
            render::task_tree(&tree),
            render::task_table(&ready),
            render::status(&status),
            dir.display()
        ));
    }
    Ok(())
}

fn seed(atelier: &Atelier, owner: &Principal) -> Result<(), Error> {
    let task =
        |title: &str, parent: Option<i64>, role: &str, deps: Vec<i64>| -> Result<i64, Error> {
            Ok(atelier
                .task_create(
                    owner,
                    NewTask {
                        title: title.to_owned(),
                        parent,
                        role: Some(role.to_owned()),
                        depends_on: deps,
                        ..NewTask::default()
                    },
                )?
                .id)
        };
    let episode = task(
        "Episode 12: The Lighthouse Keeper",
        None,
        "project_manager",
        vec![],
    )?;
    let research = task(
        "Research lighthouse history on the Cornish coast",
        Some(episode),
        "researcher",
        vec![],
    )?;
    let outline = task(
        "Outline the episode",
        Some(episode),
        "writer",
        vec![research],
    )?;
    let script = task("Write the script", Some(episode), "writer", vec![outline])?;
    task(
        "Review the script for accuracy",
        Some(episode),
        "reviewer",
        vec![script],
    )?;
    task(
        "Write the show notes",
        Some(episode),
        "writer",
        vec![script],
    )?;
    for action in [
        TaskAction::Activate,
        TaskAction::Start,
        TaskAction::Complete,
    ] {
        atelier.task_transition(
            owner,
            TaskTransition {
                id: research,
                action,
                reason: None,
            },
        )?;
    }
    atelier.canon_create(
        owner,
        NewCanon {
            title: "Show voice".to_owned(),
            body: "Warm, curious, unhurried. Facts first, then the story they make.".to_owned(),
            tags: vec!["style".to_owned()],
            tier: Tier::Canon,
        },
    )?;
    atelier.shape_create(
        owner,
        NewShape {
            name: "show-notes".to_owned(),
            kind: ShapeKind::Markdown,
            description: "Episode show notes".to_owned(),
            body: "# {{title}}\n\n## Summary\n\n## Timestamps\n\n## Sources\n".to_owned(),
        },
    )?;
    Ok(())
}
