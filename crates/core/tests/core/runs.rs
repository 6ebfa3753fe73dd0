//! Keys in the real keychain, providers, and plays run end to end against the provider stub:
//! streaming, gates, retries and fallback, the kill switch, and recovery after a crash.
//! The keychain tests need a Secret Service: `scripts/test.sh` runs the tests under
//! `dbus-run-session` with an unlocked gnome-keyring.

use crate::fixture::{
    GOOD_OUTLINE, StubProvider, TempVault, add_stub, canon, outline_request, owner, params, refused,
};
use atelier_core::api::{ProviderAdd, Route, RunEvent, RunRequest};
use atelier_core::providers::WireFormat;
use atelier_core::secrets::Secret;
use serde_json::{Map, json};
use std::time::{Duration, Instant};

/// Secret canary, the keychain half (TESTING.md recipe 5): a key set through the real
/// keychain reaches the provider (positive control: the stub saw it) and is in no listing,
/// no database file and no WAL.
#[test]
fn keys_are_write_only_and_live_only_in_the_keychain() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    let canary = format!("sk-canary-{}", std::process::id());
    atelier
        .key_set(&owner(), "stubkey", Secret::new(canary.clone()))
        .expect("the keychain stores the key");
    atelier
        .provider_add(
            &owner(),
            ProviderAdd {
                name: "keyed".to_owned(),
                format: WireFormat::Anthropic,
                base_url: stub.url(""),
                key_ref: Some("stubkey".to_owned()),
            },
        )
        .expect("provider");
    let check = atelier.key_test(&owner(), "stubkey").expect("test");
    assert!(check.passed, "{check:?}");
    let seen = stub.requests();
    assert_eq!(
        seen.last().expect("a request")["headers"]["x-api-key"],
        canary.as_str(),
        "positive control"
    );

    let listed = serde_json::to_string(&atelier.keys_list(&owner()).expect("list")).expect("json");
    assert!(listed.contains("stubkey") && !listed.contains(&canary));
    let status = serde_json::to_string(&atelier.status()).expect("json");
    assert!(!status.contains(&canary));
    drop(atelier);
    for file in ["atelier.db", "atelier.db-wal"] {
        let bytes = std::fs::read(vault.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "{file} holds the key"
        );
    }

    let atelier = vault.open();
    atelier
        .key_set(
            &owner(),
            "stubkey",
            Secret::new("sk-invalid-0123456789".to_owned()),
        )
        .expect("replace");
    let check = atelier.key_test(&owner(), "stubkey").expect("test");
    assert!(!check.passed);
    assert_eq!(
        check
            .error
            .map(|e| e.to_string().contains("refused the key")),
        Some(true)
    );
    atelier.key_remove(&owner(), "stubkey").expect("remove");
    assert!(atelier.keys_list(&owner()).expect("list").is_empty());
    let err = atelier
        .provider_test(&owner(), "keyed")
        .expect_err("no key any more");
    assert_eq!(err.code(), "INVALID_INPUT", "{err}");
}

#[test]
fn bad_key_and_provider_inputs_are_refused_and_change_nothing() {
    let vault = TempVault::new();
    let atelier = vault.open();
    refused(&vault, "INVALID_INPUT", || {
        atelier.key_set(&owner(), "Bad Name", Secret::new("k".repeat(20)))
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.key_set(&owner(), "ok", Secret::new("sk-1234\n".to_owned()))
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.key_set(&owner(), "ok", Secret::new(String::new()))
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.key_remove(&owner(), "never-set")
    });
    for (url, why) in [
        ("ftp://x", "scheme"),
        ("https://user:sk-1@api.example.com", "credentials"),
        ("https://api.example.com/v1?key=sk-1", "query"),
    ] {
        let err = refused(&vault, "INVALID_INPUT", || {
            atelier.provider_add(
                &owner(),
                ProviderAdd {
                    name: "x".to_owned(),
                    format: WireFormat::OpenAi,
                    base_url: url.to_owned(),
                    key_ref: None,
                },
            )
        });
        assert!(err.to_string().contains("base_url"), "{why}: {err}");
    }
    refused(&vault, "INVALID_INPUT", || {
        atelier.route_set(
            &owner(),
            Route {
                task_class: "planner".to_owned(),
                models: vec![],
            },
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.route_set(
            &owner(),
            Route {
                task_class: "llm.creator".to_owned(),
                models: vec!["gpt-4o".to_owned()],
            },
        )
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.run_play(
            &owner(),
            &RunRequest {
                play: "nope".to_owned(),
                params: Map::new(),
                model: None,
                task: None,
                idempotency_key: None,
                adhoc: None,
            },
            &mut |_| {},
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.run_play(
            &owner(),
            &RunRequest {
                play: "scene_outline".to_owned(),
                params: Map::new(),
                model: None,
                task: None,
                idempotency_key: None,
                adhoc: None,
            },
            &mut |_| {},
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        let mut request = outline_request(None);
        request.params.insert("mood".to_owned(), json!("dark"));
        atelier.run_play(&owner(), &request, &mut |_| {})
    });
    refused(&vault, "INVALID_INPUT", || {
        let mut request = outline_request(None);
        request.params.insert("beats".to_owned(), json!(99));
        atelier.run_play(&owner(), &request, &mut |_| {})
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.run_play(&owner(), &outline_request(Some("not a model")), &mut |_| {})
    });
}

#[test]
fn a_play_streams_through_the_stub_passes_its_gates_and_is_recorded() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(json!({"scene": [GOOD_OUTLINE]}));
    add_stub(&atelier, &stub);
    let mut streamed = String::new();
    let mut events = Vec::new();
    let run = atelier
        .run_play(&owner(), &outline_request(Some("stub:scene")), &mut |e| {
            if let RunEvent::Text { text, .. } = &e {
                streamed.push_str(text);
            }
            events.push(e);
        })
        .expect("run");
    assert_eq!(run.status, "passed", "{run:#?}");
    let step = &run.steps[0];
    assert_eq!(step.output.as_deref(), Some(GOOD_OUTLINE));
    assert_eq!(streamed, GOOD_OUTLINE, "every piece was streamed");
    assert!(
        step.gates.iter().all(|g| g.passed) && step.gates.len() == 3,
        "{:?}",
        step.gates
    );
    assert_eq!(step.model.as_deref(), Some("stub:scene"));
    assert!(run.input_tokens > 0 && run.output_tokens > 0);
    assert!(
        step.system_prompt
            .as_deref()
            .is_some_and(|s| s.contains("`writer` role"))
    );
    assert!(
        step.prompt
            .as_deref()
            .is_some_and(|p| p.contains("## Task") && p.contains("Mara keeps the light"))
    );
    assert!(matches!(events.first(), Some(RunEvent::Started { .. })));
    assert!(matches!(events.last(), Some(RunEvent::Finished { status, .. }) if status == "passed"));
    // The request the stub saw is the assembled prompt.
    let sent = stub.requests().pop().expect("request");
    assert_eq!(
        sent["body"]["messages"][1]["content"].as_str(),
        step.prompt.as_deref()
    );
    let shown = atelier.run_show(&owner(), run.id).expect("show");
    assert_eq!(shown.steps, run.steps);
    assert_eq!(atelier.runs_list(&owner(), 10).expect("list")[0].id, run.id);
}

#[test]
fn retries_honour_retry_after_and_fall_back_to_the_next_model() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(json!({"flaky-429": [GOOD_OUTLINE]}));
    add_stub(&atelier, &stub);
    atelier
        .route_set(
            &owner(),
            Route {
                task_class: "llm.creator".to_owned(),
                models: vec!["stub:fail-401".to_owned(), "stub:flaky-429".to_owned()],
            },
        )
        .expect("route");
    let mut waits = Vec::new();
    let started = Instant::now();
    let run = atelier
        .run_play(&owner(), &outline_request(None), &mut |e| {
            if let RunEvent::Retry { model, wait_ms, .. } = e {
                waits.push((model, wait_ms));
            }
        })
        .expect("run");
    assert_eq!(run.status, "passed", "{run:#?}");
    let outcomes: Vec<(&str, bool)> = run.steps[0]
        .attempts
        .iter()
        .map(|a| (a.model.as_str(), a.outcome == "ok"))
        .collect();
    // The writer role's own models come first (its preferred model, then its fallbacks); none
    // is usable here (no key set, no local server), so each is tried once and passed over.
    // Then the route for llm.creator, in order: a refused key falls back at once, a 429 is
    // retried after its Retry-After.
    assert_eq!(
        outcomes.first(),
        Some(&("anthropic:claude-sonnet-4-5", false))
    );
    assert_eq!(
        outcomes[outcomes.len() - 3..],
        [
            ("stub:fail-401", false),
            ("stub:flaky-429", false),
            ("stub:flaky-429", true)
        ]
    );
    let stub_waits: Vec<&(String, u64)> = waits
        .iter()
        .filter(|(m, _)| m.starts_with("stub:"))
        .collect();
    assert_eq!(
        stub_waits,
        [
            &("stub:fail-401".to_owned(), 0),
            &("stub:flaky-429".to_owned(), 1000)
        ]
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the Retry-After wait happened"
    );
}

#[test]
fn failing_gates_fail_the_run_and_skip_the_steps_after() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(json!({"facts": ["Mara is tall."]}));
    add_stub(&atelier, &stub);
    let request = RunRequest {
        play: "character_bible".to_owned(),
        params: params(&[("character", "Mara")]),
        model: Some("stub:facts".to_owned()),
        task: None,
        idempotency_key: None,
        adhoc: None,
    };
    let run = atelier
        .run_play(&owner(), &request, &mut |_| {})
        .expect("run");
    assert_eq!(
        (run.status.as_str(), run.reason.as_deref()),
        ("failed", Some("gates"))
    );
    let facts = run.steps.iter().find(|s| s.step == "facts").expect("facts");
    let failed: Vec<&str> = facts
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| g.expectation.as_str())
        .collect();
    assert!(
        failed.iter().any(|g| g.starts_with("required_sections")),
        "{failed:?}"
    );
    assert!(failed.contains(&"must_cite_sources"), "{failed:?}");
    let bible = run.steps.iter().find(|s| s.step == "bible").expect("bible");
    assert_eq!(bible.status, "skipped");
    assert_eq!(
        stub.requests().len(),
        1,
        "the second step never called a model"
    );
}

/// The kill switch stops a run waiting on a silent provider, and no provider call starts after
/// it. The time from the halt to the run's return is printed, not asserted.
#[test]
#[allow(clippy::print_stdout)] // the measured time is reported, never asserted
fn the_kill_switch_cancels_running_runs_and_refuses_new_ones() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    add_stub(&atelier, &stub);
    std::thread::scope(|s| {
        let running = s.spawn(|| {
            let run = atelier.run_play(&owner(), &outline_request(Some("stub:hang")), &mut |_| {});
            (run, Instant::now())
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while stub.requests().is_empty() {
            assert!(Instant::now() < deadline, "the run never called the stub");
            std::thread::sleep(Duration::from_millis(20));
        }
        let sealed_at = Instant::now();
        atelier.halt(&owner(), "test").expect("halt");
        let calls_at_seal = stub.requests().len();
        let (run, returned_at) = running.join().expect("thread");
        let run = run.expect("the run ends with a record");
        println!(
            "halt → run returned in {} ms",
            returned_at.duration_since(sealed_at).as_millis()
        );
        assert_eq!(
            (run.status.as_str(), run.reason.as_deref()),
            ("cancelled", Some("switched_off"))
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            stub.requests().len(),
            calls_at_seal,
            "a provider call started after the halt"
        );
    });
    let err = atelier
        .run_play(&owner(), &outline_request(Some("stub:scene")), &mut |_| {})
        .expect_err("sealed");
    assert_eq!(err.code(), "SWITCHED_OFF");
    let err = atelier
        .resume(&atelier_core::access::auth::Principal::Mcp(
            "host".to_owned(),
        ))
        .expect_err("owner only");
    assert_eq!(err.code(), "DENIED");
    atelier.resume(&owner()).expect("resume");
    stub.set_replies(json!({"scene": [GOOD_OUTLINE]}));
    let run = atelier
        .run_play(&owner(), &outline_request(Some("stub:scene")), &mut |_| {})
        .expect("runs again");
    assert_eq!(run.status, "passed");
    let actions: Vec<String> = atelier
        .audit_tail(&owner(), 50)
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "switch.on") && actions.iter().any(|a| a == "switch.off"));
}

#[test]
fn a_run_left_running_by_a_crash_is_failed_interrupted_on_the_next_start() {
    let vault = TempVault::new();
    drop(vault.open());
    let conn = vault.sqlite();
    conn.execute_batch(
        "INSERT INTO runs (id, play, play_version, play_text, params, principal, status, created_at, started_at)
           VALUES (7, 'scene_outline', 'v', 'text', '{}', 'owner', 'running', 1, 1);
         INSERT INTO run_steps (run_id, step, position, status, role) VALUES (7, 'outline', 0, 'running', 'writer');",
    )
    .expect("a run as a crash leaves it");
    drop(conn);
    let atelier = vault.open();
    let run = atelier.run_show(&owner(), 7).expect("show");
    assert_eq!(
        (run.status.as_str(), run.reason.as_deref()),
        ("failed", Some("interrupted"))
    );
    assert_eq!(run.steps[0].status, "failed");
    let verified = atelier.audit_verify(&owner()).expect("verify");
    assert!(verified.is_intact());
    drop(atelier);
    // Marked once: a second start finds nothing to mark.
    let atelier = vault.open();
    let events = atelier.audit_tail(&owner(), 100).expect("audit");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "run.interrupted")
            .count(),
        1
    );
}

/// Inside a run a step acts with its role's capabilities intersected with the caller's: a
/// caller that may run plays but not read the vault cannot have a step read sources for it,
/// not even in a preview. (MCP hosts read by default, so this vault takes that away.)
#[test]
fn a_step_reads_sources_only_if_caller_and_role_both_may() {
    use atelier_core::access::auth::{Capability, Principal};
    use atelier_core::api::GrantAdd;
    let vault = TempVault::new();
    std::fs::write(
        vault.path().join("config.yaml"),
        "mcp_default_capabilities: []\n",
    )
    .expect("config");
    let atelier = vault.open();
    let host = Principal::Mcp("host".to_owned());
    let grant = |capability| {
        atelier
            .grant_add(
                &owner(),
                GrantAdd {
                    principal: host.clone(),
                    capability,
                    scope: None,
                    expires_in: None,
                },
            )
            .expect("grant");
    };
    let err = atelier
        .run_preview(&host, &outline_request(None))
        .expect_err("no run_plays");
    assert_eq!(err.code(), "DENIED");
    grant(Capability::RunPlays);
    let err = refused(&vault, "DENIED", || {
        atelier.run_preview(&host, &outline_request(None))
    });
    assert!(err.to_string().contains("vault_read"), "{err}");
    refused(&vault, "DENIED", || {
        atelier.run_play(&host, &outline_request(Some("stub:x")), &mut |_| {})
    });
    grant(Capability::VaultRead);
    // Its step searches passages, the text of project files: that needs `file_read` too.
    let err = refused(&vault, "DENIED", || {
        atelier.run_preview(&host, &outline_request(None))
    });
    assert!(err.to_string().contains("file_read"), "{err}");
    grant(Capability::FileRead);
    let preview = atelier
        .run_preview(&host, &outline_request(None))
        .expect("preview");
    assert_eq!(preview.steps[0].role, "writer");
}

/// Opt-in live test: with `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` or `GEMINI_API_KEY` in the
/// environment, one play runs against that real provider through the real keychain. Without
/// one it says it was skipped (CI has no key and no network beyond package registries).
/// `ATELIER_LIVE_MODEL` picks the model (default: a small one of that provider).
#[test]
#[allow(clippy::print_stdout)] // the skip is reported, so a green run does not hide it
fn live_provider_runs_a_play_when_a_key_is_in_the_environment() {
    let found = [
        ("OPENAI_API_KEY", "openai", "gpt-4o-mini"),
        ("ANTHROPIC_API_KEY", "anthropic", "claude-haiku-4-5"),
        ("GEMINI_API_KEY", "gemini", "gemini-2.5-flash"),
    ]
    .into_iter()
    .find_map(|(var, provider, model)| {
        std::env::var(var)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|key| (var, provider, model, key))
    });
    let Some((var, provider, default_model, key)) = found else {
        println!(
            "live provider test skipped: set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY to run it"
        );
        return;
    };
    let model = std::env::var("ATELIER_LIVE_MODEL").unwrap_or_else(|_| default_model.to_owned());
    println!("live provider test: {provider}:{model} with the key from ${var}");
    let vault = TempVault::new();
    let atelier = vault.open();
    atelier
        .key_set(&owner(), provider, Secret::new(key.trim().to_owned()))
        .expect("the keychain stores the key");
    let run = atelier
        .run_play(
            &owner(),
            &outline_request(Some(&format!("{provider}:{model}"))),
            &mut |_| {},
        )
        .expect("run");
    // A real model may miss a gate; what must hold is that the provider answered.
    assert_ne!(run.reason.as_deref(), Some("provider"), "{run:#?}");
    assert!(run.output_tokens > 0, "{run:#?}");
    println!(
        "live run {}: {} ({} tokens in, {} out)",
        run.id, run.status, run.input_tokens, run.output_tokens
    );
}

const FACTS: &str = "## Established\nMara Quell keeps the Gull Rock light [S1].\n\n## Contradictions\nNone found.\n\n## Open questions\nHer age.";
const BIBLE: &str = "# Mara Quell\n## Appearance\nTall, salt-grey coat.\n## Voice\n\"Count the steps. Then count them again.\"\n## Wants\nThe light to stay lit.\n## Fears\nThe dark between flashes.\n## Relationships\nAlone on the rock.\n## History\nKeeper for ten years.";

/// Rubrics are judged by the `reviewer` role (routed by `llm.judge`) with a JSON verdict: a
/// pass lets the run pass, a fail or an answer that is not a verdict fails it, with the reasons.
#[test]
fn a_rubric_is_judged_by_the_reviewer_and_its_verdict_gates_the_run() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    add_stub(&atelier, &stub);
    canon(
        &atelier,
        "Mara Quell",
        "Mara Quell keeps the Gull Rock light.",
        &["characters"],
        atelier_core::catalog::Tier::Canon,
    );
    atelier
        .route_set(
            &owner(),
            Route {
                task_class: "llm.judge".to_owned(),
                models: vec!["stub:judge".to_owned()],
            },
        )
        .expect("route");
    stub.set_replies(json!({
        "bible": [FACTS, BIBLE, FACTS, BIBLE, FACTS, BIBLE],
        "judge": [
            r#"{"pass": true, "score": 8, "reasons": "Agrees with the facts."}"#,
            r#"{"pass": false, "score": 3, "reasons": "The voice is described, not shown."}"#,
            "Looks fine to me!"
        ]
    }));
    let request = RunRequest {
        play: "character_bible".to_owned(),
        params: params(&[("character", "Mara Quell")]),
        model: Some("stub:bible".to_owned()),
        task: None,
        idempotency_key: None,
        adhoc: None,
    };
    let rubric_of = |run: &atelier_core::api::RunView| {
        run.steps
            .iter()
            .find(|s| s.step == "bible")
            .and_then(|s| {
                s.gates
                    .iter()
                    .find(|g| g.expectation.starts_with("rubric:"))
            })
            .cloned()
            .expect("the rubric gate")
    };
    let passed = atelier
        .run_play(&owner(), &request, &mut |_| {})
        .expect("run");
    assert_eq!(passed.status, "passed", "{passed:#?}");
    assert_eq!(rubric_of(&passed).detail, "Agrees with the facts.");
    let judged = stub
        .requests()
        .into_iter()
        .find(|r| r["body"]["model"] == "judge")
        .expect("the judge was asked");
    assert!(
        judged["body"]["messages"][0]["content"]
            .as_str()
            .is_some_and(|s| s.contains("`reviewer` role")),
        "the reviewer role judges: {judged}"
    );
    assert!(
        judged["body"]["messages"][1]["content"]
            .as_str()
            .is_some_and(|s| s.contains("Count the steps")),
        "the judge sees the output"
    );

    let failed = atelier
        .run_play(&owner(), &request, &mut |_| {})
        .expect("run");
    assert_eq!(
        (failed.status.as_str(), failed.reason.as_deref()),
        ("failed", Some("gates"))
    );
    let gate = rubric_of(&failed);
    assert!(!gate.passed);
    assert_eq!(gate.detail, "The voice is described, not shown.");

    let garbled = atelier
        .run_play(&owner(), &request, &mut |_| {})
        .expect("run");
    assert_eq!(garbled.status, "failed");
    assert_eq!(
        rubric_of(&garbled).detail,
        "the judge's verdict is not the expected JSON"
    );
}

/// Secret canary, the core half for events and records: the key reaches the stub, a provider
/// error that echoes it is scrubbed, and no run event, run record or error carries it.
#[test]
fn run_events_records_and_errors_never_carry_the_key() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(json!({"scene": [GOOD_OUTLINE]}));
    let canary = format!("sk-canary-events-{}", std::process::id());
    atelier
        .key_set(&owner(), "canary", Secret::new(canary.clone()))
        .expect("key");
    atelier
        .provider_add(
            &owner(),
            ProviderAdd {
                name: "keyed".to_owned(),
                format: WireFormat::OpenAi,
                base_url: stub.url("/v1"),
                key_ref: Some("canary".to_owned()),
            },
        )
        .expect("provider");
    let mut seen = String::new();
    for model in ["keyed:scene", "keyed:leaky-400", "keyed:fail-401"] {
        let answer = atelier.run_play(&owner(), &outline_request(Some(model)), &mut |e| {
            seen.push_str(&serde_json::to_string(&e).expect("event json"));
        });
        match answer {
            Ok(run) => seen.push_str(&serde_json::to_string(&run).expect("run json")),
            Err(e) => seen.push_str(&format!("{e} {e:?}")),
        }
    }
    seen.push_str(
        &serde_json::to_string(&atelier.runs_list(&owner(), 10).expect("runs")).expect("json"),
    );
    seen.push_str(
        &serde_json::to_string(&atelier.audit_tail(&owner(), 100).expect("audit")).expect("json"),
    );
    assert!(
        stub.requests()
            .iter()
            .any(|r| r["headers"]["authorization"] == format!("Bearer {canary}")),
        "positive control: the stub saw the key"
    );
    assert!(
        seen.contains("[key]"),
        "the echoed key was scrubbed: {seen}"
    );
    assert!(
        !seen.contains(&canary),
        "a run event or record holds the key"
    );
    assert!(
        !seen.contains(&canary[..12]) && !seen.contains(&canary[canary.len() - 12..]),
        "a piece of the key leaked"
    );
}

/// An ad-hoc request (role, sources, shape, expectations and task chosen by hand) runs like a
/// one-step play: previewed, streamed, gated, pinned and banked for review; bad parts are
/// refused before anything is written.
#[test]
fn an_adhoc_request_runs_like_a_one_step_play() {
    use atelier_core::plays::adhoc::AdhocRequest;
    use atelier_core::plays::spec::{Count, Expectation, ShapeRef};
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(json!({"scene": [GOOD_OUTLINE]}));
    add_stub(&atelier, &stub);
    canon(
        &atelier,
        "Gull Rock",
        "The lamp room is reached by 112 steps.",
        &["world"],
        atelier_core::catalog::Tier::Canon,
    );
    let parts = AdhocRequest {
        role: "writer".to_owned(),
        canon_tags: vec!["world".to_owned()],
        search: None,
        project: None,
        passages: None,
        budget_tokens: Some(500),
        shape: Some(ShapeRef::Markdown {
            markdown: "## Goal\n## Conflict\n## Beats\n## Outcome\n".to_owned(),
        }),
        expectations: vec![
            Expectation::RequiredSections(vec!["Goal".to_owned(), "Outcome".to_owned()]),
            Expectation::MaxWords(Count::Literal(200)),
        ],
        task: "Outline the storm scene; keep {{ this }} literal.".to_owned(),
        task_class: None,
    };
    let request = |parts: AdhocRequest| RunRequest {
        play: String::new(),
        adhoc: Some(parts),
        params: Map::new(),
        model: Some("stub:scene".to_owned()),
        task: None,
        idempotency_key: None,
    };
    let preview = atelier
        .run_preview(&owner(), &request(parts.clone()))
        .expect("preview");
    let assembled = &preview.steps[0].assembled;
    assert_eq!(preview.play, "adhoc");
    assert!(
        assembled.prompt.contains("Gull Rock"),
        "{}",
        assembled.prompt
    );
    assert!(assembled.prompt.contains("keep {{ this }} literal."));
    assert!(assembled.system.contains("`writer` role"));
    let run = atelier
        .run_play(&owner(), &request(parts.clone()), &mut |_| {})
        .expect("run");
    assert_eq!(run.status, "passed", "{run:#?}");
    assert_eq!(run.steps[0].gates.len(), 2);
    let asset = atelier
        .asset_show(&owner(), run.asset.expect("banked"), None)
        .expect("asset");
    assert_eq!(
        asset.asset.title,
        "Ad-hoc: Outline the storm scene; keep {{ this }} literal. (run 1)"
    );

    let mut empty = parts.clone();
    empty.task = " ".to_owned();
    refused(&vault, "INVALID_INPUT", || {
        atelier.run_play(&owner(), &request(empty), &mut |_| {})
    });
    let mut bad_regex = parts.clone();
    bad_regex.expectations = vec![Expectation::Regex("(".to_owned())];
    refused(&vault, "INVALID_INPUT", || {
        atelier.run_play(&owner(), &request(bad_regex), &mut |_| {})
    });
    let mut nobody = parts;
    nobody.role = "nobody".to_owned();
    refused(&vault, "NOT_FOUND", || {
        atelier.run_play(&owner(), &request(nobody), &mut |_| {})
    });
}
