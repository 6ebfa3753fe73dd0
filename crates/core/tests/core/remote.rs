//! The vault's socket (`atelier_core::remote`): calls made through it answer as they do in
//! process, errors keep their codes, bad calls change nothing, an owner that goes away is
//! `OWNER_GONE`, and a watch stops when its caller leaves.

use crate::fixture::TempVault;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{NewTask, ProjectAdd};
use atelier_core::remote::{Opening, Remote, answer_call, socket_path};
use atelier_core::tasks::TaskFilter;
use atelier_core::{Atelier, ErrorKind};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Answers `calls` api calls on the vault's socket, as the owner does (a connection that sends
/// nothing, such as [`Remote::reach`]'s probe, is closed unanswered).
fn serve(atelier: &Arc<Atelier>, vault: &Path, calls: usize) -> JoinHandle<()> {
    let listener = UnixListener::bind(socket_path(vault)).expect("bind");
    let atelier = Arc::clone(atelier);
    std::thread::spawn(move || {
        let mut answered = 0;
        while answered < calls {
            let (stream, _) = listener.accept().expect("accept");
            let mut first = String::new();
            BufReader::new(&stream).read_line(&mut first).expect("line");
            if first.is_empty() {
                continue;
            }
            let Some(Opening::Call(call)) = Opening::parse(&first) else {
                panic!("an api call: {first}");
            };
            answer_call(&atelier, call, stream);
            answered += 1;
        }
    })
}

fn task(title: &str) -> NewTask {
    NewTask {
        title: title.to_owned(),
        description: String::new(),
        parent: None,
        role: None,
        play: None,
        priority: 0,
        depends_on: Vec::new(),
        subtasks: Vec::new(),
    }
}

/// The reply lines a raw call gets.
fn raw_call(vault: &Path, line: &str) -> Vec<Value> {
    let mut stream = UnixStream::connect(socket_path(vault)).expect("connect");
    writeln!(stream, "{line}").expect("write");
    BufReader::new(&stream)
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("JSON"))
        .collect()
}

#[test]
fn calls_through_the_socket_answer_as_in_process_and_keep_their_error_codes() {
    let vault = TempVault::new();
    let atelier = Arc::new(vault.open());
    let server = serve(&atelier, &vault.path(), 4);
    let owner = Remote::reach(&vault.path()).expect("the owner answers");
    let created = owner
        .task_create(&Principal::Owner, task("Outline chapter 12"))
        .expect("create");
    let listed = owner
        .task_list(&Principal::Owner, &TaskFilter::default())
        .expect("list");
    assert_eq!(listed, vec![created.clone()]);
    assert_eq!(
        atelier
            .task_list(&Principal::Owner, &TaskFilter::default())
            .expect("list in process"),
        listed,
        "the owner's own view is the same"
    );

    let before = vault.fingerprint();
    let missing = owner
        .task_show(&Principal::Owner, 99)
        .expect_err("no task 99");
    assert_eq!(missing, Error::not_found("task", 99));
    let denied = owner
        .task_create(&Principal::Mcp("nobody".to_owned()), task("sneaky"))
        .expect_err("no grant");
    assert!(matches!(denied, Error::Denied { .. }), "{denied:?}");
    assert_eq!(denied.kind(), ErrorKind::Refused);
    assert_eq!(vault.fingerprint(), before, "refused calls changed nothing");
    server.join().expect("server");
}

/// Bad input: an unknown call and arguments of the wrong shape are `INVALID_INPUT`, and change
/// nothing.
#[test]
fn bad_calls_are_refused_as_invalid_input_and_change_nothing() {
    let vault = TempVault::new();
    let atelier = Arc::new(vault.open());
    let server = serve(&atelier, &vault.path(), 3);
    let before = vault.fingerprint();
    for (line, problem) in [
        (
            r#"{"call":"task_obliterate","as":"owner","params":{}}"#,
            "not a call",
        ),
        (
            r#"{"call":"task_create","as":"owner","params":{"new":{"title":7}}}"#,
            "task_create",
        ),
        (
            r#"{"call":"task_show","as":"owner","params":{"id":1,"extra":true}}"#,
            "unknown field",
        ),
    ] {
        let replies = raw_call(&vault.path(), line);
        assert_eq!(replies.len(), 1, "{replies:?}");
        let error = &replies[0]["error"];
        assert_eq!(error["code"], "INVALID_INPUT", "{line}: {error}");
        assert!(
            error["details"]["problem"]
                .as_str()
                .is_some_and(|p| p.contains(problem)),
            "{line}: {error}"
        );
    }
    assert_eq!(vault.fingerprint(), before);
    server.join().expect("server");
}

/// An owner that closes a connection without answering is `OWNER_GONE` (unavailable, not a
/// refusal); one that answers in a form this build does not read is an `IO` error.
#[test]
fn an_owner_that_goes_away_or_answers_garbage_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = UnixListener::bind(socket_path(dir.path())).expect("bind");
    let owner = std::thread::spawn(move || {
        let mut streams = listener.incoming();
        // `reach` probes once.
        drop(streams.next());
        let gone = streams.next().expect("call").expect("stream");
        BufReader::new(&gone)
            .read_line(&mut String::new())
            .expect("read");
        drop(gone);
        let mut garbled = streams.next().expect("call").expect("stream");
        BufReader::new(&garbled)
            .read_line(&mut String::new())
            .expect("read");
        writeln!(garbled, "{{\"verdict\": 42}}").expect("write");
    });
    let remote = Remote::reach(dir.path()).expect("reach");
    let gone = remote.task_next(&Principal::Owner).expect_err("no answer");
    assert_eq!(gone, Error::OwnerGone);
    assert_eq!(gone.code(), "OWNER_GONE");
    assert_eq!(gone.kind(), ErrorKind::Unavailable);
    let garbled = remote.task_next(&Principal::Owner).expect_err("garbage");
    assert_eq!(garbled.code(), "IO", "{garbled}");
    owner.join().expect("owner");
}

/// `watch` runs until told; through the socket it is told when its caller goes away.
#[test]
fn a_watch_through_the_socket_stops_when_its_caller_leaves() {
    let vault = TempVault::new();
    let atelier = Arc::new(vault.open());
    let folder = vault.dir.path().join("empty-project");
    std::fs::create_dir_all(&folder).expect("folder");
    atelier
        .project_add(
            &Principal::Owner,
            ProjectAdd {
                path: folder.to_string_lossy().into_owned(),
                name: Some("empty".to_owned()),
            },
        )
        .expect("project");
    let server = serve(&atelier, &vault.path(), 1);
    let mut stream = UnixStream::connect(socket_path(&vault.path())).expect("connect");
    let options = serde_json::json!({
        "debounce": {"secs": 0, "nanos": 100_000_000},
        "rescan_every": {"secs": 30, "nanos": 0},
        "force_polling": false,
    });
    let call = serde_json::json!({
        "call": "watch",
        "as": "owner",
        "params": {"projects": ["empty"], "options": options},
    });
    writeln!(stream, "{call}").expect("write");
    let mut first = String::new();
    BufReader::new(&stream)
        .read_line(&mut first)
        .expect("progress");
    let started: Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(
        started["progress"]["watch"]["started"],
        serde_json::json!(["empty"]),
        "{started}"
    );
    drop(stream);
    // The loop looks at its stop flag every 250 ms; the server thread ends once it has.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !server.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the watch did not stop after its caller left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.join().expect("server");
}
