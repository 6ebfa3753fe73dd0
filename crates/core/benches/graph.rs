//! Transitive dependency closure and the ready set on a generated DAG (100,000 tasks by
//! default; `ATELIER_BENCH_TASKS` changes it): Kuzu, SQLite recursive CTE, and an in-memory
//! adjacency index, run side by side in one process on the same data, results cross-checked,
//! printed as ratios. Run: `cargo bench -p atelier-core --bench graph --profile dev`.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use atelier_core::access::auth::Principal;
use atelier_core::projection::graph::Graph;
use atelier_core::tasks;
use atelier_core::{Atelier, OpenOptions, clock::SystemClock};
use rusqlite::params;
use std::time::{Duration, Instant};
#[path = "../tests/core/rng.rs"]
mod rng;

use rng::Rng;

/// Projects of 100 tasks; each task waits on up to three of the 20 before it in its project,
/// and `cross_percent` % of tasks also on a random earlier task anywhere. About half the tasks
/// whose dependencies are all completed are completed.
fn generate(n: u64, cross_percent: u64, seed: u64) -> (Vec<&'static str>, Vec<(u64, u64)>) {
    let mut rng = Rng(seed);
    let mut states: Vec<&'static str> = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut deps = Vec::new();
    for i in 0..n {
        let in_project = i % 100;
        let mut mine = Vec::new();
        if in_project > 0 {
            for _ in 0..rng.below(4) {
                mine.push(i - (rng.below(in_project.min(20)) + 1));
            }
        }
        if i > 0 && rng.below(100) < cross_percent {
            mine.push(rng.below(i));
        }
        mine.sort_unstable();
        mine.dedup();
        let all_done = mine
            .iter()
            .all(|d| states[usize::try_from(*d).unwrap_or(0)] == "completed");
        let state = if all_done && rng.below(2) == 0 {
            "completed"
        } else if rng.below(5) == 0 {
            "active"
        } else {
            "pending"
        };
        states.push(state);
        deps.extend(mine.iter().map(|d| (i + 1, d + 1)));
    }
    (states, deps)
}

/// The in-memory form: dependency lists and states indexed by task id.
struct MemoryIndex {
    deps: Vec<Vec<u32>>,
    completed: Vec<bool>,
    startable: Vec<bool>,
}

impl MemoryIndex {
    fn load(conn: &rusqlite::Connection) -> MemoryIndex {
        let max: i64 = conn
            .query_row("SELECT MAX(id) FROM tasks", [], |r| r.get(0))
            .expect("max");
        let len = usize::try_from(max).expect("ids") + 1;
        let mut index = MemoryIndex {
            deps: vec![Vec::new(); len],
            completed: vec![false; len],
            startable: vec![false; len],
        };
        let mut stmt = conn
            .prepare("SELECT id, state FROM tasks")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .expect("query");
        for row in rows {
            let (id, state) = row.expect("row");
            let i = usize::try_from(id).expect("id");
            index.completed[i] = state == "completed";
            index.startable[i] = state == "pending" || state == "active";
        }
        let mut stmt = conn
            .prepare("SELECT task_id, depends_on FROM task_dependencies")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .expect("query");
        for row in rows {
            let (task, on) = row.expect("row");
            index.deps[usize::try_from(task).expect("id")].push(u32::try_from(on).expect("id"));
        }
        index
    }

    fn closure(&self, id: i64, seen: &mut [u32], stamp: u32) -> Vec<i64> {
        let mut out = Vec::new();
        let mut stack: Vec<u32> = self.deps[usize::try_from(id).expect("id")].clone();
        while let Some(d) = stack.pop() {
            let slot = &mut seen[d as usize];
            if *slot == stamp {
                continue;
            }
            *slot = stamp;
            out.push(i64::from(d));
            stack.extend_from_slice(&self.deps[d as usize]);
        }
        out.sort_unstable();
        out
    }

    fn ready(&self) -> Vec<i64> {
        (0..self.deps.len())
            .filter(|&i| {
                self.startable[i] && self.deps[i].iter().all(|&d| self.completed[d as usize])
            })
            .map(|i| i64::try_from(i).expect("id"))
            .collect()
    }
}

fn per(d: Duration, n: usize) -> Duration {
    d / u32::try_from(n.max(1)).unwrap_or(1)
}

fn report(title: &str, rows: &[(&str, Duration)]) {
    let fastest = rows
        .iter()
        .map(|(_, d)| *d)
        .min()
        .unwrap_or_default()
        .max(Duration::from_nanos(1));
    println!("{title}");
    println!("  {:<14} {:>14} {:>12}", "engine", "time", "vs fastest");
    for (name, d) in rows {
        println!(
            "  {:<14} {:>14.3?} {:>11.1}x",
            name,
            d,
            d.as_secs_f64() / fastest.as_secs_f64()
        );
    }
}

fn main() {
    let n: u64 = std::env::var("ATELIER_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    for (shape, cross_percent) in [("clustered", 1), ("dense", 30)] {
        scenario(shape, n, cross_percent);
    }
}

/// Builds one DAG in a fresh vault, then runs every engine on the same questions.
fn scenario(shape: &str, n: u64, cross_percent: u64) {
    let seed = 0xA7E1_1E12;
    let samples = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("vault");
    Atelier::init(&vault, &SystemClock, false).expect("init");

    let (states, deps) = generate(n, cross_percent, seed);
    let started = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(vault.join("atelier.db")).expect("db");
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare("INSERT INTO tasks (id, title, state, created_at, updated_at) VALUES (?1, ?2, ?3, 0, 0)")
                .expect("prepare");
            for (i, state) in states.iter().enumerate() {
                let id = i64::try_from(i).expect("id") + 1;
                insert
                    .execute(params![id, format!("task {id}"), state])
                    .expect("insert");
            }
            let mut dep = tx
                .prepare("INSERT INTO task_dependencies (task_id, depends_on, created_at) VALUES (?1, ?2, 0)")
                .expect("prepare");
            for (task, on) in &deps {
                dep.execute(params![
                    i64::try_from(*task).expect("id"),
                    i64::try_from(*on).expect("id")
                ])
                .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let sqlite_load = started.elapsed();

    let started = Instant::now();
    {
        let atelier = Atelier::open(OpenOptions::new(&vault));
        atelier.reindex(&Principal::Owner).expect("reindex");
    }
    let kuzu_load = started.elapsed();

    let conn = rusqlite::Connection::open(vault.join("atelier.db")).expect("db");
    let started = Instant::now();
    let memory = MemoryIndex::load(&conn);
    let memory_load = started.elapsed();
    let graph = Graph::open(&vault.join("graph")).expect("graph");

    let mut rng = Rng(seed ^ 0xFFFF);
    let picks: Vec<i64> = (0..samples)
        .map(|_| i64::try_from(rng.below(n) + 1).expect("id"))
        .collect();

    // Each engine answers every sample; answers must agree before any time is reported.
    let mut closure_times = Vec::new();
    let started = Instant::now();
    let mut seen = vec![0u32; memory.deps.len()];
    let in_memory: Vec<Vec<i64>> = picks
        .iter()
        .enumerate()
        .map(|(k, id)| memory.closure(*id, &mut seen, u32::try_from(k).expect("k") + 1))
        .collect();
    closure_times.push(("in-memory", per(started.elapsed(), samples)));
    let started = Instant::now();
    let sqlite: Vec<Vec<i64>> = picks
        .iter()
        .map(|id| tasks::dependency_closure(&conn, *id).expect("cte"))
        .collect();
    closure_times.push(("sqlite CTE", per(started.elapsed(), samples)));
    let started = Instant::now();
    let kuzu: Vec<Vec<i64>> = picks
        .iter()
        .map(|id| graph.dependency_closure(*id).expect("kuzu"))
        .collect();
    closure_times.push(("kuzu", per(started.elapsed(), samples)));
    assert_eq!(in_memory, sqlite, "closures disagree");
    assert_eq!(kuzu, sqlite, "closures disagree");
    let sizes: Vec<usize> = sqlite.iter().map(Vec::len).collect();
    let mean = sizes.iter().sum::<usize>() as f64 / samples as f64;
    let max = sizes.iter().max().copied().unwrap_or(0);

    let runs = 5;
    let time_ready = |f: &dyn Fn() -> Vec<i64>| {
        let first = f();
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(f());
        }
        (first, per(started.elapsed(), runs))
    };
    let mut ready_times = Vec::new();
    let (memory_ready, t) = time_ready(&|| memory.ready());
    ready_times.push(("in-memory", t));
    let (sqlite_ready, t) = time_ready(&|| tasks::ready_ids(&conn).expect("ready"));
    ready_times.push(("sqlite", t));
    let (kuzu_ready, t) = time_ready(&|| graph.ready().expect("ready"));
    ready_times.push(("kuzu", t));
    assert_eq!(memory_ready, sqlite_ready, "ready sets disagree");
    assert_eq!(kuzu_ready, sqlite_ready, "ready sets disagree");

    println!(
        "\n== {shape} DAG: {n} tasks, {} dependencies ({cross_percent}% cross-project), seed {seed:#x}",
        deps.len()
    );
    println!(
        "setup: sqlite insert {sqlite_load:.2?}, kuzu rebuild (COPY FROM) {kuzu_load:.2?}, in-memory load {memory_load:.2?}"
    );
    report(
        &format!(
            "transitive closure, per query ({samples} random tasks; mean {mean:.1}, max {max} results):"
        ),
        &closure_times,
    );
    report(
        &format!(
            "ready set, per computation ({} ready tasks):",
            sqlite_ready.len()
        ),
        &ready_times,
    );
}
