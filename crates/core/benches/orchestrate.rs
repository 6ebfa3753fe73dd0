//! The scheduler's costs, each printed beside a peer run in the same process on the same data:
//!
//! 1. Ready-set maintenance per state change on a 100,000-task DAG (`ATELIER_BENCH_TASKS`
//!    changes it): completing a task through the scheduler's bookkeeping, which looks only at the
//!    task's dependents and parent, against recomputing the ready set with one SQL query over
//!    every task (what a scheduler without incremental upkeep does after each change).
//! 2. Scheduler overhead per task with an instant provider stub: tasks per second through the
//!    orchestration (jobs, leases, transitions, audit) with one worker and with four, against the
//!    same plays run back to back with `run_play` and no scheduler.
//!
//! Needs python3 (the stub) and a Secret Service (the keychain): `scripts/bench-orchestrate.sh`
//! runs it under `dbus-run-session` with gnome-keyring.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use atelier_core::access::auth::Principal;
use atelier_core::api::{OrchestrateRequest, ProviderAdd, RunRequest, WorkEvent};
use atelier_core::clock::SystemClock;
use atelier_core::orchestration::bookkeeping::{Bookkeeping, OrchestrationState};
use atelier_core::orchestration::workers::Workers;
use atelier_core::providers::WireFormat;
use atelier_core::{Atelier, OpenOptions, tasks};
use rusqlite::{Connection, params};
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
#[path = "../tests/core/rng.rs"]
mod rng;

use rng::Rng;

fn main() {
    let n: u64 = std::env::var("ATELIER_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    ready_set_upkeep(n);
    scheduler_overhead(300);
}

/// A vault with `n` tasks under one root: containers of 100 leaves, each leaf waiting on up to
/// three of the ten before it in its container and 1 % also on a leaf anywhere before.
fn dag_vault(dir: &Path, n: u64) -> (Connection, i64) {
    Atelier::init(dir, &SystemClock, false).expect("init");
    drop(Atelier::open(OpenOptions::new(dir)));
    let mut db = Connection::open(dir.join("atelier.db")).expect("db");
    let tx = db.transaction().expect("tx");
    let now = 1_767_225_600_000_i64;
    let mut rng = Rng(7);
    tx.execute(
        "INSERT INTO tasks (title, state, created_at, updated_at) VALUES ('root', 'pending', ?1, ?1)",
        [now],
    )
    .expect("root");
    let root = tx.last_insert_rowid();
    let mut leaves: Vec<i64> = Vec::new();
    let mut container = root;
    for i in 0..n {
        if i % 100 == 0 {
            tx.execute(
                "INSERT INTO tasks (title, state, parent_id, created_at, updated_at)
                 VALUES ('part', 'pending', ?1, ?2, ?2)",
                params![root, now],
            )
            .expect("container");
            container = tx.last_insert_rowid();
        }
        tx.execute(
            "INSERT INTO tasks (title, state, parent_id, role, created_at, updated_at)
             VALUES ('leaf', 'pending', ?1, 'writer', ?2, ?2)",
            params![container, now],
        )
        .expect("leaf");
        let id = tx.last_insert_rowid();
        let in_container = i % 100;
        let mut deps = Vec::new();
        if in_container > 0 {
            for _ in 0..rng.below(4) {
                let back = rng.below(in_container.min(10)) + 1;
                deps.push(leaves[leaves.len() - usize::try_from(back).unwrap_or(1)]);
            }
        }
        if !leaves.is_empty() && rng.below(100) == 0 {
            deps.push(leaves[usize::try_from(rng.below(leaves.len() as u64)).unwrap_or(0)]);
        }
        deps.sort_unstable();
        deps.dedup();
        for on in deps {
            tx.execute(
                "INSERT INTO task_dependencies (task_id, depends_on, created_at) VALUES (?1, ?2, ?3)",
                params![id, on, now],
            )
            .expect("dep");
        }
        leaves.push(id);
    }
    tx.commit().expect("commit");
    (db, root)
}

fn ready_set_upkeep(n: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("vault");
    let built = Instant::now();
    let (mut db, root) = dag_vault(&vault, n);
    println!(
        "Ready-set upkeep on a {n}-task DAG (built in {:.1} s)",
        built.elapsed().as_secs_f64()
    );
    let now = 1_767_225_600_000_i64;
    let started = Instant::now();
    {
        let tx = db.transaction().expect("tx");
        let mut books = Bookkeeping::new(&tx, now, 3);
        books.start(root, "owner").expect("start");
        let effects = books.finish().expect("finish");
        tx.commit().expect("commit");
        println!(
            "  starting the orchestration (stamp {n} tasks, {} ready): {:.1} ms",
            effects.enqueued.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    // Complete tasks in the order the queue gives them, each change in its own transaction.
    let changes = 2_000;
    let mut upkeep = Duration::ZERO;
    let mut enqueued = 0;
    for _ in 0..changes {
        let tx = db.transaction().expect("tx");
        let next: i64 = tx
            .query_row(
                "SELECT json_extract(payload, '$.task') FROM jobs WHERE state = 'queued'
                 ORDER BY priority DESC, run_at, id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("a queued job");
        tx.execute(
            "UPDATE jobs SET state = 'done' WHERE json_extract(payload, '$.task') = ?1",
            [next],
        )
        .expect("done");
        let t = Instant::now();
        let mut books = Bookkeeping::new(&tx, now, 3);
        books.completed(next).expect("completed");
        let effects = books.finish().expect("finish");
        upkeep += t.elapsed();
        enqueued += effects.enqueued.len();
        tx.commit().expect("commit");
    }
    let reps = 20;
    let t = Instant::now();
    let mut size = 0;
    for _ in 0..reps {
        size = tasks::ready_ids(&db).expect("ready").len();
    }
    let full = t.elapsed() / reps;
    let per_change = upkeep / changes;
    println!(
        "  incremental upkeep per state change: {:.3} ms ({changes} changes, {enqueued} tasks made ready)",
        per_change.as_secs_f64() * 1000.0
    );
    println!(
        "  peer, recomputing the ready set ({size} tasks) with one query: {:.3} ms",
        full.as_secs_f64() * 1000.0
    );
    println!(
        "  ratio (recompute / incremental): {:.0}x",
        full.as_secs_f64() / per_change.as_secs_f64().max(1e-9)
    );
}

struct Stub(std::process::Child, u16);

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stub() -> Stub {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/providers/stub.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the stub");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port = line
        .trim()
        .trim_start_matches("port ")
        .parse()
        .expect("port");
    Stub(child, port)
}

const PLAY: &str = "name: step\ntitle: Step\ndescription: one task\ndomain: bench\napproval: draft\n\
steps:\n  - id: work\n    role: writer\n    task_class: llm.creator\n    model: \"stub:instant\"\n    \
task: \"Do {{ task.title }}.\"\n";

/// A vault with the instant stub as provider `stub`, the `step` play and `n` tasks under a root.
fn tasks_vault(dir: &Path, port: u16, n: usize) -> (Arc<Atelier>, i64, Vec<i64>) {
    Atelier::init(dir, &SystemClock, false).expect("init");
    std::fs::create_dir_all(dir.join("plays")).expect("plays");
    std::fs::write(dir.join("plays/step.yaml"), PLAY).expect("play");
    std::fs::write(
        dir.join("config.yaml"),
        "orchestration:\n  max_runs_per_minute: 100000\n",
    )
    .expect("config");
    let atelier = Arc::new(Atelier::open(OpenOptions::new(dir)));
    assert_eq!(atelier.status().sealed, None, "the vault opens");
    let owner = Principal::Owner;
    atelier
        .provider_add(
            &owner,
            ProviderAdd {
                name: "stub".to_owned(),
                format: WireFormat::OpenAi,
                base_url: format!("http://127.0.0.1:{port}/v1"),
                key_ref: None,
            },
        )
        .expect("provider");
    let new = |title: String, parent: Option<i64>, play: Option<String>| {
        atelier
            .task_create(
                &owner,
                atelier_core::api::NewTask {
                    title,
                    parent,
                    play,
                    ..Default::default()
                },
            )
            .expect("task")
            .id
    };
    let root = new("bench".to_owned(), None, None);
    let ids = (0..n)
        .map(|i| new(format!("task {i}"), Some(root), Some("step".to_owned())))
        .collect();
    (atelier, root, ids)
}

fn scheduler_overhead(n: usize) {
    let stub = stub();
    println!("Scheduler overhead, {n} tasks, instant provider stub");
    let direct = {
        let dir = tempfile::tempdir().expect("tempdir");
        let (atelier, _, ids) = tasks_vault(&dir.path().join("vault"), stub.1, n);
        let t = Instant::now();
        for id in &ids {
            let request = RunRequest {
                play: "step".to_owned(),
                adhoc: None,
                params: Default::default(),
                model: None,
                task: Some(*id),
                idempotency_key: None,
            };
            let run = atelier
                .run_play(&Principal::Owner, &request, &mut |_| {})
                .expect("run");
            assert_eq!(run.status, "passed");
        }
        n as f64 / t.elapsed().as_secs_f64()
    };
    println!("  peer, run_play back to back (no scheduler): {direct:.1} tasks/s");
    for workers in [1, 4] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (atelier, root, _) = tasks_vault(&dir.path().join("vault"), stub.1, n);
        // The pool says when a task finished; the view is read only after the last one, so
        // no poller shares the vault with the workers (the peer loop has none either).
        let (finished, each) = std::sync::mpsc::channel();
        let on_event = Arc::new(move |event: WorkEvent| {
            if matches!(event, WorkEvent::Finished { .. }) {
                let _ = finished.send(());
            }
        });
        let t = Instant::now();
        let pool = Workers::start(atelier.clone(), workers, on_event);
        let id = atelier
            .orchestrate(&Principal::Owner, &OrchestrateRequest { root })
            .expect("orchestrate")
            .orchestration
            .id;
        for _ in 0..n {
            each.recv_timeout(Duration::from_secs(60))
                .expect("a task finishes within a minute");
        }
        loop {
            let view = atelier
                .orchestration_show(&Principal::Owner, id)
                .expect("show");
            if view.orchestration.state == OrchestrationState::Finished {
                assert_eq!(view.tasks.completed as usize, n + 1);
                break;
            }
            assert!(view.tasks.failed == 0, "{view:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        pool.stop();
        println!(
            "  through the scheduler, {workers} worker(s): {rate:.1} tasks/s ({:.2}x the peer; {:+.2} ms per task against it)",
            rate / direct,
            1000.0 / rate - 1000.0 / direct
        );
    }
}
