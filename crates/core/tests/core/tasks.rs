//! Tasks through the api on a real vault: the whole state machine, the refusals, and bad input
//! (recipe 4, "bad input corpus": each gets its typed error and changes nothing).

use crate::fixture::{TempVault, act, owner, refused, task};
use atelier_core::api::{NewSubtask, NewTask, TaskDependency, TaskEdit, TaskMove, TaskTransition};
use atelier_core::tasks::{TaskAction, TaskFilter, TaskState};

/// The path from a new task to each state.
fn path_to(state: TaskState) -> &'static [TaskAction] {
    use TaskAction as A;
    match state {
        TaskState::Pending => &[],
        TaskState::Active => &[A::Activate],
        TaskState::InProgress => &[A::Activate, A::Start],
        TaskState::Blocked => &[A::Activate, A::Start, A::Block],
        TaskState::Completed => &[A::Activate, A::Start, A::Complete],
        TaskState::Failed => &[A::Activate, A::Start, A::Fail],
        TaskState::Cancelled => &[A::Cancel],
    }
}

/// Every (state, action) pair, stored and read back from SQLite: allowed moves land where the
/// machine says; refused ones answer INVALID_TRANSITION and change nothing.
#[test]
fn every_state_and_action_pair_behaves_as_the_machine_says() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let mut pairs = 0;
    for state in TaskState::ALL {
        for action in TaskAction::ALL {
            let id = task(&atelier, &format!("{state} then {action}"), None, &[]);
            for step in path_to(state) {
                act(&atelier, id, *step).expect("path");
            }
            assert_eq!(
                atelier.task_show(&owner(), id).expect("show").task.state,
                state
            );
            match action.apply(state) {
                Some(to) => assert_eq!(act(&atelier, id, action).expect("allowed"), to),
                None => {
                    let err = refused(&vault, "INVALID_TRANSITION", || act(&atelier, id, action));
                    assert!(err.to_string().contains(state.name()), "{err}");
                }
            }
            pairs += 1;
        }
    }
    assert_eq!(pairs, 56);
}

#[test]
fn dependency_cycles_are_refused_at_any_length() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let a = task(&atelier, "a", None, &[]);
    let b = task(&atelier, "b", None, &[a]);
    let c = task(&atelier, "c", None, &[b]);
    for (id, on) in [(a, a), (a, b), (a, c), (b, c)] {
        refused(&vault, "CYCLE", || {
            atelier.task_dependency_add(&owner(), TaskDependency { id, depends_on: on })
        });
    }
    refused(&vault, "ALREADY_EXISTS", || {
        atelier.task_dependency_add(
            &owner(),
            TaskDependency {
                id: c,
                depends_on: b,
            },
        )
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.task_dependency_remove(
            &owner(),
            TaskDependency {
                id: a,
                depends_on: c,
            },
        )
    });
    let detail = atelier
        .task_dependency_add(
            &owner(),
            TaskDependency {
                id: c,
                depends_on: a,
            },
        )
        .expect("a shortcut edge is not a cycle");
    assert_eq!(detail.depends_on, vec![a, b]);
}

#[test]
fn parent_cycles_and_depth_over_the_limit_are_refused() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let mut chain = vec![task(&atelier, "level 1", None, &[])];
    for level in 2..=10 {
        chain.push(task(
            &atelier,
            &format!("level {level}"),
            chain.last().copied(),
            &[],
        ));
    }
    let deepest = chain[9];
    let err = refused(&vault, "DEPTH_EXCEEDED", || {
        atelier.task_create(
            &owner(),
            NewTask {
                title: "level 11".into(),
                parent: Some(deepest),
                ..NewTask::default()
            },
        )
    });
    assert!(err.to_string().contains("limit is 10"), "{err}");

    // Moving the chain's top under its own descendant, or under itself, is a cycle.
    for under in [chain[0], chain[5]] {
        refused(&vault, "CYCLE", || {
            atelier.task_move(
                &owner(),
                TaskMove {
                    id: chain[0],
                    parent: Some(under),
                },
            )
        });
    }
    // A subtree three deep moved under a task at depth 8 would reach 11.
    let root = task(&atelier, "other root", None, &[]);
    let mid = task(&atelier, "other mid", Some(root), &[]);
    task(&atelier, "other leaf", Some(mid), &[]);
    refused(&vault, "DEPTH_EXCEEDED", || {
        atelier.task_move(
            &owner(),
            TaskMove {
                id: root,
                parent: Some(chain[7]),
            },
        )
    });
    let moved = atelier
        .task_move(
            &owner(),
            TaskMove {
                id: root,
                parent: Some(chain[6]),
            },
        )
        .expect("depth 7 + 3 = 10 fits");
    assert_eq!(moved.parent_id, Some(chain[6]));
    let top = atelier
        .task_move(
            &owner(),
            TaskMove {
                id: root,
                parent: None,
            },
        )
        .expect("to top");
    assert_eq!(top.parent_id, None);
}

#[test]
fn a_parent_completes_only_when_its_children_are_done_and_starts_only_after_its_dependencies() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let parent = task(&atelier, "episode", None, &[]);
    let child = task(&atelier, "script", Some(parent), &[]);
    let other = task(&atelier, "research", None, &[]);
    let waiting = task(&atelier, "outline", None, &[other]);

    act(&atelier, parent, TaskAction::Activate).expect("activate");
    act(&atelier, parent, TaskAction::Start).expect("start");
    let err = refused(&vault, "OPEN_CHILDREN", || {
        act(&atelier, parent, TaskAction::Complete)
    });
    assert!(err.to_string().contains(&child.to_string()));
    act(&atelier, child, TaskAction::Cancel).expect("cancel child");
    assert_eq!(
        act(&atelier, parent, TaskAction::Complete).expect("complete"),
        TaskState::Completed
    );

    act(&atelier, waiting, TaskAction::Activate).expect("activate");
    let err = refused(&vault, "DEPENDENCIES_INCOMPLETE", || {
        act(&atelier, waiting, TaskAction::Start)
    });
    assert!(err.to_string().contains(&other.to_string()));
    for step in path_to(TaskState::Completed) {
        act(&atelier, other, *step).expect("complete dependency");
    }
    assert_eq!(
        act(&atelier, waiting, TaskAction::Start).expect("start"),
        TaskState::InProgress
    );
}

#[test]
fn next_lists_exactly_the_ready_tasks_most_urgent_first() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let done = task(&atelier, "done", None, &[]);
    for step in path_to(TaskState::Completed) {
        act(&atelier, done, *step).expect("complete");
    }
    let open = task(&atelier, "open", None, &[]);
    let after_done = task(&atelier, "after done", None, &[done]);
    let _after_open = task(&atelier, "after open", None, &[open]);
    let urgent = atelier
        .task_create(
            &owner(),
            NewTask {
                title: "urgent".into(),
                priority: 90,
                ..NewTask::default()
            },
        )
        .expect("create")
        .id;
    let ready: Vec<i64> = atelier
        .task_next(&owner())
        .expect("next")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ready, vec![urgent, open, after_done]);
}

#[test]
fn edits_and_lists_round_trip() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let id = task(&atelier, "draft", None, &[]);
    let edited = atelier
        .task_edit(
            &owner(),
            TaskEdit {
                id,
                title: Some("Draft chapter 3".into()),
                role: Some("writer".into()),
                priority: Some(40),
                ..TaskEdit::default()
            },
        )
        .expect("edit");
    assert_eq!(
        (
            edited.title.as_str(),
            edited.role.as_deref(),
            edited.priority
        ),
        ("Draft chapter 3", Some("writer"), 40)
    );
    let writers = atelier
        .task_list(
            &owner(),
            &TaskFilter {
                role: Some("writer".into()),
                ..TaskFilter::default()
            },
        )
        .expect("list");
    assert_eq!(writers.len(), 1);
    let cleared = atelier
        .task_edit(
            &owner(),
            TaskEdit {
                id,
                clear_role: true,
                ..TaskEdit::default()
            },
        )
        .expect("clear");
    assert_eq!(cleared.role, None);
    let child = task(&atelier, "scene", Some(id), &[]);
    let tree = atelier.task_tree(&owner(), None).expect("tree");
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].children[0].task.id, child);
}

/// Recipe 4: each bad input gets INVALID_INPUT or NOT_FOUND and leaves the vault as it was.
#[test]
fn bad_task_input_is_refused_with_a_typed_error_and_changes_nothing() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let id = task(&atelier, "existing", None, &[]);
    let new = |f: &dyn Fn(&mut NewTask)| {
        let mut n = NewTask {
            title: "ok".into(),
            ..NewTask::default()
        };
        f(&mut n);
        n
    };
    let cases: Vec<(&str, NewTask)> = vec![
        ("INVALID_INPUT", new(&|n| n.title = String::new())),
        ("INVALID_INPUT", new(&|n| n.title = "   ".into())),
        ("INVALID_INPUT", new(&|n| n.title = "nul\0byte".into())),
        ("INVALID_INPUT", new(&|n| n.title = "x".repeat(201))),
        ("INVALID_INPUT", new(&|n| n.description = "d\0".into())),
        (
            "INVALID_INPUT",
            new(&|n| n.description = "x".repeat(64 * 1024 + 1)),
        ),
        ("INVALID_INPUT", new(&|n| n.priority = -1)),
        ("INVALID_INPUT", new(&|n| n.priority = 101)),
        ("INVALID_INPUT", new(&|n| n.role = Some("ghost".into()))),
        ("INVALID_INPUT", new(&|n| n.play = Some("../escape".into()))),
        ("INVALID_INPUT", new(&|n| n.parent = Some(0))),
        ("INVALID_INPUT", new(&|n| n.parent = Some(-5))),
        ("NOT_FOUND", new(&|n| n.parent = Some(9_999))),
        ("NOT_FOUND", new(&|n| n.depends_on = vec![id, 9_999])),
    ];
    for (code, request) in cases {
        refused(&vault, code, || {
            atelier.task_create(&owner(), request.clone())
        });
    }
    let edits: Vec<(&str, TaskEdit)> = vec![
        (
            "INVALID_INPUT",
            TaskEdit {
                id,
                ..TaskEdit::default()
            },
        ),
        (
            "INVALID_INPUT",
            TaskEdit {
                id,
                role: Some("writer".into()),
                clear_role: true,
                ..TaskEdit::default()
            },
        ),
        (
            "INVALID_INPUT",
            TaskEdit {
                id,
                priority: Some(-3),
                ..TaskEdit::default()
            },
        ),
        (
            "INVALID_INPUT",
            TaskEdit {
                id,
                title: Some(String::new()),
                ..TaskEdit::default()
            },
        ),
        (
            "NOT_FOUND",
            TaskEdit {
                id: 424_242,
                title: Some("x".into()),
                ..TaskEdit::default()
            },
        ),
    ];
    for (code, edit) in edits {
        refused(&vault, code, || atelier.task_edit(&owner(), edit.clone()));
    }
    refused(&vault, "INVALID_INPUT", || {
        atelier.task_transition(
            &owner(),
            TaskTransition {
                id,
                action: TaskAction::Cancel,
                reason: Some("a\0".into()),
            },
        )
    });
    refused(&vault, "NOT_FOUND", || {
        act(&atelier, 77_777, TaskAction::Activate)
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.task_move(
            &owner(),
            TaskMove {
                id,
                parent: Some(55_555),
            },
        )
    });
    refused(&vault, "INVALID_INPUT", || atelier.task_show(&owner(), -1));
    refused(&vault, "NOT_FOUND", || atelier.task_show(&owner(), 31_337));
}

/// Requests arriving as JSON (desktop, MCP) refuse unknown fields and wrong types.
/// A task and its subtasks come in one transaction: ordered subtasks wait on earlier ones,
/// and one bad subtask (or a forward `after`) refuses the whole call with nothing written.
#[test]
fn a_task_and_its_subtasks_are_created_together_or_not_at_all() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let sub = |title: &str, after: &[usize]| NewSubtask {
        title: title.into(),
        after: after.to_vec(),
        ..NewSubtask::default()
    };
    let created = atelier
        .task_create_with_subtasks(
            &owner(),
            NewTask {
                title: "Chapter 12".into(),
                subtasks: vec![sub("outline", &[]), sub("draft", &[0]), sub("edit", &[1])],
                ..NewTask::default()
            },
        )
        .expect("create");
    let ids: Vec<i64> = created.iter().map(|t| t.id).collect();
    assert_eq!(created.len(), 4);
    assert!(created[1..].iter().all(|t| t.parent_id == Some(ids[0])));
    let draft = atelier.task_show(&owner(), ids[2]).expect("show");
    assert_eq!(draft.depends_on, [ids[1]]);
    let next: Vec<i64> = atelier
        .task_next(&owner())
        .expect("next")
        .iter()
        .map(|t| t.id)
        .collect();
    assert!(
        next.contains(&ids[1]) && !next.contains(&ids[2]),
        "{next:?}"
    );

    let parent = NewTask {
        title: "Chapter 13".into(),
        ..NewTask::default()
    };
    refused(&vault, "INVALID_INPUT", || {
        atelier.task_create_with_subtasks(
            &owner(),
            NewTask {
                subtasks: vec![sub("fine", &[]), sub("", &[0])],
                ..parent.clone()
            },
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.task_create_with_subtasks(
            &owner(),
            NewTask {
                subtasks: vec![sub("waits on itself", &[0])],
                ..parent.clone()
            },
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.task_create_with_subtasks(
            &owner(),
            NewTask {
                subtasks: (0..101).map(|i| sub(&format!("s{i}"), &[])).collect(),
                ..parent.clone()
            },
        )
    });
}

#[test]
fn request_types_refuse_unknown_fields_and_wrong_types() {
    for bad in [
        r#"{"title": "x", "colour": "red"}"#,
        r#"{"title": 5}"#,
        r#"{"title": "x", "priority": "high"}"#,
        r#"{"title": "x", "depends_on": [1.5]}"#,
        r#"{}"#,
    ] {
        assert!(serde_json::from_str::<NewTask>(bad).is_err(), "{bad}");
    }
    assert!(serde_json::from_str::<TaskTransition>(r#"{"id": 1, "action": "teleport"}"#).is_err());
}

/// The tree carries what a workbench row needs: each node's direct dependencies and the actions
/// its state allows, for whole forests and for a subtree.
#[test]
fn tree_nodes_carry_their_dependencies_and_allowed_actions() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let book = task(&atelier, "book", None, &[]);
    let outline = task(&atelier, "outline", Some(book), &[]);
    let draft = task(&atelier, "draft", Some(book), &[outline]);
    act(&atelier, outline, TaskAction::Activate).expect("activate");

    let tree = atelier.task_tree(&owner(), None).expect("tree");
    let kids = &tree[0].children;
    assert_eq!(
        kids.iter().map(|n| n.task.id).collect::<Vec<_>>(),
        [outline, draft]
    );
    assert_eq!(kids[0].depends_on, Vec::<i64>::new());
    assert_eq!(
        kids[0].allowed_actions,
        [TaskAction::Start, TaskAction::Cancel]
    );
    assert_eq!(kids[1].depends_on, [outline]);
    assert_eq!(
        kids[1].allowed_actions,
        [TaskAction::Activate, TaskAction::Cancel]
    );

    let subtree = atelier.task_tree(&owner(), Some(draft)).expect("subtree");
    assert_eq!(subtree.len(), 1);
    assert_eq!(subtree[0].depends_on, [outline]);
    assert!(subtree[0].children.is_empty());
}
