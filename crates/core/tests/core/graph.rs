//! The Kuzu projection: its answers equal SQLite's recursive CTEs on a generated DAG; it is
//! rebuilt when deleted or corrupt; it replays outbox changes it missed.

use crate::fixture::{TempVault, act, owner, task};
use crate::rng::Rng;
use atelier_core::tasks::{self, TaskAction};

/// Builds a random DAG through the api: each task waits on up to three earlier ones, some
/// tasks completed.
fn generated_dag(atelier: &atelier_core::Atelier, seed: u64, size: i64) -> Vec<i64> {
    let mut rng = Rng(seed);
    let mut ids = Vec::new();
    for i in 0..size {
        let mut deps: Vec<i64> = Vec::new();
        if i > 0 {
            for _ in 0..rng.below(4) {
                let span = u64::try_from(i.min(25)).expect("positive");
                let back = i64::try_from(rng.below(span)).expect("small") + 1;
                let dep = ids[usize::try_from(i - back).expect("index")];
                if !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
        }
        ids.push(task(atelier, &format!("t{i}"), None, &deps));
    }
    // Complete a prefix-biased sample, in order, so no task completes before its dependencies.
    let conn_ready = |atelier: &atelier_core::Atelier, id: i64| {
        atelier
            .task_show(&owner(), id)
            .map(|d| d.blocked_by.is_empty())
            .unwrap_or(false)
    };
    for &id in &ids {
        if rng.below(100) < 40 && conn_ready(atelier, id) {
            for action in [
                TaskAction::Activate,
                TaskAction::Start,
                TaskAction::Complete,
            ] {
                act(atelier, id, action).expect("advance");
            }
        }
    }
    ids
}

fn assert_graph_matches_sqlite(vault: &TempVault, atelier: &atelier_core::Atelier, ids: &[i64]) {
    let conn = vault.sqlite();
    let mut nonempty = 0;
    for &id in ids {
        let detail = atelier.task_show(&owner(), id).expect("show");
        let closure = tasks::dependency_closure(&conn, id).expect("cte");
        assert_eq!(detail.transitive_dependencies, closure, "closure of {id}");
        assert_eq!(
            detail.blocked_by,
            tasks::blocked_by(&conn, id).expect("cte"),
            "blocked_by of {id}"
        );
        nonempty += usize::from(!closure.is_empty());
    }
    assert!(nonempty > ids.len() / 2, "the DAG should have real depth");
}

#[test]
fn graph_answers_equal_sqlite_recursive_cte_answers_on_a_generated_dag() {
    let seed = 0x5EED_0001;
    let vault = TempVault::new();
    let atelier = vault.open();
    let ids = generated_dag(&atelier, seed, 120);
    assert_graph_matches_sqlite(&vault, &atelier, &ids);
    let status = atelier.status();
    let graph = status.graph.expect("graph");
    assert_eq!(graph.applied_through, Some(graph.outbox_head), "in sync");
}

#[test]
fn deleting_the_kuzu_directory_and_reopening_rebuilds_it() {
    let vault = TempVault::new();
    let ids = {
        let atelier = vault.open();
        generated_dag(&atelier, 0x5EED_0002, 60)
    };
    std::fs::remove_dir_all(vault.path().join("graph")).expect("delete graph");
    let atelier = vault.open();
    assert!(vault.path().join("graph").is_dir(), "rebuilt on open");
    assert_graph_matches_sqlite(&vault, &atelier, &ids);
}

#[test]
fn a_corrupt_graph_is_rebuilt_not_trusted() {
    let vault = TempVault::new();
    let ids = {
        let atelier = vault.open();
        generated_dag(&atelier, 0x5EED_0003, 40)
    };
    let graph_dir = vault.path().join("graph");
    for entry in std::fs::read_dir(&graph_dir).expect("graph dir") {
        let path = entry.expect("entry").path();
        std::fs::write(&path, b"this is not a kuzu database").expect("corrupt");
    }
    let atelier = vault.open();
    assert_graph_matches_sqlite(&vault, &atelier, &ids);
}

/// A change committed to SQLite but never projected (a crash between the two) is applied from
/// the outbox on the next open.
#[test]
fn changes_the_graph_missed_are_replayed_from_the_outbox() {
    let vault = TempVault::new();
    let (a, b) = {
        let atelier = vault.open();
        (
            task(&atelier, "a", None, &[]),
            task(&atelier, "b", None, &[]),
        )
    };
    let conn = vault.sqlite();
    conn.execute_batch(&format!(
        "INSERT INTO task_dependencies VALUES ({b}, {a}, 0);
         INSERT INTO outbox (topic, payload, created_at) VALUES ('graph',
           '{{\"kind\":\"task\",\"id\":{b},\"state\":\"pending\",\"parent\":null,\"role\":null,\"depends_on\":[{a}]}}', 0);"
    ))
    .expect("simulate a commit whose projection was lost");
    let atelier = vault.open();
    assert_eq!(
        atelier
            .task_show(&owner(), b)
            .expect("show")
            .transitive_dependencies,
        vec![a]
    );
}

#[test]
fn reindex_rebuilds_from_sqlite_alone() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let ids = generated_dag(&atelier, 0x5EED_0004, 50);
    let report = atelier.reindex(&owner()).expect("reindex");
    let conn = vault.sqlite();
    let deps: i64 = conn
        .query_row("SELECT COUNT(*) FROM task_dependencies", [], |r| r.get(0))
        .expect("count");
    assert_eq!((report.tasks, report.dependencies), (50, deps));
    assert_graph_matches_sqlite(&vault, &atelier, &ids);
    assert_eq!(
        atelier.audit_tail(&owner(), 1).expect("tail")[0].action,
        "graph.reindex"
    );
}

/// A dependency chain longer than Kuzu's default 30-hop bound is followed to its end: the
/// query widens its bound when a task sits exactly at it.
#[test]
fn closures_follow_chains_longer_than_kuzus_default_hop_bound() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let mut chain = vec![task(&atelier, "link 0", None, &[])];
    for i in 1..75 {
        let previous = *chain.last().expect("chain");
        chain.push(task(&atelier, &format!("link {i}"), None, &[previous]));
    }
    let last = *chain.last().expect("chain");
    let detail = atelier.task_show(&owner(), last).expect("show");
    let mut expected = chain[..74].to_vec();
    expected.sort_unstable();
    assert_eq!(detail.transitive_dependencies, expected);
    assert_eq!(detail.blocked_by, expected);
    assert_graph_matches_sqlite(&vault, &atelier, &chain);
}
