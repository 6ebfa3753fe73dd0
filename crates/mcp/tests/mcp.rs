//! The MCP server in-process over `tokio::io::duplex`, with rmcp's own client: every tool,
//! the tool list following the caller's grants (and `tools/list_changed` when they change),
//! and the refusals as JSON-RPC errors with their codes, changing nothing (recipe 4, "bad
//! input corpus", for the tool arguments).

use atelier_core::access::auth::{Capability, Principal};
use atelier_core::api::{GrantAdd, ProjectAdd};
use atelier_core::clock::{Clock, ManualClock};
use atelier_core::{Atelier, OpenOptions};
use atelier_mcp::VaultServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ErrorCode,
    GetPromptRequestParams, Implementation, ProgressNotificationParam, ProtocolVersion,
    ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam,
    ServerNotification, SubscribeRequestParams, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceError, ServiceExt,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

const T0: i64 = 1_800_000_000_000;

/// A vault with the core's fixture novel ingested as project `novel`, on a manual clock.
struct Fixture {
    atelier: Arc<Atelier>,
    clock: Arc<ManualClock>,
    vault: PathBuf,
    _dir: tempfile::TempDir,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let kind = entry.file_type().expect("type");
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

impl Fixture {
    fn new(with_project: bool) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = dir.path().join("vault");
        let clock = Arc::new(ManualClock::new(T0));
        Atelier::init(&vault, clock.as_ref(), false).expect("init");
        let atelier = Atelier::open(
            OpenOptions::new(vault.clone()).with_clock(clock.clone() as Arc<dyn Clock>),
        );
        assert_eq!(atelier.status().sealed, None);
        if with_project {
            copy_tree(&fixtures().join("novel"), &dir.path().join("novel"));
            atelier
                .project_add(
                    &Principal::Owner,
                    ProjectAdd {
                        path: dir.path().join("novel").display().to_string(),
                        name: Some("novel".to_owned()),
                    },
                )
                .expect("project");
            atelier
                .ingest(&Principal::Owner, "novel", &mut |_| {})
                .expect("ingest");
        }
        Fixture {
            atelier: Arc::new(atelier),
            clock,
            vault,
            _dir: dir,
        }
    }

    fn grant(&self, capability: Capability, expires_in: Option<i64>) {
        self.atelier
            .grant_add(
                &Principal::Owner,
                GrantAdd {
                    principal: Principal::Mcp("test-host".to_owned()),
                    capability,
                    scope: None,
                    expires_in,
                },
            )
            .expect("grant");
    }

    /// The audit head: any change moves it.
    fn head(&self) -> i64 {
        self.atelier.change_head(&Principal::Owner).expect("head")
    }
}

impl Drop for Fixture {
    /// The session's tasks end just after the client leaves; the vault directory goes only
    /// once the last of them has let the vault go (it flushes its index on close).
    fn drop(&mut self) {
        for _ in 0..200 {
            if Arc::strong_count(&self.atelier) == 1 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }
}

/// What the client heard besides answers.
#[derive(Clone)]
struct Host {
    list_changed: mpsc::UnboundedSender<()>,
    progress: mpsc::UnboundedSender<ProgressNotificationParam>,
    updated: mpsc::UnboundedSender<String>,
    prompts_changed: mpsc::UnboundedSender<()>,
}

impl ClientHandler for Host {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("Test Host", "1.0"),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.list_changed.send(());
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.progress.send(params);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.updated.send(params.uri);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.prompts_changed.send(());
    }
}

struct Session {
    client: RunningService<RoleClient, Host>,
    /// Every tool's published `outputSchema`, by name, to check each answer against.
    output_schemas: std::collections::HashMap<String, jsonschema::Validator>,
    list_changed: mpsc::UnboundedReceiver<()>,
    progress: mpsc::UnboundedReceiver<ProgressNotificationParam>,
    updated: mpsc::UnboundedReceiver<String>,
    prompts_changed: mpsc::UnboundedReceiver<()>,
}

async fn connect(fixture: &Fixture) -> Session {
    connect_with(fixture, ClientLifecycleMode::Initialize).await
}

/// A session on protocol 2026-07-28: `server/discover`, then self-contained requests.
async fn connect_2026(fixture: &Fixture) -> Session {
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    connect_with(fixture, mode).await
}

async fn connect_with(fixture: &Fixture, mode: ClientLifecycleMode) -> Session {
    let (server_side, client_side) = tokio::io::duplex(1 << 20);
    let server = VaultServer::new(Arc::clone(&fixture.atelier));
    let output_schemas = server
        .all_tools()
        .into_iter()
        .map(|tool| {
            let schema = Value::Object((*tool.output_schema.expect("outputSchema")).clone());
            let validator = jsonschema::validator_for(&schema).expect("a valid schema");
            (tool.name.to_string(), validator)
        })
        .collect();
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    let (list_tx, list_changed) = mpsc::unbounded_channel();
    let (progress_tx, progress) = mpsc::unbounded_channel();
    let (updated_tx, updated) = mpsc::unbounded_channel();
    let (prompts_tx, prompts_changed) = mpsc::unbounded_channel();
    let client = Host {
        list_changed: list_tx,
        progress: progress_tx,
        updated: updated_tx,
        prompts_changed: prompts_tx,
    }
    .serve_with_lifecycle(client_side, mode)
    .await
    .expect("initialize");
    Session {
        client,
        output_schemas,
        list_changed,
        progress,
        updated,
        prompts_changed,
    }
}

impl Session {
    async fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .client
            .list_all_tools()
            .await
            .expect("tools/list")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        names
    }

    async fn call(
        &self,
        name: &'static str,
        arguments: Value,
    ) -> Result<CallToolResult, ServiceError> {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object");
        };
        self.client
            .call_tool(CallToolRequestParams::new(name).with_arguments(arguments))
            .await
    }

    /// The structured answer of a call that must succeed: valid by the tool's `outputSchema`,
    /// and the same JSON as its text, for hosts that read only text.
    async fn ok(&self, name: &'static str, arguments: Value) -> Value {
        let result = self.call(name, arguments).await.expect(name);
        assert_ne!(result.is_error, Some(true), "{name}: {result:?}");
        let structured = result.structured_content.expect("structured content");
        let problems: Vec<String> = self.output_schemas[name]
            .iter_errors(&structured)
            .map(|e| e.to_string())
            .collect();
        assert!(problems.is_empty(), "{name}: {problems:?}");
        let texts: Vec<&str> = result
            .content
            .iter()
            .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
            .collect();
        assert_eq!(texts.len(), 1, "{name}: one text block");
        let text: Value = serde_json::from_str(texts[0]).expect("the text is JSON");
        assert_eq!(
            text, structured,
            "{name}: text and structured content agree"
        );
        structured
    }

    /// The JSON-RPC error of a call that must be refused.
    async fn refused(&self, name: &'static str, arguments: Value) -> (ErrorCode, Value) {
        match self.call(name, arguments).await {
            Err(ServiceError::McpError(error)) => (error.code, error.data.unwrap_or(Value::Null)),
            other => panic!("{name}: expected a JSON-RPC error, got {other:?}"),
        }
    }
}

fn items(answer: &Value) -> &Vec<Value> {
    answer["items"].as_array().expect("items")
}

const READ_TOOLS: [&str; 6] = [
    "assets_list",
    "plays_list",
    "read",
    "search",
    "tasks_list",
    "thread_read",
];

/// A host reads by default and sees only the read tools; a grant adds tools and is announced
/// with `tools/list_changed`, and so is its expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_list_follows_the_hosts_grants_and_changes_are_announced() {
    let fixture = Fixture::new(false);
    let mut session = connect(&fixture).await;
    assert_eq!(session.names().await, READ_TOOLS);

    fixture.grant(Capability::TasksWrite, Some(60_000));
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        session.list_changed.recv(),
    )
    .await
    .expect("tools/list_changed after a grant")
    .expect("open");
    let mut with_write: Vec<String> = READ_TOOLS.iter().map(|s| s.to_string()).collect();
    with_write.extend(["tasks_create".to_owned(), "tasks_update".to_owned()]);
    with_write.sort();
    assert_eq!(session.names().await, with_write);

    // Expiry writes nothing, so it is noticed at the next look: any change, or the renewal.
    fixture.clock.advance(60_000);
    fixture.grant(Capability::BankAssets, None);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        session.list_changed.recv(),
    )
    .await
    .expect("tools/list_changed")
    .expect("open");
    let names = session.names().await;
    assert!(names.contains(&"asset_bank".to_owned()));
    assert!(!names.contains(&"tasks_create".to_owned()), "{names:?}");
    let _ = session.client.cancel().await;
}

/// Protocol 2026-07-28 beside 2025-11-25: rmcp's client opens with `server/discover` and names
/// itself in every request's `_meta`; it sees only the read tools, hears of a grant on its
/// `subscriptions/listen` stream (the revision has no session to tell), then may call what the
/// grant allows, audited as itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_2026_07_28_names_the_host_per_request_and_tells_its_stream_of_a_grant() {
    let fixture = Fixture::new(false);
    let session = connect_2026(&fixture).await;
    let info = session.client.peer_info().expect("discovered");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
    assert_eq!(session.names().await, READ_TOOLS);
    let mut stream = session
        .client
        .peer()
        .listen(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .prompts_list_changed()
                .build(),
        )
        .await
        .expect("subscriptions/listen");
    assert_eq!(stream.acknowledged().tools_list_changed, Some(true));

    fixture.grant(Capability::TasksWrite, None);
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("a notification after a grant")
        .expect("the stream is open");
    assert!(
        matches!(
            heard,
            Some(ServerNotification::ToolListChangedNotification(_))
        ),
        "{heard:?}"
    );
    let names = session.names().await;
    assert!(names.contains(&"tasks_create".to_owned()), "{names:?}");
    let created = session.ok("tasks_create", json!({"title": "Draft"})).await;
    assert_eq!(items(&created)[0]["data"]["title"], "Draft");
    let audit = fixture
        .atelier
        .audit_tail(&Principal::Owner, 5)
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.principal == "mcp:test-host" && e.target.starts_with("task:")),
        "{audit:?}"
    );
    let _ = session.client.cancel().await;
}

/// Refusals are JSON-RPC errors with their codes and the core's stable code in `data`, and
/// none of them changes the vault: no grant, an expired grant, bad arguments of every kind,
/// an unknown tool, a missing task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_json_rpc_errors_with_codes_and_change_nothing() {
    let fixture = Fixture::new(false);
    let session = connect(&fixture).await;
    let head = fixture.head();
    let denied = session.refused("tasks_create", json!({"title": "x"})).await;
    assert_eq!(denied.0, ErrorCode(-32001));
    assert_eq!(denied.1["code"], "DENIED");

    fixture.grant(Capability::TasksWrite, Some(1_000));
    let head = head + 1;
    assert_eq!(fixture.head(), head);
    fixture.clock.advance(1_000);
    let expired = session.refused("tasks_create", json!({"title": "x"})).await;
    assert_eq!(
        (expired.0, expired.1["code"].clone()),
        (ErrorCode(-32001), json!("DENIED"))
    );
    fixture.grant(Capability::TasksWrite, None);
    let head = head + 1;

    let invalid = ErrorCode::INVALID_PARAMS;
    for (tool, arguments) in [
        ("tasks_create", json!({})),
        ("tasks_create", json!({"title": 5})),
        ("tasks_create", json!({"title": "x", "colour": "red"})),
        ("tasks_create", json!({"title": "x", "priority": 101})),
        ("tasks_create", json!({"title": "x", "priority": -1})),
        ("tasks_create", json!({"title": ""})),
        ("tasks_create", json!({"title": "a\u{0}b"})),
        ("tasks_create", json!({"title": "x".repeat(100_000)})),
        (
            "tasks_create",
            json!({"title": "x", "subtasks": [{"title": "a", "after": [0]}]}),
        ),
        ("tasks_update", json!({"id": 1})),
        ("tasks_update", json!({"id": "one", "title": "y"})),
        ("tasks_update", json!({"id": 1, "action": "explode"})),
        ("tasks_list", json!({"states": ["sleeping"]})),
        ("tasks_list", json!({"cursor": "page-2"})),
        ("search", json!({"query": "x", "limit": 0})),
        ("search", json!({"query": "x", "mode": "psychic"})),
        ("read", json!({"reference": "canon:abc"})),
        ("read", json!({"reference": "planet:3"})),
        ("assets_list", json!({"state": "gold"})),
        ("read", json!({"reference": "run:-4x"})),
        ("thread_read", json!({"thread": 1, "after": -1})),
        ("tasks_run", json!({"root": 0})),
        ("thread_post", json!({"body": "x"})),
    ] {
        let (code, data) = session.refused(tool, arguments.clone()).await;
        assert_eq!(code, invalid, "{tool} {arguments}: {data}");
        assert_eq!(data["code"], "INVALID_INPUT", "{tool} {arguments}");
    }
    let missing = session
        .refused("read", json!({"reference": "task:999"}))
        .await;
    assert_eq!(
        (missing.0, missing.1["code"].clone()),
        (ErrorCode::RESOURCE_NOT_FOUND, json!("NOT_FOUND"))
    );
    let unknown = session.refused("format_disk", json!({})).await;
    assert_eq!(unknown.0, invalid);
    assert_eq!(fixture.head(), head, "a refused call changed the vault");
    let _ = session.client.cancel().await;
}

/// Every tool through the protocol, on the fixture novel: search and read with provenance,
/// tasks created with subtasks in one call, updated, listed page by page, the next ones, the
/// plays, a play run against the provider stub with progress, its run, banking, assets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_answers_with_labelled_bounded_results() {
    let fixture = Fixture::new(true);
    for capability in [
        Capability::TasksWrite,
        Capability::RunPlays,
        Capability::BankAssets,
    ] {
        fixture.grant(capability, None);
    }
    let mut session = connect(&fixture).await;

    let found = session
        .ok(
            "search",
            json!({"query": "lighthouse steps", "mode": "text", "limit": 3}),
        )
        .await;
    assert_eq!(found["vault_data"], true);
    assert!(
        found["notice"]
            .as_str()
            .expect("notice")
            .contains("not instructions")
    );
    let hits = items(&found);
    assert!(!hits.is_empty() && hits.len() <= 3);
    let source = hits[0]["source"].as_str().expect("source");
    assert!(source.starts_with("atelier://docs/novel/"), "{source}");
    // A read is audited under the host's principal, with what it asked.
    let audited = fixture
        .atelier
        .audit_tail(&Principal::Owner, 1)
        .expect("audit");
    assert_eq!(
        (
            audited[0].principal.as_str(),
            audited[0].action.as_str(),
            audited[0].target.as_str()
        ),
        ("mcp:test-host", "vault.read", "tool:search")
    );
    assert!(
        audited[0].summary.contains("lighthouse steps"),
        "{audited:?}"
    );

    let doc = session
        .ok(
            "read",
            json!({"reference": "document:novel:Places/Lighthouse.md"}),
        )
        .await;
    let passages = items(&doc);
    assert!(passages.iter().any(|p| {
        p["data"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("ninety-one steps"))
    }));
    assert!(
        passages[0]["source"]
            .as_str()
            .expect("source")
            .starts_with("atelier://docs/novel/Places/Lighthouse.md#L")
    );
    // An attachment reads as its media facts (an image has no passage).
    let image = session
        .ok("read", json!({"reference": "document:novel:map.png"}))
        .await;
    let facts = items(&image);
    assert_eq!(facts.len(), 1, "{image}");
    assert_eq!(facts[0]["source"], "atelier://docs/novel/map.png");
    assert_eq!(facts[0]["data"]["document"]["kind"], "image");
    assert_eq!(
        facts[0]["data"]["media"],
        json!({"media_type": "image/png", "width": 1, "height": 1, "duration_ms": null, "pages": null})
    );

    let created = session
        .ok(
            "tasks_create",
            json!({"title": "Chapter 12", "subtasks": [
                {"title": "outline"}, {"title": "draft", "after": [0]}, {"title": "edit", "after": [1]}
            ]}),
        )
        .await;
    let ids: Vec<i64> = items(&created)
        .iter()
        .map(|t| t["data"]["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 4);
    let task = session
        .ok("read", json!({"reference": format!("task:{}", ids[2])}))
        .await;
    assert_eq!(items(&task)[0]["data"]["depends_on"], json!([ids[1]]));
    let plan = session
        .ok("read", json!({"reference": format!("plan:{}", ids[0])}))
        .await;
    assert_eq!(
        items(&plan)[0]["data"]["critical_path"],
        json!([ids[1], ids[2], ids[3]]),
        "outline, draft and edit in a chain are the whole critical path"
    );

    let updated = session
        .ok(
            "tasks_update",
            json!({"id": ids[1], "title": "outline it", "action": "activate"}),
        )
        .await;
    assert_eq!(items(&updated)[0]["data"]["title"], "outline it");
    assert_eq!(items(&updated)[0]["data"]["state"], "active");
    let conflict = session
        .refused(
            "tasks_update",
            json!({"id": ids[3], "title": "kept?", "action": "complete"}),
        )
        .await;
    assert_eq!(conflict.1["code"], "INVALID_TRANSITION", "{conflict:?}");
    let untouched = fixture
        .atelier
        .task_show(&Principal::Owner, ids[3])
        .expect("show");
    assert_eq!(
        untouched.task.title, "edit",
        "a refused move changes no field"
    );

    for n in 0..30 {
        session
            .ok("tasks_create", json!({"title": format!("task {n}")}))
            .await;
    }
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut arguments = json!({});
        if let Some(c) = &cursor {
            arguments["cursor"] = json!(c);
        }
        let page = session.ok("tasks_list", arguments).await;
        seen += items(&page).len();
        assert_eq!(page["total"], 34);
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 34);
    let next = session.ok("tasks_list", json!({"ready": true})).await;
    assert!(items(&next).iter().any(|t| t["data"]["id"] == ids[1]));

    let plays = session.ok("plays_list", json!({})).await;
    assert!(
        items(&plays)
            .iter()
            .any(|p| p["data"]["name"] == "scene_outline")
    );

    // A run through the provider stub, with a progress token.
    let stub = Stub::start();
    fixture
        .atelier
        .provider_add(
            &Principal::Owner,
            atelier_core::api::ProviderAdd {
                name: "stub".into(),
                format: atelier_core::providers::WireFormat::OpenAi,
                base_url: stub.url("/v1"),
                key_ref: None,
            },
        )
        .expect("provider");
    let outline = json!({
        "play": "scene_outline",
        "params": {"scene": "the lamp", "point_of_view": "Mara"},
        "model": "stub:scene",
    });
    let ran = session.ok("play_run", outline.clone()).await;
    let run = &items(&ran)[0]["data"];
    assert_eq!(run["status"], "passed", "{ran}");
    // rmcp's client puts its own progress token on every request; the server answers on it.
    let mut said = Vec::new();
    while let Ok(note) = session.progress.try_recv() {
        said.push(note.message.unwrap_or_default());
    }
    assert!(
        said.first().is_some_and(|m| m.ends_with("started")),
        "{said:?}"
    );
    assert!(said.iter().any(|m| m == "step outline passed"), "{said:?}");
    let run_id = run["id"].as_i64().expect("run id");
    let shown = session
        .ok("read", json!({"reference": format!("run:{run_id}")}))
        .await;
    assert_eq!(
        items(&shown)[0]["source"],
        format!("atelier://runs/{run_id}")
    );

    // The play's approval banked it already (`review`); banking it again is a conflict.
    let again = session.refused("asset_bank", json!({"run": run_id})).await;
    assert_eq!(again.1["code"], "ALREADY_EXISTS");
    // With the play overridden in the vault as `approval: manual`, the host banks by hand.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/plays/scene_outline.yaml"),
    )
    .expect("play");
    let plays_dir = fixture.vault.join("plays");
    std::fs::create_dir_all(&plays_dir).expect("plays dir");
    std::fs::write(
        plays_dir.join("scene_outline.yaml"),
        shipped.replace("approval: review", "approval: manual"),
    )
    .expect("override");
    let manual = session.ok("play_run", outline).await;
    let manual_run = items(&manual)[0]["data"]["id"].as_i64().expect("run id");
    let banked = session
        .ok(
            "asset_bank",
            json!({"run": manual_run, "title": "Lamp scene"}),
        )
        .await;
    let asset = items(&banked)[0]["data"]["id"].as_i64().expect("asset id");
    assert_eq!(items(&banked)[0]["data"]["title"], "Lamp scene");
    let assets = session.ok("assets_list", json!({})).await;
    assert!(items(&assets).iter().any(|a| a["data"]["id"] == asset));
    let read = session
        .ok("read", json!({"reference": format!("asset:{asset}")}))
        .await;
    assert!(
        items(&read)[0]["data"]["text"]
            .as_str()
            .expect("text")
            .contains("## Beats")
    );
    let _ = session.client.cancel().await;
}

/// The stand-in for remote providers (`tests/providers/stub.py`), answering model `scene`
/// with a scene outline that passes `scene_outline`'s gates.
struct Stub {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Stub {
    fn start() -> Stub {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tempdir");
        let replies = dir.path().join("replies.json");
        std::fs::write(
            &replies,
            json!({"scene": ["## Goal\nReach the lamp.\n\n## Conflict\nThe storm.\n\n## Beats\n1. Climb.\n2. Light.\n\n## Outcome\nThe ship turns."]}).to_string(),
        )
        .expect("replies");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/providers/stub.py");
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .arg("--replies")
            .arg(&replies)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the provider stub");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("port line");
        let port = first
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .expect("`port N`");
        Stub {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole tool list (names, descriptions, schemas) against `tests/tools.golden.json`, so a
/// description or schema never changes silently. `ATELIER_UPDATE_GOLDEN=1` rewrites it.
#[test]
fn tools_list_matches_its_golden_file() {
    let fixture = Fixture::new(false);
    let tools = VaultServer::new(Arc::clone(&fixture.atelier)).all_tools();
    assert!(
        tools.len() <= 12,
        "at most twelve tools, not {}",
        tools.len()
    );
    let listed: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "annotations": t.annotations,
                "icons": t.icons,
                "inputSchema": *t.input_schema,
                "outputSchema": t.output_schema.as_deref(),
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&listed).expect("json") + "\n";
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools.golden.json");
    if std::env::var_os("ATELIER_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).expect("write golden");
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        expected == text,
        "tools/list changed; review it and run with ATELIER_UPDATE_GOLDEN=1:\n{text}"
    );
}

/// Every tool carries a title and all four behaviour hints, so a host can tell what only reads
/// from what writes or reaches past the vault: exactly the tools that need no more than reading
/// say `readOnlyHint`, and the two that call the user's model providers say `openWorldHint`.
/// Each has an inline icon, and the `outputSchema` of the answer every tool gives.
#[test]
fn every_tool_says_what_it_does_to_the_vault() {
    let fixture = Fixture::new(false);
    let tools = VaultServer::new(Arc::clone(&fixture.atelier)).all_tools();
    for tool in &tools {
        let hints = tool
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no annotations", tool.name));
        assert!(
            hints.title.as_deref().is_some_and(|t| !t.is_empty()),
            "{}",
            tool.name
        );
        let read_only = hints
            .read_only_hint
            .unwrap_or_else(|| panic!("{}", tool.name));
        assert!(hints.destructive_hint.is_some(), "{}", tool.name);
        assert!(hints.idempotent_hint.is_some(), "{}", tool.name);
        let open_world = hints
            .open_world_hint
            .unwrap_or_else(|| panic!("{}", tool.name));
        let need = atelier_mcp::needs::NEEDS
            .iter()
            .find(|(name, _)| *name == tool.name.as_ref())
            .map(|(_, need)| *need)
            .unwrap_or_else(|| panic!("{} has no need", tool.name));
        assert_eq!(
            read_only,
            matches!(need, Capability::VaultRead | Capability::FileRead),
            "{}",
            tool.name
        );
        assert_eq!(open_world, need == Capability::RunPlays, "{}", tool.name);
        let icons = tool.icons.as_deref().unwrap_or_default();
        assert!(
            icons.len() == 1 && icons[0].src.starts_with("data:image/svg+xml;base64,"),
            "{} has no inline icon",
            tool.name
        );
        assert_eq!(
            tool.output_schema.as_deref(),
            Some(&*atelier_mcp::bounded::output_schema()),
            "{}",
            tool.name
        );
    }
}

/// Every icon is a drawing of its own, and none is the same as another tool's.
#[test]
fn every_tool_has_an_icon_of_its_own() {
    let fixture = Fixture::new(false);
    let tools = VaultServer::new(Arc::clone(&fixture.atelier)).all_tools();
    let sources: std::collections::BTreeSet<&str> = tools
        .iter()
        .filter_map(|t| t.icons.as_deref()?.first().map(|i| i.src.as_str()))
        .collect();
    assert_eq!(sources.len(), tools.len());
}

/// A tool whose arguments are a core request type publishes exactly the schema derived from
/// that type (its `schemars` derive in `atelier-core`), so the two cannot drift apart.
#[test]
fn tool_schemas_are_the_ones_derived_from_core_types() {
    let fixture = Fixture::new(false);
    let tools = VaultServer::new(Arc::clone(&fixture.atelier)).all_tools();
    let derived = [(
        "tasks_create",
        rmcp::handler::server::common::schema_for_input::<atelier_core::api::NewTask>()
            .expect("an object schema"),
    )];
    for (name, schema) in derived {
        let tool = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tool {name}"));
        assert_eq!(*tool.input_schema, *schema, "{name}");
        let properties = schema["properties"].as_object().expect("properties");
        assert!(
            properties.contains_key("subtasks"),
            "{name}: {properties:?}"
        );
    }
}

/// The text of one resource, or the JSON-RPC error reading it.
async fn read(session: &Session, uri: &str) -> Result<(String, Option<String>), ErrorCode> {
    match session
        .client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
    {
        Ok(result) => match result.contents.into_iter().next() {
            Some(ResourceContents::TextResourceContents {
                text, mime_type, ..
            }) => Ok((text, mime_type)),
            other => panic!("{uri}: {other:?}"),
        },
        Err(ServiceError::McpError(e)) => Err(e.code),
        Err(other) => panic!("{uri}: {other}"),
    }
}

/// Resources: the five templates, a listing that pages, every kind read with its MIME type,
/// refusals for bad and missing URIs, and a subscription that hears of a change to its task
/// (and of a re-ingest of its document) but not of other changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_are_listed_read_and_watched() {
    let fixture = Fixture::new(true);
    let owner = Principal::Owner;
    let task = fixture
        .atelier
        .task_create(
            &owner,
            atelier_core::api::NewTask {
                title: "Chapter 12".into(),
                ..Default::default()
            },
        )
        .expect("task");
    let canon = fixture
        .atelier
        .canon_create(
            &owner,
            atelier_core::api::NewCanon {
                title: "Mara".into(),
                body: "Mara keeps the lighthouse.".into(),
                tags: vec!["characters".into()],
                tier: atelier_core::catalog::Tier::Canon,
            },
        )
        .expect("canon");
    let mut session = connect(&fixture).await;

    let templates = session
        .client
        .list_all_resource_templates()
        .await
        .expect("templates");
    let mut uris: Vec<String> = templates.iter().map(|t| t.uri_template.clone()).collect();
    uris.sort();
    assert_eq!(
        uris,
        [
            "atelier://canon/{id}",
            "atelier://docs/{project}/{path}",
            "atelier://roles/{name}",
            "atelier://shapes/{id}",
            "atelier://tasks/{id}",
            "atelier://threads/{id}",
        ]
    );
    let head_before_list = fixture.head();
    let listed = session
        .client
        .list_all_resources()
        .await
        .expect("resources");
    // The list names tasks and canon by title: it is a read, audited under the host.
    let listing = fixture
        .atelier
        .audit_tail(&Principal::Owner, 1)
        .expect("tail");
    assert!(
        fixture.head() > head_before_list,
        "resources/list was not audited"
    );
    assert_eq!(listing[0].principal, "mcp:test-host");
    assert!(
        listing[0].summary.starts_with("resources/list"),
        "{listing:?}"
    );
    let listed: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    for uri in [
        "atelier://roles/writer".to_owned(),
        format!("atelier://tasks/{}", task.id),
        format!("atelier://canon/{}", canon.id),
    ] {
        assert!(listed.contains(&uri.as_str()), "{uri} not in {listed:?}");
    }

    let (text, mime) = read(&session, &format!("atelier://canon/{}", canon.id))
        .await
        .expect("canon");
    assert_eq!(mime.as_deref(), Some("text/markdown"));
    assert!(text.starts_with("# Mara") && text.contains("keeps the lighthouse"));
    let (text, _) = read(&session, "atelier://docs/novel/Places/Lighthouse.md#L1-L3")
        .await
        .expect("doc");
    assert!(text.contains("ninety-one steps"), "{text}");
    let (text, mime) = read(&session, "atelier://roles/writer")
        .await
        .expect("role");
    assert_eq!(mime.as_deref(), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json")["name"],
        "writer"
    );
    let (text, _) = read(&session, &format!("atelier://tasks/{}", task.id))
        .await
        .expect("task");
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json")["title"],
        "Chapter 12"
    );
    let shapes = fixture.atelier.shape_list(&owner).expect("shapes");
    if let Some(shape) = shapes.first() {
        read(&session, &format!("atelier://shapes/{}", shape.name))
            .await
            .expect("shape");
    }
    for bad in [
        "file:///etc/passwd",
        "atelier://canon/x",
        "atelier://planets/1",
    ] {
        assert_eq!(
            read(&session, bad).await,
            Err(ErrorCode::INVALID_PARAMS),
            "{bad}"
        );
    }
    assert_eq!(
        read(&session, "atelier://tasks/999").await,
        Err(ErrorCode::RESOURCE_NOT_FOUND)
    );
    assert_eq!(
        read(&session, "atelier://docs/novel/nowhere.md").await,
        Err(ErrorCode::RESOURCE_NOT_FOUND)
    );

    let task_uri = format!("atelier://tasks/{}", task.id);
    // `resources/subscribe` is what hosts on protocol 2025-11-25 send.
    #[allow(deprecated)]
    {
        for uri in [
            task_uri.as_str(),
            "atelier://docs/novel/Places/Lighthouse.md",
        ] {
            session
                .client
                .subscribe(SubscribeRequestParams::new(uri))
                .await
                .expect("subscribe");
        }
        assert!(
            session
                .client
                .subscribe(SubscribeRequestParams::new("atelier://tasks/999"))
                .await
                .is_err(),
            "a subscription to nothing is refused"
        );
    }
    // An unrelated change first: nothing is said about it.
    fixture
        .atelier
        .task_create(
            &owner,
            atelier_core::api::NewTask {
                title: "elsewhere".into(),
                ..Default::default()
            },
        )
        .expect("task");
    fixture
        .atelier
        .task_edit(
            &owner,
            atelier_core::api::TaskEdit {
                id: task.id,
                title: Some("Chapter 12, revised".into()),
                ..Default::default()
            },
        )
        .expect("edit");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), session.updated.recv())
        .await
        .expect("resources/updated")
        .expect("open");
    assert_eq!(heard, task_uri);
    let root = fixture._dir.path().join("novel/Places/Lighthouse.md");
    let text = std::fs::read_to_string(&root).expect("read");
    std::fs::write(&root, text + "\nA new line about the lamp.\n").expect("write");
    fixture
        .atelier
        .ingest(&owner, "novel", &mut |_| {})
        .expect("ingest");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), session.updated.recv())
        .await
        .expect("resources/updated")
        .expect("open");
    assert_eq!(heard, "atelier://docs/novel/Places/Lighthouse.md");
    assert!(session.updated.try_recv().is_err(), "nothing else was said");
    let _ = session.client.cancel().await;
}

/// Prompts: none until the host may run plays (then `prompts/list_changed`); each play is a
/// prompt with its parameters as arguments; getting one answers the assembled ASSET messages;
/// a missing argument, an unknown argument or play is -32602.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plays_are_prompts_that_assemble_their_messages() {
    let fixture = Fixture::new(false);
    let mut session = connect(&fixture).await;
    let prompts = session.client.list_all_prompts().await.expect("prompts");
    assert!(prompts.is_empty(), "{prompts:?}");
    fixture.grant(Capability::RunPlays, None);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        session.prompts_changed.recv(),
    )
    .await
    .expect("prompts/list_changed")
    .expect("open");
    let prompts = session.client.list_all_prompts().await.expect("prompts");
    let outline = prompts
        .iter()
        .find(|p| p.name == "scene_outline")
        .expect("scene_outline is a prompt");
    let arguments: Vec<(String, Option<bool>)> = outline
        .arguments
        .iter()
        .flatten()
        .map(|a| (a.name.clone(), a.required))
        .collect();
    assert!(
        arguments.contains(&("scene".to_owned(), Some(true))),
        "{arguments:?}"
    );

    let get = |arguments: Value| {
        let Value::Object(arguments) = arguments else {
            panic!("object")
        };
        let mut params = GetPromptRequestParams::new("scene_outline");
        params.arguments = Some(arguments);
        params
    };
    let got = session
        .client
        .get_prompt(get(
            json!({"scene": "Mara keeps the light", "point_of_view": "Mara"}),
        ))
        .await
        .expect("prompts/get");
    let text = serde_json::to_string(&got.messages).expect("json");
    for part in [
        "writer",
        "## Task",
        "Mara keeps the light",
        "## Expectations",
    ] {
        assert!(text.contains(part), "{part} missing: {text}");
    }
    for arguments in [
        json!({"point_of_view": "Mara"}),
        json!({"scene": "x", "point_of_view": "y", "colour": "red"}),
    ] {
        match session.client.get_prompt(get(arguments.clone())).await {
            Err(ServiceError::McpError(e)) => {
                assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{arguments}: {e:?}");
            }
            other => panic!("{arguments}: {other:?}"),
        }
    }
    match session
        .client
        .get_prompt(GetPromptRequestParams::new("no_such_play"))
        .await
    {
        Err(ServiceError::McpError(e)) => assert_eq!(e.code, ErrorCode::INVALID_PARAMS),
        other => panic!("{other:?}"),
    }
    let _ = session.client.cancel().await;
}
