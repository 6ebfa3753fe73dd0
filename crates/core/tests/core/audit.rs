//! Recipe 6, "audit tamper": edit, delete, insert, reorder and truncate rows directly in
//! SQLite (dropping the triggers first); `verify` names the first bad seq each time. Also: the
//! triggers refuse changes, and a failed audit write takes the change down with it.

use crate::fixture::{TempVault, owner, refused, task};
use atelier_core::access::audit;
use atelier_core::api::NewTask;

const DROP_TRIGGERS: &str = "DROP TRIGGER audit_events_no_update;
                             DROP TRIGGER audit_events_no_delete;
                             DROP TRIGGER audit_events_in_order;
                             DROP TRIGGER audit_events_advance_head;";

/// A vault with ten audit events (init + nine task creations).
fn vault_with_events() -> TempVault {
    let vault = TempVault::new();
    let atelier = vault.open();
    for i in 1..=9 {
        task(&atelier, &format!("task {i}"), None, &[]);
    }
    let v = atelier.audit_verify(&owner()).expect("verify");
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.events, 10);
    vault
}

fn first_bad_after(tamper: &str) -> (Option<i64>, Option<String>) {
    let vault = vault_with_events();
    vault
        .sqlite()
        .execute_batch(&format!("{DROP_TRIGGERS}\n{tamper}"))
        .expect("tamper");
    let atelier = vault.open();
    let v = atelier.audit_verify(&owner()).expect("verify");
    (v.first_bad_seq, v.problem)
}

#[test]
fn an_edited_event_is_named() {
    assert_eq!(
        first_bad_after("UPDATE audit_events SET summary = 'nothing to see' WHERE seq = 5").0,
        Some(5)
    );
    assert_eq!(
        first_bad_after("UPDATE audit_events SET principal = 'mcp:x' WHERE seq = 2").0,
        Some(2)
    );
    assert_eq!(
        first_bad_after("UPDATE audit_events SET at = at + 1 WHERE seq = 10").0,
        Some(10)
    );
}

#[test]
fn a_deleted_event_is_named() {
    let (seq, problem) = first_bad_after("DELETE FROM audit_events WHERE seq = 4");
    assert_eq!(seq, Some(4));
    assert!(problem.expect("problem").contains("missing"));
    assert_eq!(
        first_bad_after("DELETE FROM audit_events WHERE seq = 1").0,
        Some(1)
    );
}

#[test]
fn an_inserted_event_is_named() {
    // In the middle: rows from 6 on shift up one and a forged row takes seq 6.
    let middle = "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 6;
                  UPDATE audit_events SET seq = seq - 99 WHERE seq >= 106;
                  INSERT INTO audit_events VALUES (6, 0, 'owner', 'task.create', 'task:99', 'forged',
                      (SELECT hash FROM audit_events WHERE seq = 5), 'beef');";
    assert_eq!(first_bad_after(middle).0, Some(6));
    // At the end, even with a correctly computed hash: the recorded head gives it away.
    let vault = vault_with_events();
    let conn = vault.sqlite();
    conn.execute_batch(DROP_TRIGGERS).expect("drop");
    let prev: String = conn
        .query_row("SELECT hash FROM audit_events WHERE seq = 10", [], |r| {
            r.get(0)
        })
        .expect("prev");
    let hash = audit::event_hash(11, 1, "owner", "task.create", "task:99", "forged", &prev);
    conn.execute(
        "INSERT INTO audit_events VALUES (11, 1, 'owner', 'task.create', 'task:99', 'forged', ?1, ?2)",
        [&prev, &hash],
    )
    .expect("insert");
    let atelier = vault.open();
    assert_eq!(
        atelier
            .audit_verify(&owner())
            .expect("verify")
            .first_bad_seq,
        Some(11)
    );
}

#[test]
fn reordered_events_are_named() {
    let swap = "UPDATE audit_events SET seq = 100 WHERE seq = 4;
                UPDATE audit_events SET seq = 4 WHERE seq = 7;
                UPDATE audit_events SET seq = 7 WHERE seq = 100;";
    assert_eq!(first_bad_after(swap).0, Some(4));
}

#[test]
fn a_truncated_log_is_named() {
    let (seq, problem) = first_bad_after("DELETE FROM audit_events WHERE seq >= 8");
    assert_eq!(seq, Some(8));
    assert!(problem.expect("problem").contains("truncated"));
    assert_eq!(first_bad_after("DELETE FROM audit_events").0, Some(1));
}

#[test]
fn the_triggers_refuse_edits_deletes_and_out_of_order_appends() {
    let vault = vault_with_events();
    let conn = vault.sqlite();
    for sql in [
        "UPDATE audit_events SET summary = 'x' WHERE seq = 3",
        "DELETE FROM audit_events WHERE seq = 3",
        "INSERT INTO audit_events VALUES (42, 0, 'owner', 'a', 't', 's', 'p', 'h')",
    ] {
        let err = conn.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("audit"), "{sql}: {err}");
    }
}

/// Invariant 2: if the audit append fails, the change fails with it and nothing is written.
#[test]
fn a_failed_audit_write_leaves_no_change() {
    let vault = vault_with_events();
    vault
        .sqlite()
        .execute_batch(
            "CREATE TRIGGER audit_fault BEFORE INSERT ON audit_events
             BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;",
        )
        .expect("fault");
    let atelier = vault.open();
    let err = refused(&vault, "STORAGE", || {
        atelier.task_create(
            &owner(),
            NewTask {
                title: "must not exist".into(),
                ..NewTask::default()
            },
        )
    });
    assert!(
        !err.to_string().contains("INSERT"),
        "no SQL in messages: {err}"
    );
    vault
        .sqlite()
        .execute_batch("DROP TRIGGER audit_fault")
        .expect("clear fault");
    let created = atelier
        .task_create(
            &owner(),
            NewTask {
                title: "now it works".into(),
                ..NewTask::default()
            },
        )
        .expect("create");
    assert_eq!(
        created.id, 10,
        "the refused task left no row and used no id that stuck"
    );
    assert!(atelier.audit_verify(&owner()).expect("verify").is_intact());
}

#[test]
fn tail_is_newest_first_and_bounded() {
    let vault = vault_with_events();
    let atelier = vault.open();
    let tail = atelier.audit_tail(&owner(), 3).expect("tail");
    let seqs: Vec<i64> = tail.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![10, 9, 8]);
    assert_eq!(tail[0].principal, "owner");
    assert_eq!(tail[0].action, "task.create");
    for bad in [0, 1001] {
        refused(&vault, "INVALID_INPUT", || {
            atelier.audit_tail(&owner(), bad)
        });
    }
}
