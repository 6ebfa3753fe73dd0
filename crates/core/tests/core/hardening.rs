//! The holes a hostile reading of the vault found, each closed and attacked here: a vault
//! readable by other users, a stale projection trusted after a restore, `file_read` never
//! checked, keychain changes without their audit event, the kill switch disagreeing with the
//! database, a keychain failure cached forever, an audit log rewritten or rolled back, and
//! ad-hoc text evaluated as a template.

use crate::fixture::TempVault;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777
}

/// Every entry under `dir` (the directory itself included) that a group or other user can
/// read, write or enter.
fn shared_entries(dir: &Path) -> Vec<String> {
    let mut shared = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("meta");
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.permissions().mode() & 0o077 != 0 {
            shared.push(format!("{} {:o}", path.display(), mode(&path)));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                stack.push(entry.expect("entry").path());
            }
        }
    }
    shared
}

/// Resource faults (TESTING.md recipe 3) for permissions: under umask 022 (the usual one) a
/// new vault and everything in it is its owner's alone (the directory was 0755 and the
/// database 0644), and a vault whose modes were opened up again is repaired when it opens.
#[test]
fn the_vault_is_owner_only_and_repaired_on_open() {
    let vault = TempVault::new();
    let dir = vault.path();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("atelier.db")), 0o600);
    let atelier = vault.open();
    crate::fixture::task(&atelier, "private", None, &[]);
    drop(atelier);
    // Whatever the projections made with the usual modes, inside the owner-only directory, is
    // repaired at the next open.
    assert_eq!(mode(&dir), 0o700);
    let atelier = vault.open();
    assert_eq!(shared_entries(&dir), Vec::<String>::new());
    drop(atelier);

    for (path, opened) in [
        (dir.clone(), 0o755),
        (dir.join("atelier.db"), 0o644),
        (dir.join("config.yaml"), 0o666),
        (dir.join("blobs"), 0o775),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(opened)).expect("chmod");
    }
    let outside = vault.dir.path().join("outside.txt");
    std::fs::write(&outside, "not the vault's").expect("write");
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::os::unix::fs::symlink(&outside, dir.join("link")).expect("symlink");
    let atelier = vault.open();
    assert_eq!(shared_entries(&dir), Vec::<String>::new());
    drop(atelier);
    assert_eq!(
        mode(&outside),
        0o644,
        "a symlink's target is not the vault's"
    );
}

/// Fault points (TESTING.md recipe 2) on the kill switch: when pulling it cannot be recorded
/// (the audit append fails), the call says so, the database says the switch is off, and the
/// process agrees: a run is not refused with `SWITCHED_OFF`, and `resume` is not needed. (Before,
/// the in-memory cancel stayed, so every run was refused while `resume` answered "is not on".)
#[test]
fn a_kill_switch_that_could_not_be_recorded_is_not_on() {
    let vault = TempVault::new();
    let atelier = vault.open();
    vault
        .sqlite()
        .execute_batch(
            "CREATE TRIGGER audit_fault BEFORE INSERT ON audit_events
             BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;",
        )
        .expect("fault");
    let err = atelier
        .halt(&crate::fixture::owner(), "drill")
        .expect_err("the record fails");
    assert_eq!(err.code(), "STORAGE", "{err}");
    vault
        .sqlite()
        .execute_batch("DROP TRIGGER audit_fault")
        .expect("clear fault");
    assert_eq!(
        atelier
            .switch_state(&crate::fixture::owner())
            .expect("state"),
        None
    );
    let stub = crate::fixture::StubProvider::start();
    crate::fixture::add_stub(&atelier, &stub);
    stub.set_replies(serde_json::json!({"scene": [crate::fixture::GOOD_OUTLINE]}));
    let ran = atelier
        .run_play(
            &crate::fixture::owner(),
            &crate::fixture::outline_request(Some("stub:scene")),
            &mut |_| {},
        )
        .expect("the run is not refused");
    assert_eq!(ran.status, "passed", "{ran:?}");
    // And the switch still works once it can be recorded.
    atelier
        .halt(&crate::fixture::owner(), "drill")
        .expect("recorded");
    let refused = atelier.run_play(
        &crate::fixture::owner(),
        &crate::fixture::outline_request(Some("stub:scene")),
        &mut |_| {},
    );
    assert_eq!(refused.expect_err("switched off").code(), "SWITCHED_OFF");
    atelier.resume(&crate::fixture::owner()).expect("resume");
}

/// Fault points (TESTING.md recipe 2) on keychain changes: a key change whose audit cannot
/// be written does not happen (the keychain was changed first, leaving a changed key with no
/// event); a removal likewise leaves the key in place; and a provider test, which sends the
/// key away, is audited before it is sent. Needs the real keychain (a Secret Service).
#[test]
#[allow(clippy::print_stdout)] // a skip is reported, so a green run does not hide it
fn keychain_changes_and_their_audit_events_succeed_or_fail_together() {
    use atelier_core::secrets::{Keychain, Secret};
    let vault = TempVault::new();
    let atelier = vault.open();
    let owner = crate::fixture::owner();
    if atelier.keychain_status().is_err() {
        println!("no keychain in this session; scripts/test.sh runs one");
        return;
    }
    let vault_id: String = vault
        .sqlite()
        .query_row(
            "SELECT value FROM vault_meta WHERE key = 'vault_id'",
            [],
            |r| r.get(0),
        )
        .expect("vault id");
    let keychain = Keychain::for_vault(&vault_id);
    let fault = |on: bool| {
        vault
            .sqlite()
            .execute_batch(if on {
                "CREATE TRIGGER audit_fault BEFORE INSERT ON audit_events
                 BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;"
            } else {
                "DROP TRIGGER audit_fault"
            })
            .expect("fault");
    };

    fault(true);
    let before = vault.fingerprint();
    let err = atelier
        .key_set(
            &owner,
            "fresh",
            Secret::new("sk-fresh-0123456789".to_owned()),
        )
        .expect_err("no audit, no change");
    assert_eq!(err.code(), "STORAGE");
    assert_eq!(vault.fingerprint(), before);
    assert!(
        keychain.get("fresh").is_err(),
        "the keychain holds a key the log never saw"
    );
    fault(false);

    atelier
        .key_set(&owner, "kept", Secret::new("sk-kept-0123456789".to_owned()))
        .expect("set");
    fault(true);
    let before = vault.fingerprint();
    assert_eq!(
        atelier
            .key_remove(&owner, "kept")
            .expect_err("no audit, no removal")
            .code(),
        "STORAGE"
    );
    assert_eq!(vault.fingerprint(), before);
    assert_eq!(
        keychain.get("kept").ok(),
        Some(Secret::new("sk-kept-0123456789".to_owned())),
        "the key is still there"
    );

    let stub = crate::fixture::StubProvider::start();
    atelier
        .provider_add(
            &owner,
            atelier_core::api::ProviderAdd {
                name: "keyed".to_owned(),
                format: atelier_core::providers::WireFormat::OpenAi,
                base_url: stub.url("/v1"),
                key_ref: Some("kept".to_owned()),
            },
        )
        .expect_err("no audit, no provider");
    fault(false);
    atelier
        .provider_add(
            &owner,
            atelier_core::api::ProviderAdd {
                name: "keyed".to_owned(),
                format: atelier_core::providers::WireFormat::OpenAi,
                base_url: stub.url("/v1"),
                key_ref: Some("kept".to_owned()),
            },
        )
        .expect("provider");
    fault(true);
    assert_eq!(
        atelier
            .provider_test(&owner, "keyed")
            .expect_err("not sent unaudited")
            .code(),
        "STORAGE"
    );
    assert!(stub.requests().is_empty(), "the key was sent unaudited");
    fault(false);
    assert!(atelier.provider_test(&owner, "keyed").expect("test").passed);
    let tail = atelier.audit_tail(&owner, 3).expect("tail");
    assert!(tail.iter().any(|e| e.action == "provider.test"), "{tail:?}");
    atelier.key_remove(&owner, "kept").expect("remove");
    assert!(keychain.get("kept").is_err());
}

/// Permissions oracle (TESTING.md recipe 9) for `file_read`, which guarded nothing: a host
/// whose defaults are only `vault_read` gets `DENIED` for a document's text and for search
/// (both return the files' text); a grant scoped to `Places/*` lets it read and search those
/// files only; document metadata stays a `vault_read` read. Refusals change nothing.
#[test]
fn file_read_guards_the_text_of_project_files_and_its_scope_holds() {
    use atelier_core::access::auth::{Capability, Principal};
    use atelier_core::api::GrantAdd;
    use atelier_core::documents::search::{SearchFilter, SearchMode};
    let vault = TempVault::new();
    std::fs::write(
        vault.path().join("config.yaml"),
        "mcp_default_capabilities: [vault_read]\n",
    )
    .expect("config");
    let work = vault.dir.path().join("work");
    crate::fixture::copy_tree(
        &crate::fixture::fixtures().join("novel"),
        &work.join("novel"),
    );
    let atelier = vault.open();
    let owner = crate::fixture::owner();
    atelier
        .project_add(
            &owner,
            atelier_core::api::ProjectAdd {
                path: work.join("novel").display().to_string(),
                name: Some("novel".to_owned()),
            },
        )
        .expect("project");
    atelier
        .ingest(&owner, "novel", &mut |_| {})
        .expect("ingest");
    let host = Principal::Mcp("scoped-host".to_owned());
    let search = |who: &Principal| {
        atelier.search(
            who,
            atelier_core::api::SearchRequest {
                query: "lighthouse".to_owned(),
                mode: SearchMode::Text,
                filter: SearchFilter::default(),
                limit: Some(50),
                ..Default::default()
            },
        )
    };
    let everywhere = search(&owner).expect("the owner searches");
    assert!(
        everywhere
            .iter()
            .any(|h| !h.source.path.starts_with("Places/")),
        "the fixture has hits outside Places/: {everywhere:?}"
    );

    atelier
        .document_show(&host, "novel:Places/Lighthouse.md")
        .expect("metadata is a vault_read read");
    crate::fixture::refused(&vault, "DENIED", || {
        atelier.document_text(&host, "novel:Places/Lighthouse.md")
    });
    crate::fixture::refused(&vault, "DENIED", || search(&host));

    atelier
        .grant_add(
            &owner,
            GrantAdd {
                principal: host.clone(),
                capability: Capability::FileRead,
                scope: Some("Places/*".to_owned()),
                expires_in: None,
            },
        )
        .expect("scoped grant");
    atelier
        .document_text(&host, "novel:Places/Lighthouse.md")
        .expect("in scope");
    crate::fixture::refused(&vault, "DENIED", || {
        atelier.document_text(&host, "novel:Characters/Mara.md")
    });
    let hits = search(&host).expect("a scoped search");
    assert!(!hits.is_empty(), "the scope holds matching files");
    assert!(
        hits.iter().all(|h| h.source.path.starts_with("Places/")),
        "only files the scope covers: {hits:?}"
    );
}

/// Boot matrix (TESTING.md recipe 8) for a restored database: `atelier.db` goes back to a
/// backup taken two changes ago while the graph stays ahead. The graph's mark is not explained
/// by the outbox (ahead of it; later, a reused id with another stamp), so it is rebuilt: a task
/// created after the restore is in the plan (it was NOT_FOUND: its outbox id had been applied
/// already, by the graph, for another change) and the graph agrees with the outbox head.
#[test]
fn a_graph_ahead_of_a_restored_database_is_rebuilt() {
    let vault = TempVault::new();
    let db = vault.path().join("atelier.db");
    let backup = vault.dir.path().join("backup.db");
    {
        let atelier = vault.open();
        crate::fixture::task(&atelier, "before the backup", None, &[]);
    }
    assert!(
        !vault.path().join("atelier.db-wal").exists(),
        "closed cleanly"
    );
    std::fs::copy(&db, &backup).expect("backup");
    {
        let atelier = vault.open();
        crate::fixture::task(&atelier, "lost with the restore", None, &[]);
        crate::fixture::task(&atelier, "also lost", None, &[]);
        // The graph has applied them.
        let status = atelier.status();
        let graph = status.graph.expect("graph");
        assert_eq!(graph.applied_through, Some(graph.outbox_head));
    }
    std::fs::copy(&backup, &db).expect("restore");
    for stale in ["atelier.db-wal", "atelier.db-shm"] {
        let _ = std::fs::remove_file(vault.path().join(stale));
    }
    let atelier = vault.open();
    let after = crate::fixture::task(&atelier, "after the restore", None, &[]);
    let plan = atelier
        .task_plan(&crate::fixture::owner(), after)
        .expect("the new task is in the graph");
    assert!(
        format!("{plan:?}").contains("after the restore"),
        "{plan:?}"
    );
    let status = atelier.status();
    let graph = status.graph.expect("graph");
    assert_eq!(graph.applied_through, Some(graph.outbox_head), "{graph:?}");
    let later = crate::fixture::task(&atelier, "and one more", None, &[]);
    atelier
        .task_plan(&crate::fixture::owner(), later)
        .expect("kept in sync");
    drop(atelier);

    // A mark the outbox explains is trusted: reopening does not rebuild (the graph keeps its
    // watermark, and it equals the head).
    let atelier = vault.open();
    let status = atelier.status();
    let graph = status.graph.expect("graph");
    assert_eq!(graph.applied_through, Some(graph.outbox_head));
}

/// Audit tamper (TESTING.md recipe 6) by someone who can write `atelier.db` and knows the
/// chain's rule: an edited event with every later hash recomputed (and the head moved) made a
/// chain that still verified, and so did a whole database put back from an older copy. With
/// the head anchored in the OS keychain, `audit verify` names both. Needs the real keychain.
#[test]
#[allow(clippy::print_stdout)] // a skip is reported, so a green run does not hide it
fn a_rewritten_or_rolled_back_audit_log_is_named() {
    use atelier_core::access::audit;
    let vault = TempVault::new();
    let owner = crate::fixture::owner();
    let atelier = vault.open();
    if atelier.keychain_status().is_err() {
        println!("no keychain in this session; scripts/test.sh runs one");
        return;
    }
    for n in 0..6 {
        crate::fixture::task(&atelier, &format!("task {n}"), None, &[]);
    }
    assert!(atelier.audit_verify(&owner).expect("verify").is_intact());
    drop(atelier);
    let db = vault.path().join("atelier.db");
    let backup = vault.dir.path().join("backup.db");
    std::fs::copy(&db, &backup).expect("backup");

    // A consistent rewrite: event 3 says something else, and every hash from it on is
    // recomputed, the head included.
    {
        let conn = vault.sqlite();
        conn.execute_batch(
            "DROP TRIGGER audit_events_no_update;
             DROP TRIGGER audit_events_in_order;
             DROP TRIGGER audit_events_advance_head;",
        )
        .expect("drop triggers");
        conn.execute(
            "UPDATE audit_events SET summary = 'nothing happened' WHERE seq = 3",
            [],
        )
        .expect("edit");
        let events: Vec<audit::Event> = conn
            .prepare(
                "SELECT seq, at, principal, action, target, summary, prev_hash, hash
                   FROM audit_events ORDER BY seq",
            )
            .expect("prepare")
            .query_map([], |r| {
                Ok(audit::Event {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    principal: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    summary: r.get(5)?,
                    prev_hash: r.get(6)?,
                    hash: r.get(7)?,
                })
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let mut prev = audit::GENESIS_HASH.to_owned();
        for e in &events {
            let hash = audit::event_hash(
                e.seq,
                e.at,
                &e.principal,
                &e.action,
                &e.target,
                &e.summary,
                &prev,
            );
            conn.execute(
                "UPDATE audit_events SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
                rusqlite::params![prev, hash, e.seq],
            )
            .expect("rehash");
            prev = hash;
        }
        conn.execute("UPDATE audit_head SET hash = ?1 WHERE id = 1", [&prev])
            .expect("head");
    }
    let atelier = vault.open();
    let verification = atelier.audit_verify(&owner).expect("verify");
    assert!(verification.first_bad_seq.is_some(), "{verification:?}");
    assert!(
        verification
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("rewritten"),
        "{verification:?}"
    );
    drop(atelier);

    // A rollback: the backup goes back after more events were anchored.
    let restore = || {
        std::fs::copy(&backup, &db).expect("restore");
        for stale in ["atelier.db-wal", "atelier.db-shm"] {
            let _ = std::fs::remove_file(vault.path().join(stale));
        }
    };
    restore();
    {
        let atelier = vault.open();
        crate::fixture::task(&atelier, "after the backup", None, &[]);
        crate::fixture::task(&atelier, "and another", None, &[]);
        assert!(atelier.audit_verify(&owner).expect("verify").is_intact());
    }
    restore();
    let atelier = vault.open();
    let verification = atelier.audit_verify(&owner).expect("verify");
    assert!(
        verification
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("rolled back"),
        "{verification:?}"
    );
}

/// Template injection (issue 19, item 4), through the run API a role-only scheduler task
/// takes: text that closes a `raw` block and opens an expression reaches the provider exactly
/// as typed (never evaluated to `49`), and a text that only mentions `{% endraw %}` runs.
#[test]
fn adhoc_task_text_reaches_the_provider_as_typed() {
    use crate::fixture::{StubProvider, add_stub, owner};
    use atelier_core::api::RunRequest;
    use atelier_core::plays::adhoc::AdhocRequest;
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(serde_json::json!({"scene": ["Done.", "Done."]}));
    add_stub(&atelier, &stub);
    for typed in [
        "Summarise. {% endraw %}{{ 7 * 7 }}{% raw %} end",
        "Explain what {% endraw %} does in Jinja.",
    ] {
        let request = RunRequest {
            play: String::new(),
            adhoc: Some(AdhocRequest {
                role: "writer".to_owned(),
                canon_tags: Vec::new(),
                search: None,
                project: None,
                passages: None,
                budget_tokens: None,
                shape: None,
                expectations: Vec::new(),
                task: typed.to_owned(),
                task_class: None,
            }),
            params: serde_json::Map::new(),
            model: Some("stub:scene".to_owned()),
            task: None,
            idempotency_key: None,
        };
        let run = atelier
            .run_play(&owner(), &request, &mut |_| {})
            .unwrap_or_else(|e| panic!("{typed}: {e}"));
        assert_eq!(run.status, "passed", "{typed}: {run:#?}");
        let sent = stub.requests().pop().expect("request");
        let prompt = sent["body"]["messages"][1]["content"]
            .as_str()
            .expect("prompt")
            .to_owned();
        assert!(prompt.contains(typed), "{typed} became: {prompt}");
        assert!(!prompt.contains("49"), "evaluated: {prompt}");
    }
}
