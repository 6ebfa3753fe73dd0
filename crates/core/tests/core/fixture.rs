//! A temp-vault fixture: a real vault directory on a manual clock, plus direct SQLite access
//! for tampering and for proving that refused commands changed nothing.

use atelier_core::access::auth::Principal;
use atelier_core::api::{NewTask, ProviderAdd, RunRequest, TaskTransition};
use atelier_core::clock::{Clock, ManualClock};
use atelier_core::providers::WireFormat;
use atelier_core::tasks::{TaskAction, TaskState};
use atelier_core::{Atelier, Error, OpenOptions};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

pub struct TempVault {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
}

impl TempVault {
    /// A freshly initialised vault.
    pub fn new() -> TempVault {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(T0));
        Atelier::init(&dir.path().join("vault"), clock.as_ref(), false).expect("init");
        TempVault { dir, clock }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("vault")
    }

    pub fn options(&self) -> OpenOptions {
        OpenOptions::new(self.path()).with_clock(self.clock.clone() as Arc<dyn Clock>)
    }

    /// Opens the vault and checks that it is not sealed.
    pub fn open(&self) -> Atelier {
        let atelier = Atelier::open(self.options());
        assert_eq!(atelier.status().sealed, None, "the vault should open");
        atelier
    }

    /// A second SQLite connection to the vault's database.
    pub fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path().join("atelier.db")).expect("sqlite")
    }

    /// Everything a command could change, as text: every row of every table that holds vault
    /// state, the audit head and the outbox length.
    pub fn fingerprint(&self) -> String {
        dump(&self.path())
    }
}

pub fn dump(vault: &Path) -> String {
    let conn = rusqlite::Connection::open(vault.join("atelier.db")).expect("sqlite");
    let mut out = String::new();
    for table in [
        "tasks",
        "task_dependencies",
        "canon_blocks",
        "shapes",
        "grants",
        "audit_head",
        "audit_events",
        "outbox",
        "projects",
        "documents",
        "document_tags",
        "links",
        "chunks",
        "embeddings",
        "hook_rules",
        "vault_meta",
        "key_refs",
        "providers",
        "routes",
        "runs",
        "run_steps",
        "assets",
        "asset_versions",
        "asset_reviews",
        "asset_sources",
        "kill_switch",
        "jobs",
        "orchestrations",
        "threads",
        "thread_participants",
        "messages",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .expect("prepare");
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let mut line = Vec::new();
                for i in 0..columns {
                    let value: rusqlite::types::Value = row.get(i)?;
                    line.push(format!("{value:?}"));
                }
                Ok(line.join("|"))
            })
            .expect("query");
        out.push_str(table);
        out.push('\n');
        for row in rows {
            out.push_str(&row.expect("row"));
            out.push('\n');
        }
    }
    out
}

pub fn owner() -> Principal {
    Principal::Owner
}

/// Creates a task with a title and optional parent and dependencies.
pub fn task(atelier: &Atelier, title: &str, parent: Option<i64>, deps: &[i64]) -> i64 {
    atelier
        .task_create(
            &owner(),
            NewTask {
                title: title.to_owned(),
                parent,
                depends_on: deps.to_vec(),
                ..NewTask::default()
            },
        )
        .expect("create task")
        .id
}

/// Applies one state-machine action and returns the state it led to.
pub fn act(atelier: &Atelier, id: i64, action: TaskAction) -> Result<TaskState, Error> {
    atelier
        .task_transition(
            &owner(),
            TaskTransition {
                id,
                action,
                reason: None,
            },
        )
        .map(|t| t.state)
}

/// Runs `attempt`, expects the error code `code`, and checks that the vault is unchanged.
pub fn refused<T: std::fmt::Debug>(
    vault: &TempVault,
    code: &str,
    attempt: impl FnOnce() -> Result<T, Error>,
) -> Error {
    let before = vault.fingerprint();
    let err = attempt().expect_err(&format!("expected {code}"));
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(
        vault.fingerprint(),
        before,
        "a refused command changed the vault: {err}"
    );
    err
}

/// The committed fixture project of real Markdown (and its neighbour outside it).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies `from` into `to`, keeping symbolic links as links (never following them).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A vault with a fixture project copied beside it (as `work/NAME`; the `novel` project with
/// `work/outside` next to it so its escaping symlinks have a real target), caps of 64 KiB per
/// text file and [`ATTACHMENT_CAP`] per attachment, and the project added as NAME.
pub struct ProjectVault {
    // Dropped first: the vault is closed before its directory is removed.
    pub atelier: Atelier,
    pub vault: TempVault,
    /// The project's name, that of its fixture folder.
    pub name: String,
}

/// The attachment size cap of [`ProjectVault`]s, in bytes.
pub const ATTACHMENT_CAP: u64 = 1 << 20;

impl ProjectVault {
    /// The `novel` fixture: Markdown, Fountain, Org, text, symlinks out, ignored folders.
    pub fn new() -> ProjectVault {
        ProjectVault::of("novel")
    }

    /// The fixture folder `fixture` (under `tests/fixtures`) as a project of that name.
    pub fn of(fixture: &str) -> ProjectVault {
        let vault = TempVault::new();
        let work = vault.dir.path().join("work");
        copy_tree(&fixtures().join(fixture), &work.join(fixture));
        copy_tree(&fixtures().join("outside"), &work.join("outside"));
        std::fs::write(
            vault.path().join("config.yaml"),
            format!(
                "task_depth_limit: 10\ningest_max_file_bytes: 65536\n\
                 ingest_max_attachment_bytes: {ATTACHMENT_CAP}\n"
            ),
        )
        .expect("config");
        let atelier = vault.open();
        atelier
            .project_add(
                &owner(),
                atelier_core::api::ProjectAdd {
                    path: work.join(fixture).display().to_string(),
                    name: Some(fixture.to_owned()),
                },
            )
            .expect("add project");
        ProjectVault {
            atelier,
            vault,
            name: fixture.to_owned(),
        }
    }

    /// The project folder.
    pub fn root(&self) -> PathBuf {
        self.vault.dir.path().join("work").join(&self.name)
    }

    pub fn ingest(&self) -> atelier_core::api::IngestReport {
        self.atelier
            .ingest(&owner(), &self.name, &mut |_| {})
            .expect("ingest")
    }
}

/// The stand-in for remote LLM providers (`tests/providers/stub.py`): a local HTTP server that
/// replays the documented wire formats of OpenAI, Anthropic and Gemini, streaming and errors.
pub struct StubProvider {
    child: std::process::Child,
    pub port: u16,
    pub log: PathBuf,
    pub replies: PathBuf,
    _dir: tempfile::TempDir,
}

impl StubProvider {
    pub fn start() -> StubProvider {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("requests.jsonl");
        let replies = dir.path().join("replies.json");
        std::fs::write(&replies, "{}").expect("replies");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/providers/stub.py");
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .arg("--log")
            .arg(&log)
            .arg("--replies")
            .arg(&replies)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the provider stub");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the stub prints its port");
        let port = first
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .expect("`port N`");
        StubProvider {
            child,
            port,
            log,
            replies,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The replies each model gives, in turn.
    pub fn set_replies(&self, replies: Value) {
        std::fs::write(&self.replies, replies.to_string()).expect("replies");
    }

    /// Every request the stub received.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for StubProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A keyless OpenAI-format provider named `stub` at the stub server.
pub fn add_stub(atelier: &Atelier, stub: &StubProvider) {
    atelier
        .provider_add(
            &owner(),
            ProviderAdd {
                name: "stub".to_owned(),
                format: WireFormat::OpenAi,
                base_url: stub.url("/v1"),
                key_ref: None,
            },
        )
        .expect("add the stub provider");
}

pub fn params(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

pub const GOOD_OUTLINE: &str = "## Goal\nMara reaches the lamp room.\n\n## Conflict\nThe storm cuts the power.\n\n## Beats\n1. She climbs.\n2. The glass breaks.\n3. She lights the oil lamp.\n\n## Outcome\nThe trawler turns from the rocks.";

pub fn outline_request(model: Option<&str>) -> RunRequest {
    RunRequest {
        play: "scene_outline".to_owned(),
        params: params(&[
            ("scene", "Mara keeps the light through the storm"),
            ("point_of_view", "Mara"),
        ]),
        model: model.map(str::to_owned),
        task: None,
        idempotency_key: None,
        adhoc: None,
    }
}

/// Creates a canon block as the owner and returns it.
pub fn canon(
    atelier: &Atelier,
    title: &str,
    body: &str,
    tags: &[&str],
    tier: atelier_core::catalog::Tier,
) -> atelier_core::catalog::CanonBlock {
    atelier
        .canon_create(
            &owner(),
            atelier_core::api::NewCanon {
                title: title.to_owned(),
                body: body.to_owned(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                tier,
            },
        )
        .expect("canon")
}
