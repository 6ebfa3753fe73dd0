//! The scheduler from the command line, killed over and over: `atelier tasks run` on a
//! 50-task DAG, SIGKILLed at random moments and restarted, must end with every task executed
//! exactly once (the provider stub counts the generations it executed per idempotency key),
//! none lost or stuck, and the vault sound.

use crate::Cli;
use crate::runs::{Stub, add_stub_provider};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// xorshift64*: enough randomness for kill timing and a DAG shape, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const PLAY: &str = "name: step\ntitle: Step\ndescription: one task of a plan\ndomain: test\n\
approval: draft\nsteps:\n  - id: work\n    role: writer\n    task_class: llm.creator\n    \
model: \"stub:slow-quick\"\n    task: \"Do {{ task.title }}.\"\n";

/// Crash loop (TESTING.md recipe 1): a 50-task orchestration is SIGKILLed at random points
/// 20 times, restarting each time, then left to finish. Afterwards every task is completed,
/// each task's generation was executed by the provider exactly once (a retry after a crash
/// carries the same idempotency key and gets the remembered answer, or a 409 and a later retry
/// when the first request is still being executed), each has exactly one passed
/// run and one asset, no job is left queued, held or dead, `PRAGMA integrity_check` is ok and the
/// audit chain verifies. Set ATELIER_CRASH_SEED to replay a seed.
#[test]
#[allow(
    clippy::print_stderr,
    reason = "the crash loop prints its seed and what the kills hit, so a failure can be replayed"
)]
fn kill_nine_at_random_points_loses_and_repeats_no_task() {
    let seed = std::env::var("ATELIER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("crash loop seed: {seed} (ATELIER_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    let cli = Cli::new();
    cli.ok(&["init"]);
    let plays = cli.vault.join("plays");
    std::fs::create_dir_all(&plays).expect("plays");
    std::fs::write(plays.join("step.yaml"), PLAY).expect("play");
    std::fs::write(
        cli.vault.join("config.yaml"),
        "orchestration:\n  concurrency: 2\n  max_runs_per_minute: 1000\n",
    )
    .expect("config");
    let replies = cli.dir().join("replies.json");
    std::fs::write(&replies, "{}").expect("replies");
    let log = cli.dir().join("requests.jsonl");
    let stub = Stub::start(&replies, Some(&log));
    add_stub_provider(&cli, &stub);

    let root = cli.json(&["tasks", "add", "Season"])["id"]
        .as_i64()
        .expect("id");
    let root_text = root.to_string();
    let mut ids: Vec<i64> = Vec::new();
    for n in 0..50 {
        let mut args = vec![
            "tasks".to_owned(),
            "add".to_owned(),
            format!("part {n}"),
            "--parent".to_owned(),
            root_text.clone(),
            "--play".to_owned(),
            "step".to_owned(),
        ];
        // Up to two dependencies on earlier parts: a DAG with chains and fan-in.
        for _ in 0..rng.below(3) {
            if !ids.is_empty() {
                let on = ids[rng.below(ids.len() as u64) as usize];
                let on = on.to_string();
                if !args.contains(&on) {
                    args.extend(["--depends-on".to_owned(), on]);
                }
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ids.push(cli.json(&refs)["id"].as_i64().expect("id"));
    }

    let run = |args: &[&str]| {
        Command::new(&cli.bin)
            .arg("--vault")
            .arg(&cli.vault)
            .args(args)
            .env_remove("ATELIER_HOME")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn atelier")
    };
    let started = Instant::now();
    for kill in 0..20 {
        let mut child = run(&["tasks", "run", &root_text]);
        let wait = Duration::from_millis(150 + rng.below(900));
        std::thread::sleep(wait);
        let finished_first = child.try_wait().expect("try_wait").is_some();
        // SIGKILL: no chance to clean up.
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "kill {kill}: after {wait:?}, at {:.3}{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            if finished_first {
                " (it had already finished)"
            } else {
                ""
            }
        );
    }
    let status = run(&["tasks", "run", &root_text])
        .wait()
        .expect("the last run ends");
    assert!(status.success(), "the last, unkilled run succeeds");
    eprintln!("crash loop took {:?}", started.elapsed());

    // Every task completed, and the orchestration finished.
    let tree = cli.json(&["tasks", "tree", &root_text]);
    let mut states = BTreeMap::new();
    collect_states(&tree, &mut states);
    assert_eq!(states.len(), 51);
    assert!(
        states.values().all(|s| s == "completed"),
        "not all completed: {states:?}"
    );
    let orchestrations = cli.json(&["tasks", "orchestrations"]);
    assert_eq!(orchestrations[0]["state"], "finished", "{orchestrations}");
    assert_eq!(orchestrations[0]["jobs"]["ready"], 0);
    assert_eq!(orchestrations[0]["jobs"]["leased"], 0);
    assert_eq!(orchestrations[0]["dead_letters"], serde_json::json!([]));

    // Executed exactly once per task, by the provider's count of generations per key.
    let mut executed: BTreeMap<String, u32> = BTreeMap::new();
    let mut requests: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let (mut replayed, mut told_to_wait) = (0, 0);
    for line in std::fs::read_to_string(&log).expect("log").lines() {
        let request: serde_json::Value = serde_json::from_str(line).expect("log line");
        if request["method"] != "POST" {
            continue;
        }
        let key = request["headers"]["idempotency-key"]
            .as_str()
            .expect("every scheduled call carries a key")
            .to_owned();
        requests
            .entry(key.clone())
            .or_default()
            .push(serde_json::json!({
                "at": request["at"],
                "inflight": request["inflight"],
                "replayed": request["replayed"],
                "in_progress": request["in_progress"],
            }));
        if request["replayed"] == true {
            replayed += 1;
        } else if request["in_progress"] == true {
            // Retried while the first request with its key was still being executed: the
            // provider refused it (409) without executing.
            told_to_wait += 1;
        } else {
            *executed.entry(key).or_default() += 1;
        }
    }
    for id in &ids {
        let key = format!("task:{id}:0:work");
        assert_eq!(
            executed.get(&key),
            Some(&1),
            "task {id} executed {:?} times; its requests: {:?}",
            executed.get(&key),
            requests.get(&key)
        );
    }
    assert_eq!(executed.len(), 50, "no other generation: {executed:?}");

    let db = rusqlite::Connection::open(cli.vault.join("atelier.db")).expect("db");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");
    let per_task: Vec<(i64, i64, i64)> = db
        .prepare(
            "SELECT t.id,
                    (SELECT COUNT(*) FROM runs r WHERE r.task_id = t.id AND r.status = 'passed'),
                    (SELECT COUNT(*) FROM assets a WHERE a.task_id = t.id)
               FROM tasks t WHERE t.parent_id = ?1",
        )
        .expect("prepare")
        .query_map([root], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    for (task, passed, assets) in &per_task {
        assert_eq!(
            (*passed, *assets),
            (1, 1),
            "task {task}: passed runs, assets"
        );
    }
    let interrupted: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE reason = 'interrupted'",
            [],
            |r| r.get(0),
        )
        .expect("interrupted");
    eprintln!(
        "{interrupted} runs were cut short by a kill; {replayed} generations were answered from the provider's memory; {told_to_wait} retries came while the first was still executing (409)"
    );
    assert!(
        interrupted > 0,
        "no kill landed inside a run, so this seed proved nothing: lengthen the runs"
    );
    cli.ok(&["audit", "verify"]);

    // The structured log: every line whole JSON even across 20 kills; each run of
    // `atelier tasks run` that got as far as logging says it started (a kill may come first), and
    // task completions are recorded (one completed just before a kill may miss its line).
    let mut starts = 0;
    let mut moved = std::collections::BTreeSet::new();
    let logs = cli.vault.join("logs");
    for entry in std::fs::read_dir(&logs).expect("the vault has a logs/ folder") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().contains("atelier.log")
            || path.extension().is_some_and(|e| e == "lock")
        {
            continue;
        }
        for line in std::fs::read_to_string(&path).expect("log file").lines() {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a torn log line ({e}): {line}"));
            assert_eq!(event["process"], "cli", "{line}");
            assert!(
                event["ts"].as_str().is_some_and(|t| t.ends_with('Z')),
                "{line}"
            );
            match event["message"].as_str() {
                Some("started") => starts += 1,
                Some("task moved") if event["state"] == "completed" => {
                    moved.insert(event["task"].as_i64().expect("task"));
                }
                _ => {}
            }
        }
    }
    assert!((1..=21).contains(&starts), "{starts} starts logged");
    assert!(
        !moved.is_empty() && moved.iter().all(|id| ids.contains(id)),
        "completions logged: {moved:?}"
    );
}

fn collect_states(nodes: &serde_json::Value, into: &mut BTreeMap<i64, String>) {
    for node in nodes.as_array().into_iter().flatten() {
        into.insert(
            node["id"].as_i64().expect("id"),
            node["state"].as_str().expect("state").to_owned(),
        );
        collect_states(&node["children"], into);
    }
}
