//! Unit tests of `jobs`.

use super::*;
use crate::store::migrations::{EMBEDDED, migrate};

const T0: Millis = 1_767_225_600_000;
const LEASE: Millis = 30_000;

fn queue() -> Connection {
    let mut conn = Connection::open_in_memory().expect("sqlite");
    migrate(&mut conn, EMBEDDED, T0).expect("migrate");
    conn
}

fn new(kind: &str) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: serde_json::json!({ "task": 1 }),
        key: None,
        priority: 0,
        delay_ms: 0,
        max_attempts: 3,
    }
}

#[test]
fn the_same_key_answers_the_first_job() {
    let conn = queue();
    let first = enqueue(
        &conn,
        &NewJob {
            key: Some("task:1".into()),
            ..new("a")
        },
        T0,
    )
    .expect("enqueue");
    let again = enqueue(
        &conn,
        &NewJob {
            key: Some("task:1".into()),
            payload: serde_json::json!({ "other": true }),
            ..new("a")
        },
        T0 + 5,
    )
    .expect("enqueue again");
    assert!(first.created);
    assert_eq!(
        again,
        Enqueued {
            id: first.id,
            created: false
        }
    );
    let stored = get(&conn, first.id).expect("get").expect("job");
    assert_eq!(
        stored.payload,
        serde_json::json!({ "task": 1 }),
        "the first one stands"
    );
}

#[test]
fn higher_priority_goes_first_and_a_delay_is_honoured() {
    let conn = queue();
    let low = enqueue(&conn, &new("low"), T0).expect("low").id;
    let high = enqueue(
        &conn,
        &NewJob {
            priority: 5,
            ..new("high")
        },
        T0,
    )
    .expect("high")
    .id;
    let later = enqueue(
        &conn,
        &NewJob {
            priority: 9,
            delay_ms: 10_000,
            ..new("later")
        },
        T0,
    )
    .expect("later")
    .id;
    let order: Vec<i64> = (0..3)
        .filter_map(|_| lease(&conn, "w", T0, LEASE).expect("lease").map(|j| j.id))
        .collect();
    assert_eq!(order, vec![high, low], "the delayed job is not due yet");
    let due = lease(&conn, "w", T0 + 10_000, LEASE)
        .expect("lease")
        .expect("due now");
    assert_eq!(due.id, later);
}

#[test]
fn a_lapsed_lease_returns_the_job_and_its_worker_can_no_longer_complete_it() {
    let conn = queue();
    let id = enqueue(&conn, &new("a"), T0).expect("enqueue").id;
    let first = lease(&conn, "crashed", T0, LEASE)
        .expect("lease")
        .expect("job");
    assert_eq!(first.attempts, 1);
    assert!(heartbeat(&conn, id, "crashed", T0 + 10_000, LEASE).expect("beat"));
    // No beat after that: the lease ends at T0 + 40 s.
    assert_eq!(
        lease(&conn, "other", T0 + 39_999, LEASE).expect("lease"),
        None
    );
    let again = lease(&conn, "other", T0 + 40_000, LEASE)
        .expect("lease")
        .expect("back");
    assert_eq!((again.id, again.attempts), (id, 2));
    assert!(
        again
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("crashed"))
    );
    assert!(
        !complete(&conn, id, "crashed", T0 + 40_001).expect("complete"),
        "fenced"
    );
    assert!(!heartbeat(&conn, id, "crashed", T0 + 40_001, LEASE).expect("beat"));
    assert_eq!(
        fail(&conn, id, "crashed", "late", T0 + 40_001).expect("fail"),
        None
    );
    assert!(complete(&conn, id, "other", T0 + 40_001).expect("complete"));
    assert_eq!(
        get(&conn, id).expect("get").expect("job").state,
        JobState::Done
    );
    assert_eq!(
        lease(&conn, "other", T0 + 999_999, LEASE).expect("lease"),
        None
    );
}

#[test]
fn failures_back_off_then_the_job_is_dead_with_its_last_error_until_requeued() {
    let conn = queue();
    let id = enqueue(&conn, &new("a"), T0).expect("enqueue").id;
    let mut now = T0;
    for (attempt, expected) in [
        (1, JobState::Queued),
        (2, JobState::Queued),
        (3, JobState::Dead),
    ] {
        let job = lease(&conn, "w", now, LEASE).expect("lease").expect("due");
        assert_eq!(job.attempts, attempt);
        let state = fail(&conn, id, "w", &format!("boom {attempt}"), now).expect("fail");
        assert_eq!(state, Some(expected));
        if expected == JobState::Queued {
            assert_eq!(
                lease(&conn, "w", now + backoff(attempt) - 1, LEASE).expect("lease"),
                None
            );
            now += backoff(attempt);
        }
    }
    let dead = dead_letters(&conn).expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("boom 3"));
    assert_eq!(
        depth(&conn, now, None).expect("depth"),
        QueueDepth {
            dead: 1,
            ..QueueDepth::default()
        }
    );
    assert_eq!(
        depth(&conn, now, Some(9)).expect("depth of another orchestration"),
        QueueDepth::default()
    );
    assert!(requeue(&conn, id, now).expect("requeue"));
    assert!(!requeue(&conn, id, now).expect("only the dead"));
    assert_eq!(
        lease(&conn, "w", now, LEASE)
            .expect("lease")
            .expect("back")
            .attempts,
        1
    );
}

#[test]
fn a_lapsed_last_attempt_is_a_dead_letter() {
    let conn = queue();
    let id = enqueue(
        &conn,
        &NewJob {
            max_attempts: 1,
            ..new("a")
        },
        T0,
    )
    .expect("e")
    .id;
    lease(&conn, "w", T0, LEASE).expect("lease").expect("job");
    assert_eq!(lease(&conn, "w", T0 + LEASE, LEASE).expect("lease"), None);
    let job = get(&conn, id).expect("get").expect("job");
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.finished_at, Some(T0 + LEASE));
}

#[test]
fn orphans_come_back_without_losing_an_attempt_until_they_kill_too_often() {
    let conn = queue();
    let id = enqueue(
        &conn,
        &NewJob {
            max_attempts: 1,
            ..new("a")
        },
        T0,
    )
    .expect("e")
    .id;
    let mut at = T0;
    for round in 1..MAX_INTERRUPTIONS {
        let job = lease(&conn, "dead-process", at, LEASE)
            .expect("lease")
            .expect("the job is back after each interruption");
        assert_eq!(job.attempts, 1);
        // The next process takes the vault a moment later.
        at += 10;
        assert_eq!(reclaim_orphans(&conn, at).expect("reclaim"), 1);
        let job = get(&conn, id).expect("get").expect("job");
        assert_eq!(
            (job.state, job.attempts),
            (JobState::Queued, 0),
            "round {round}"
        );
    }
    lease(&conn, "dead-process", at, LEASE)
        .expect("lease")
        .expect("job");
    reclaim_orphans(&conn, at + 10).expect("reclaim");
    let job = get(&conn, id).expect("get").expect("job");
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(
        job.last_error.as_deref(),
        Some("the process running it stopped 10 times")
    );
    assert_eq!(reclaim_orphans(&conn, at + 20).expect("reclaim"), 0);
}

#[test]
fn backoff_doubles_up_to_five_minutes() {
    assert_eq!([1, 2, 3, 4].map(backoff), [1_000, 2_000, 4_000, 8_000]);
    assert_eq!(backoff(30), MAX_BACKOFF_MS);
}
