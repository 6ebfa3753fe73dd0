//! The scheduler end to end on a real vault: a task DAG worked through by the worker pool
//! against the provider stub, in dependency order and within the global and per-provider
//! limits; failures block exactly what depends on them; approvals hold tasks for a person;
//! the starter's and the role's capabilities both bound what a job does.
//! These runs use the system clock (leases, backoff and run times are real time).

use crate::fixture::{StubProvider, TempVault, owner, refused};
use atelier_core::access::auth::{Capability, Principal};
use atelier_core::api::{
    AssetReviewRequest, GrantAdd, NewTask, OrchestrateRequest, OrchestrationView, ProviderAdd,
    RunRequest, TaskEdit, TaskTransition,
};
use atelier_core::assets::ReviewAction;
use atelier_core::orchestration::bookkeeping::OrchestrationState;
use atelier_core::orchestration::workers::Workers;
use atelier_core::providers::WireFormat;
use atelier_core::tasks::{TaskAction, TaskState, Waiting};
use atelier_core::{Atelier, OpenOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A play of one step on `model`, banked by `approval`; its task text names the task and
/// what its dependencies produced.
fn play(name: &str, model: &str, approval: &str, role: &str) -> String {
    format!(
        "name: {name}\ntitle: {name}\ndescription: a step of a plan\ndomain: test\napproval: {approval}\n\
         steps:\n  - id: work\n    role: {role}\n    task_class: llm.creator\n    model: \"{model}\"\n    task: |\n      \
         Do {{{{ task.title }}}}.{{% for u in upstream %}} After {{{{ u.title }}}}.{{% endfor %}}\n"
    )
}

/// Fields drop in order: the vault closes before its directory goes.
struct Bench {
    atelier: Arc<Atelier>,
    stub: StubProvider,
    other: StubProvider,
    vault: TempVault,
}

/// A vault with `config` (YAML), the stub as provider `stub` and a second stub as `other`, and
/// the plays: `step` (stub, draft), `other_step` (other, draft), `broken` (a refused key),
/// `reviewed` (stub, review), `coordinated` (stub, draft, acted by a role that cannot bank).
fn bench(config: &str) -> Bench {
    let vault = TempVault::new();
    std::fs::write(vault.path().join("config.yaml"), config).expect("config");
    let plays = vault.path().join("plays");
    std::fs::create_dir_all(&plays).expect("plays dir");
    for (name, model, approval, role) in [
        ("step", "stub:slow-a", "draft", "writer"),
        ("other_step", "other:slow-b", "draft", "writer"),
        ("broken", "stub:fail-401", "draft", "writer"),
        ("reviewed", "stub:ok", "review", "writer"),
        ("coordinated", "stub:ok", "draft", "coordinator"),
    ] {
        std::fs::write(
            plays.join(format!("{name}.yaml")),
            play(name, model, approval, role),
        )
        .expect("play");
    }
    let atelier = Arc::new(Atelier::open(OpenOptions::new(vault.path())));
    assert_eq!(atelier.status().sealed, None);
    let stub = StubProvider::start();
    let other = StubProvider::start();
    for (name, server) in [("stub", &stub), ("other", &other)] {
        atelier
            .provider_add(
                &owner(),
                ProviderAdd {
                    name: name.to_owned(),
                    format: WireFormat::OpenAi,
                    base_url: server.url("/v1"),
                    key_ref: None,
                },
            )
            .expect("provider");
    }
    Bench {
        vault,
        atelier,
        stub,
        other,
    }
}

fn add(
    atelier: &Atelier,
    title: &str,
    parent: Option<i64>,
    play: Option<&str>,
    role: Option<&str>,
    deps: &[i64],
) -> i64 {
    atelier
        .task_create(
            &owner(),
            NewTask {
                title: title.to_owned(),
                parent,
                play: play.map(str::to_owned),
                role: role.map(str::to_owned),
                depends_on: deps.to_vec(),
                ..NewTask::default()
            },
        )
        .expect("task")
        .id
}

/// Starts a pool of `workers`, orchestrates `root` as `who`, and waits until the orchestration
/// has nothing queued or held (or has finished).
fn settle(atelier: &Arc<Atelier>, who: &Principal, root: i64, workers: u32) -> OrchestrationView {
    let pool = Workers::start(atelier.clone(), workers, Arc::new(|_| {}));
    let id = atelier
        .orchestrate(who, &OrchestrateRequest { root })
        .expect("orchestrate")
        .orchestration
        .id;
    let view = wait_idle(atelier, id);
    pool.stop();
    view
}

fn wait_idle(atelier: &Atelier, id: i64) -> OrchestrationView {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = atelier.orchestration_show(&owner(), id).expect("show");
        if view.idle || view.orchestration.state != OrchestrationState::Running {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "the orchestration never settled: {view:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state(atelier: &Atelier, id: i64) -> TaskState {
    atelier.task_show(&owner(), id).expect("show").task.state
}

/// (started, finished) of each task's passed run, from the runs table.
fn run_times(vault: &TempVault) -> BTreeMap<i64, (i64, i64)> {
    let db = vault.sqlite();
    let mut stmt = db
        .prepare(
            "SELECT task_id, started_at, finished_at FROM runs
             WHERE status = 'passed' AND task_id IS NOT NULL",
        )
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

/// Most runs that overlapped at once.
fn peak(times: &BTreeMap<i64, (i64, i64)>) -> usize {
    let mut edges: Vec<(i64, i32)> = times
        .values()
        .flat_map(|(s, f)| [(*s, 1), (*f, -1)])
        .collect();
    // An end at the same ms as a start frees its slot first.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    usize::try_from(most).unwrap_or(0)
}

/// The DAG in dependency order within both limits, a failure blocking exactly its downstream,
/// and `reset` carrying the work to the end.
#[test]
fn a_dag_runs_in_order_within_the_limits_and_a_failure_blocks_exactly_its_downstream() {
    let b = bench("orchestration:\n  concurrency: 3\n  provider_limits: {stub: 2}\n");
    let a = &b.atelier;
    let root = add(a, "Pilot episode", None, None, None, &[]);
    let t =
        |title: &str, play: &str, deps: &[i64]| add(a, title, Some(root), Some(play), None, deps);
    let t1 = t("research the lighthouse", "step", &[]);
    let t2 = t("research the storm", "step", &[]);
    let t3 = t("research the keeper", "step", &[]);
    let t4 = t("research the trawler", "step", &[]);
    let t5 = t("cast list", "other_step", &[]);
    let t6 = t("locations", "other_step", &[]);
    let t7 = t("outline", "step", &[t1, t2]);
    let t8 = t("draft", "step", &[t7, t5]);
    let t9 = t("keeper backstory", "broken", &[t3]);
    let t10 = t("keeper scenes", "step", &[t9]);
    let t11 = t("final pass", "step", &[t10, t8]);
    let t12 = t("location notes", "other_step", &[t6]);

    let view = settle(a, &owner(), root, 3);
    assert!(view.idle, "{view:?}");
    let failed = a.task_show(&owner(), t9).expect("t9").task;
    assert_eq!(failed.state, TaskState::Failed);
    assert!(
        failed
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("refused the key")),
        "{failed:?}"
    );
    for id in [t10, t11] {
        let blocked = a.task_show(&owner(), id).expect("show").task;
        assert_eq!(blocked.state, TaskState::Blocked, "task {id}");
        assert_eq!(blocked.waiting, Some(Waiting::Dependency { task: t9 }));
    }
    for id in [t1, t2, t3, t4, t5, t6, t7, t8, t12] {
        assert_eq!(state(a, id), TaskState::Completed, "task {id}");
    }
    assert_eq!(
        state(a, root),
        TaskState::InProgress,
        "a failed child keeps it open"
    );
    assert_eq!(view.tasks.completed, 9);
    assert_eq!(view.tasks.blocked, 2);
    assert_eq!(view.tasks.failed, 1);

    // Order: every task's run started after each of its dependencies' runs finished.
    let times = run_times(&b.vault);
    for (task, deps) in [(t7, vec![t1, t2]), (t8, vec![t7, t5]), (t12, vec![t6])] {
        for dep in deps {
            assert!(
                times[&task].0 >= times[&dep].1,
                "task {task} started before its dependency {dep} finished: {times:?}"
            );
        }
    }
    // Limits: three runs at once at most, and reached; two calls at once to `stub`, reached.
    assert_eq!(peak(&times), 3, "{times:?}");
    let stub_peak = b
        .stub
        .requests()
        .iter()
        .filter_map(|r| r["inflight"].as_u64())
        .max();
    assert_eq!(stub_peak, Some(2));
    assert!(!b.other.requests().is_empty());

    // Manual moves of a task blocked by the scheduler are refused and say what ends the wait.
    let err = refused(&b.vault, "TASK_WAITING", || {
        a.task_transition(
            &owner(),
            TaskTransition {
                id: t10,
                action: TaskAction::Unblock,
                reason: None,
            },
        )
    });
    assert!(
        err.to_string().contains(&format!("reset task {t9}")),
        "{err}"
    );

    // Fix the play and reset: the failed task and everything it held back run to the end.
    a.task_edit(
        &owner(),
        TaskEdit {
            id: t9,
            play: Some("step".to_owned()),
            ..TaskEdit::default()
        },
    )
    .expect("edit");
    a.task_transition(
        &owner(),
        TaskTransition {
            id: t9,
            action: TaskAction::Reset,
            reason: None,
        },
    )
    .expect("reset");
    assert_eq!(state(a, t10), TaskState::Pending, "released by the reset");
    let view = settle(a, &owner(), root, 3);
    assert_eq!(
        view.orchestration.state,
        OrchestrationState::Finished,
        "{view:?}"
    );
    assert_eq!(state(a, root), TaskState::Completed);
    assert_eq!(view.tasks.completed, 13);
    assert!(view.dead_letters.is_empty());
    // The downstream prompt carries what its dependencies produced.
    let last = b.stub.requests();
    let final_pass = last
        .iter()
        .rev()
        .find(|r| r["body"].to_string().contains("Do final pass"))
        .expect("the final pass was sent");
    assert!(
        final_pass["body"]
            .to_string()
            .contains("After keeper scenes")
    );
}

/// A task whose play asks for review waits for a person; approving completes it (and lets its
/// dependents run), rejecting fails it and blocks its dependents.
#[test]
fn approval_holds_a_task_until_a_person_decides() {
    let b = bench("");
    let a = &b.atelier;
    let root = add(a, "Scenes", None, None, None, &[]);
    let first = add(a, "scene one", Some(root), Some("reviewed"), None, &[]);
    let after_first = add(a, "scene two", Some(root), Some("step"), None, &[first]);
    let rejected = add(a, "scene three", Some(root), Some("reviewed"), None, &[]);
    let after_rejected = add(a, "scene four", Some(root), Some("step"), None, &[rejected]);

    let view = settle(a, &owner(), root, 2);
    assert_eq!(view.in_review.len(), 2, "{view:?}");
    let asset_of = |task: i64| {
        view.in_review
            .iter()
            .find(|w| w.task == task)
            .map(|w| w.asset)
            .expect("in review")
    };
    let waiting = a.task_show(&owner(), first).expect("show").task;
    assert_eq!(waiting.state, TaskState::Blocked);
    assert_eq!(
        waiting.waiting,
        Some(Waiting::Approval {
            asset: asset_of(first)
        })
    );
    assert_eq!(state(a, after_first), TaskState::Pending);
    let err = refused(&b.vault, "TASK_WAITING", || {
        a.task_transition(
            &owner(),
            TaskTransition {
                id: first,
                action: TaskAction::Unblock,
                reason: None,
            },
        )
    });
    assert!(err.to_string().contains("approve asset"), "{err}");

    let review = |asset: i64, action: ReviewAction, note: &str| {
        a.asset_review(
            &owner(),
            &AssetReviewRequest {
                asset,
                action,
                note: note.to_owned(),
            },
        )
        .expect("review")
    };
    review(asset_of(first), ReviewAction::Approve, "");
    assert_eq!(state(a, first), TaskState::Completed);
    review(
        asset_of(rejected),
        ReviewAction::Reject,
        "the keeper would never say that",
    );
    let failed = a.task_show(&owner(), rejected).expect("show").task;
    assert_eq!(failed.state, TaskState::Failed);
    assert!(
        failed
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("never say that"))
    );
    assert_eq!(
        a.task_show(&owner(), after_rejected)
            .expect("show")
            .task
            .waiting,
        Some(Waiting::Dependency { task: rejected })
    );

    let view = settle(a, &owner(), root, 2);
    assert_eq!(state(a, after_first), TaskState::Completed, "{view:?}");
    assert_eq!(state(a, after_rejected), TaskState::Blocked);
}

/// No confused deputy: a job does only what both its task's role and the principal who started
/// the orchestration may do, checked when it runs; refused jobs never reach a model.
#[test]
fn a_job_acts_within_both_the_role_and_the_starter() {
    let b = bench("mcp_default_capabilities: [vault_read]\n");
    let a = &b.atelier;
    let host = Principal::Mcp("host".to_owned());
    let root = add(a, "Plan", None, None, None, &[]);
    let banks = add(
        a,
        "write it up",
        Some(root),
        Some("step"),
        Some("writer"),
        &[],
    );
    let other_root = add(a, "Other plan", None, None, None, &[]);
    let role_cannot = add(
        a,
        "coordinate",
        Some(other_root),
        Some("coordinated"),
        Some("coordinator"),
        &[],
    );

    // Without run_plays the host cannot start the scheduler at all.
    refused(&b.vault, "DENIED", || {
        a.orchestrate(&host, &OrchestrateRequest { root })
    });
    for capability in [Capability::TasksWrite, Capability::RunPlays] {
        a.grant_add(
            &owner(),
            GrantAdd {
                principal: host.clone(),
                capability,
                scope: None,
                expires_in: None,
            },
        )
        .expect("grant");
    }
    let view = settle(a, &host, root, 2);
    assert!(view.idle);
    let denied = a.task_show(&owner(), banks).expect("show").task;
    assert_eq!(denied.state, TaskState::Failed);
    assert!(
        denied
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("mcp:host") && r.contains("bank_assets")),
        "the starter lacks bank_assets: {denied:?}"
    );
    // The owner may do anything, but the coordinator role cannot bank what its play produces.
    settle(a, &owner(), other_root, 2);
    let denied = a.task_show(&owner(), role_cannot).expect("show").task;
    assert_eq!(denied.state, TaskState::Failed);
    assert!(
        denied
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("role:coordinator")),
        "the role lacks bank_assets: {denied:?}"
    );
    assert!(
        b.stub.requests().iter().all(|r| r["method"] != "POST"),
        "no model was called"
    );
}

/// Bad requests are refused with typed errors and change nothing; starting again on the same
/// root answers the same orchestration; an overlapping subtree is refused.
#[test]
fn bad_orchestration_requests_are_refused_and_change_nothing() {
    let b = bench("");
    let a = &b.atelier;
    let root = add(a, "Plan", None, None, None, &[]);
    let child = add(a, "part", Some(root), None, Some("writer"), &[]);
    for bad in [0, -4] {
        refused(&b.vault, "INVALID_INPUT", || {
            a.orchestrate(&owner(), &OrchestrateRequest { root: bad })
        });
    }
    refused(&b.vault, "NOT_FOUND", || {
        a.orchestrate(&owner(), &OrchestrateRequest { root: 999 })
    });
    refused(&b.vault, "NOT_FOUND", || a.orchestration_show(&owner(), 7));
    let first = a
        .orchestrate(&owner(), &OrchestrateRequest { root })
        .expect("start");
    let again = a
        .orchestrate(&owner(), &OrchestrateRequest { root })
        .expect("again");
    assert_eq!(first.orchestration.id, again.orchestration.id);
    refused(&b.vault, "ALREADY_ORCHESTRATED", || {
        a.orchestrate(&owner(), &OrchestrateRequest { root: child })
    });
    let stopped = a
        .orchestration_stop(&owner(), first.orchestration.id)
        .expect("stop");
    assert_eq!(stopped.orchestration.state, OrchestrationState::Stopped);
    assert_eq!(stopped.jobs.ready, 0, "its queued job is dropped");
    refused(&b.vault, "INVALID_INPUT", || {
        a.orchestration_stop(&owner(), first.orchestration.id)
    });
}

/// A run started again with the key it passed under answers that run, and the model is not
/// called again.
#[test]
fn a_run_started_again_with_its_key_answers_the_run_that_passed() {
    let b = bench("");
    let a = &b.atelier;
    let task = add(a, "once", None, Some("step"), None, &[]);
    let request = RunRequest {
        play: "step".to_owned(),
        adhoc: None,
        params: serde_json::Map::new(),
        model: None,
        task: Some(task),
        idempotency_key: Some("task:1:0".to_owned()),
    };
    let first = a.run_play(&owner(), &request, &mut |_| {}).expect("run");
    let again = a.run_play(&owner(), &request, &mut |_| {}).expect("again");
    assert_eq!(first.id, again.id);
    let posts: Vec<_> = b
        .stub
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["headers"]["idempotency-key"], "task:1:0:work");
    refused(&b.vault, "INVALID_INPUT", || {
        a.run_play(
            &owner(),
            &RunRequest {
                idempotency_key: Some("x\ny".to_owned()),
                ..request.clone()
            },
            &mut |_| {},
        )
    });
}

/// A decomposition play answering `model`'s plan, acted by the orchestrator role.
fn decomposition(name: &str, model: &str) -> String {
    format!(
        "name: {name}\ntitle: {name}\ndescription: plans\ndomain: test\ndecomposes: true\n\
         approval: manual\nsteps:\n  - id: plan\n    role: orchestrator\n    task_class: llm.planner\n    \
         model: \"stub:{model}\"\n    task: \"Plan {{{{ task.title }}}}.\"\n"
    )
}

fn plan(n: usize) -> String {
    let subtasks: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let after: Vec<usize> = if i == 2 { vec![0] } else { Vec::new() };
            serde_json::json!({
                "title": format!("part {i}"),
                "description": "a piece of the plan",
                "role": "writer",
                "play": "step",
                "after": after,
            })
        })
        .collect();
    serde_json::json!({ "subtasks": subtasks }).to_string()
}

/// Decomposition within limits, and each loop guard's refusal: a plan is created under its
/// task all at once and run; a plan over the per-task cap, one that would pass the
/// orchestration's cap, and one that would nest deeper than the depth limit are refused with
/// the reason, and none of their subtasks exist.
#[test]
fn decomposition_creates_the_plan_at_once_and_each_guard_refuses_with_its_reason() {
    let b = bench(
        "task_depth_limit: 3\norchestration:\n  max_spawned_per_task: 4\n  max_spawned_per_orchestration: 6\n",
    );
    let plays = b.vault.path().join("plays");
    for (name, model) in [
        ("plan3", "plan-3"),
        ("plan5", "plan-5"),
        ("plan4", "plan-4"),
    ] {
        std::fs::write(
            plays.join(format!("{name}.yaml")),
            decomposition(name, model),
        )
        .expect("play");
    }
    b.stub.set_replies(serde_json::json!({
        "plan-3": [plan(3)], "plan-5": [plan(5)], "plan-4": [plan(4)],
    }));
    // The plays were written after the vault opened: open it again to load them.
    let Bench {
        atelier,
        stub,
        other,
        vault,
    } = b;
    drop(atelier);
    let a = Arc::new(Atelier::open(OpenOptions::new(vault.path())));
    let root = add(&a, "Pilot", None, None, None, &[]);
    let o = Some("orchestrator");
    let planned = add(&a, "plan the cold open", Some(root), Some("plan3"), o, &[]);
    let too_many = add(&a, "plan everything", Some(root), Some("plan5"), o, &[]);
    let over_run = add(
        &a,
        "plan the rest",
        Some(root),
        Some("plan4"),
        o,
        &[planned],
    );
    let shelf = add(&a, "act two", Some(root), None, None, &[]);
    let too_deep = add(&a, "plan act two", Some(shelf), Some("plan3"), o, &[]);

    let view = settle(&a, &owner(), root, 2);
    let show = |id: i64| a.task_show(&owner(), id).expect("show");
    let done = show(planned);
    assert_eq!(done.task.state, TaskState::Completed, "{view:?}");
    assert_eq!(done.children.len(), 3);
    for child in &done.children {
        assert_eq!(show(*child).task.state, TaskState::Completed);
    }
    assert_eq!(show(done.children[2]).depends_on, vec![done.children[0]]);
    assert_eq!(view.orchestration.spawned, 3);

    for (id, guard) in [
        (too_many, "spawned_per_task"),
        (over_run, "spawned_per_orchestration"),
        (too_deep, "depth"),
    ] {
        let refused = show(id);
        assert_eq!(refused.task.state, TaskState::Failed, "task {id}");
        assert!(refused.children.is_empty(), "task {id} has no subtasks");
        let reason = refused.task.reason.unwrap_or_default();
        assert!(
            reason.starts_with("its plan was not created") && reason.contains(guard),
            "task {id}: {reason}"
        );
    }
    assert!(
        show(too_many)
            .task
            .reason
            .is_some_and(|r| r.contains("5 subtasks; at most 4 per task"))
    );
    let plans = stub
        .requests()
        .iter()
        .filter(|r| {
            r["body"]["model"]
                .as_str()
                .is_some_and(|m| m.starts_with("plan-"))
        })
        .count();
    assert_eq!(plans, 4, "each planning task asked the model once");
    drop((a, other, vault));
}

/// The rate guard: past `max_runs_per_minute` runs in the last minute, jobs wait, and the
/// orchestration says which and why.
#[test]
fn the_rate_guard_holds_jobs_and_says_why() {
    let b = bench("orchestration:\n  max_runs_per_minute: 2\n");
    let a = &b.atelier;
    let root = add(a, "Plan", None, None, None, &[]);
    for n in 0..4 {
        add(a, &format!("part {n}"), Some(root), Some("step"), None, &[]);
    }
    let pool = Workers::start(a.clone(), 2, Arc::new(|_| {}));
    let id = a
        .orchestrate(&owner(), &OrchestrateRequest { root })
        .expect("start")
        .orchestration
        .id;
    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = a.orchestration_show(&owner(), id).expect("show");
        if view.tasks.completed == 2 && view.held.len() == 2 {
            break view;
        }
        assert!(Instant::now() < deadline, "never held: {view:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    pool.stop();
    for held in &view.held {
        assert!(
            held.reason.contains("rate guard") && held.reason.contains("at most 2"),
            "{held:?}"
        );
    }
    assert_eq!(view.tasks.active, 2, "held tasks stay ready: {view:?}");
}

/// The plan view, from the graph with live states from SQLite. Before anything has run every
/// leaf's work is estimated alike, so the critical path is the longest chain of dependencies,
/// through a container's longest child and on to what waits on the container; a task outside
/// the subtree that one inside waits on is shown as outside. After the orchestration every
/// leaf's work is measured and the timings hold together (each dependent starts after its
/// dependency finishes, the path's work adds up to its length). A bad root or a reader without
/// `vault_read` is refused and changes nothing.
#[test]
fn the_plan_shows_the_dag_its_critical_path_and_live_states() {
    let b = bench("mcp_default_capabilities: []\norchestration:\n  concurrency: 2\n");
    let a = &b.atelier;
    let brief = add(a, "Brief", None, None, None, &[]);
    let root = add(a, "Pilot", None, None, None, &[]);
    let research = add(a, "Research", Some(root), None, None, &[]);
    let characters = add(
        a,
        "Characters",
        Some(research),
        Some("step"),
        Some("writer"),
        &[],
    );
    let setting = add(
        a,
        "Setting",
        Some(research),
        Some("step"),
        Some("writer"),
        &[],
    );
    let tone = add(
        a,
        "Tone",
        Some(research),
        Some("step"),
        Some("writer"),
        &[setting],
    );
    let outline = add(
        a,
        "Outline",
        Some(root),
        Some("step"),
        Some("writer"),
        &[research],
    );
    let draft = add(
        a,
        "Draft",
        Some(root),
        Some("step"),
        Some("writer"),
        &[outline],
    );
    let logline = add(
        a,
        "Logline",
        Some(root),
        Some("step"),
        Some("writer"),
        &[brief],
    );

    let plan = a.task_plan(&owner(), root).expect("plan");
    let node = |plan: &atelier_core::api::TaskPlan, id: i64| {
        plan.nodes
            .iter()
            .find(|n| n.task.id == id)
            .cloned()
            .expect("node")
    };
    let mut ids: Vec<i64> = plan.nodes.iter().map(|n| n.task.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec![
            brief, root, research, characters, setting, tone, outline, draft, logline
        ]
    );
    let mut edges: Vec<(i64, i64, bool)> = plan
        .edges
        .iter()
        .map(|e| (e.from, e.to, e.critical))
        .collect();
    edges.sort_unstable();
    assert_eq!(
        edges,
        vec![
            (brief, logline, false),
            (research, outline, true),
            (setting, tone, true),
            (outline, draft, true),
        ]
    );
    assert_eq!(plan.critical_path, vec![setting, tone, outline, draft]);
    assert_eq!(plan.length_ms, plan.remaining_ms);
    assert_eq!(plan.length_ms, 4 * node(&plan, setting).work_ms);
    assert!(plan.stuck.is_empty());
    for (id, column, critical, container) in [
        (root, 0, true, true),
        (research, 0, true, true),
        (characters, 0, false, false),
        (setting, 0, true, false),
        (tone, 1, true, false),
        (outline, 2, true, false),
        (draft, 3, true, false),
        (logline, 1, false, false),
        (brief, 0, false, false),
    ] {
        let n = node(&plan, id);
        assert_eq!(
            (n.column, n.critical, n.container),
            (column, critical, container),
            "{}",
            n.task.title
        );
        assert_eq!(n.outside, id == brief, "{}", n.task.title);
        assert_eq!(n.task.state, TaskState::Pending);
        assert!(!n.measured || n.container, "{} has not run", n.task.title);
    }

    // A reader without vault_read, and bad roots, change nothing.
    let host: Principal = "mcp:claude-desktop".parse().expect("principal");
    refused(&b.vault, "DENIED", || a.task_plan(&host, root));
    refused(&b.vault, "INVALID_INPUT", || a.task_plan(&owner(), 0));
    refused(&b.vault, "NOT_FOUND", || a.task_plan(&owner(), 999));

    // Brief is done by hand; then the scheduler works the pilot through.
    for action in [
        TaskAction::Activate,
        TaskAction::Start,
        TaskAction::Complete,
    ] {
        a.task_transition(
            &owner(),
            TaskTransition {
                id: brief,
                action,
                reason: None,
            },
        )
        .expect("brief");
    }
    let view = settle(a, &owner(), root, 2);
    assert_eq!(view.orchestration.state, OrchestrationState::Finished);

    let plan = a.task_plan(&owner(), root).expect("plan after the run");
    assert_eq!(plan.remaining_ms, 0);
    let root_node = node(&plan, root);
    assert_eq!(root_node.finish_ms, plan.length_ms);
    let path_work: i64 = plan
        .critical_path
        .iter()
        .map(|id| node(&plan, *id).work_ms)
        .sum();
    assert_eq!(path_work, plan.length_ms);
    assert!(
        plan.critical_path.contains(&draft),
        "{:?}",
        plan.critical_path
    );
    for n in &plan.nodes {
        assert_eq!(n.task.state, TaskState::Completed, "{}", n.task.title);
        assert!(n.finish_ms <= plan.length_ms);
        assert!(n.finish_ms - n.start_ms >= n.work_ms);
        if n.task.id != brief && !n.container {
            assert!(n.measured, "{} ran, so its work is measured", n.task.title);
        }
    }
    for e in &plan.edges {
        assert!(
            node(&plan, e.to).start_ms >= node(&plan, e.from).finish_ms,
            "{} starts before {} finishes",
            e.to,
            e.from
        );
    }
}
