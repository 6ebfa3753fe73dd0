//! The one typed command surface. Every front (CLI, desktop, MCP) calls these functions with a
//! principal; none holds logic of its own.
//!
//! Each mutating command runs as: authorize → change → outbox → audit, in one SQLite
//! transaction; then the graph projection catches up. Reads authorize `vault_read` first.

mod access;
mod assets;
mod catalog;
mod changes;
mod documents;
mod orchestrate;
mod plan;
mod projects;
mod providers;
mod runs;
mod switch;
mod tasks;
mod threads;
mod watching;
pub mod wire;

pub use access::{GrantAdd, GrantView, ReindexReport, roles_check};
pub use assets::{
    AssetDetail, AssetExport, AssetFilter, AssetLineage, AssetOrigin, AssetReview,
    AssetReviewRequest, AssetSource, AssetVersion, AssetView, BankRequest, Exported, LineageRun,
    Promotion,
};
pub use catalog::{CanonEdit, CanonFilter, NewCanon, NewShape, ShapeEdit};
pub use changes::Change;
pub use documents::{
    Backlink, DocumentSummary, DocumentText, DocumentView, LinkView, PassageText, RelatedDocument,
    RelatedReason, SearchRequest,
};
pub use orchestrate::{
    DeadLetter, Held, LEASE_MS, OrchestrateRequest, OrchestrationView, ReviewWait, TaskCounts,
    Wake, WorkEvent, Worked,
};
pub use plan::{PlanEdge, PlanNode, TaskPlan};
pub use projects::{
    HookAction, HookAdd, HookView, IngestProgress, IngestReport, IngestStage, IngestTimings,
    ProjectAdd, ProjectView, SkippedFiles,
};
pub use providers::{KeyView, ProviderAdd, ProviderCheck, ProviderView, Route};
pub use runs::{Attempt, RunEvent, RunPreview, RunRequest, RunView, StepPreview, StepView};
pub use switch::SwitchState;
pub use tasks::{
    NewSubtask, NewTask, TaskDependency, TaskDetail, TaskEdit, TaskMove, TaskTransition,
    TaskTreeNode,
};
pub use threads::{
    Participant, PostView, ThreadAck, ThreadCreate, ThreadPage, ThreadPost, ThreadRead, ThreadView,
};
pub use watching::{WatchOptions, WatchOutcome};

use crate::audit;
use crate::auth::{self, Capability, Grant, Principal, Request};
use crate::clock::{Clock, Millis};
use crate::config::{self, Config};
use crate::embed::Embedder;
use crate::error::{Error, Result, SealReason};
use crate::graph::Graph;
use crate::outbox;
use crate::roles::RoleSet;
use crate::store::{self, migrations::Migration};
use crate::vault::{self, VaultLock};
use crate::vectors::Vectors;
use rusqlite::{Connection, Transaction};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// How to open a vault.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The vault directory.
    pub vault: PathBuf,
    /// The clock every timestamp and expiry uses.
    pub clock: Arc<dyn Clock>,
    /// The migrations to hold the database to; the embedded ones outside tests.
    pub migrations: &'static [Migration],
    /// Where to look for the embedding model; `None` for the usual places
    /// ([`crate::embed::search_path`]).
    pub model_dirs: Option<Vec<PathBuf>>,
}

impl OpenOptions {
    /// The vault at `vault`, on the system clock, with the embedded migrations.
    pub fn new(vault: impl Into<PathBuf>) -> Self {
        OpenOptions {
            vault: vault.into(),
            clock: Arc::new(crate::clock::SystemClock),
            migrations: store::migrations::EMBEDDED,
            model_dirs: None,
        }
    }

    /// The same, looking for the embedding model only in `dir`.
    pub fn with_model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dirs = Some(vec![dir.into()]);
        self
    }

    /// The same, on `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// An opened (or sealed) vault: the handle every command goes through.
#[derive(Debug)]
pub struct Atelier {
    vault: PathBuf,
    clock: Arc<dyn Clock>,
    state: std::result::Result<OpenVault, SealReason>,
}

#[derive(Debug)]
struct OpenVault {
    db: Mutex<Connection>,
    graph: Mutex<Option<Projection>>,
    vectors: Mutex<Option<Vectors>>,
    embedder: Mutex<Option<Arc<Embedder>>>,
    /// The keychain after its round trip, or why that failed and when (asked again once
    /// [`providers::KEYCHAIN_RETRY_MS`] have passed: a keyring unlocked meanwhile is found).
    keychain: Mutex<providers::KeychainProbe>,
    /// The audit seq anchored in the keychain, [`ANCHOR_UNCHECKED`] before this process
    /// looked, or [`ANCHOR_KEPT`] when the anchor there is evidence against the log.
    anchored: Mutex<i64>,
    /// The kill switch's token: every run and provider call holds a child of it.
    kill: Mutex<crate::providers::transport::Cancel>,
    /// Runs going in this process, by id, for `run_cancel`.
    runs: Mutex<std::collections::HashMap<i64, crate::providers::transport::Cancel>>,
    /// Calls in flight per provider, within `orchestration.provider_limits`.
    slots: crate::providers::slots::ProviderSlots,
    /// Wakes this process's workers when jobs were enqueued.
    wake: Wake,
    model_dirs: Vec<PathBuf>,
    roles: RoleSet,
    config: Config,
    schema_version: i64,
    _lock: VaultLock,
}

/// What `init` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct InitReport {
    /// The vault directory.
    pub vault: String,
    /// Whether a new vault was created (false when repairing).
    pub created: bool,
    /// Files and directories written.
    pub written: Vec<String>,
}

/// The state of the vault, answered even when sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Status {
    /// The vault directory.
    pub vault: String,
    /// `open` or `sealed`.
    pub state: String,
    /// Why it is sealed.
    pub sealed: Option<SealReason>,
    /// The seal's own words: what is wrong and what to do.
    pub sealed_message: Option<String>,
    /// The schema version.
    pub schema_version: Option<i64>,
    /// How much is in it.
    pub counts: Option<Counts>,
    /// The graph projection.
    pub graph: Option<GraphStatus>,
    /// The vector index.
    pub vectors: Option<VectorStatus>,
    /// The kill switch, while it is on.
    pub kill_switch: Option<SwitchState>,
    /// The OS keychain: `not checked yet`, `available`, or why it is not.
    pub keychain: Option<String>,
    /// The scheduler's queue and what is running or waiting.
    pub work: Option<WorkStatus>,
}

/// The scheduler at a glance, for `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WorkStatus {
    /// Jobs by where they are (the dead letters included).
    pub queue: crate::jobs::QueueDepth,
    /// Orchestrations running.
    pub orchestrations: i64,
    /// Tasks in progress.
    pub running_tasks: i64,
    /// Tasks blocked on a failed dependency.
    pub blocked_tasks: i64,
    /// Tasks waiting for a person to approve their output.
    pub waiting_for_approval: i64,
    /// Runs going now.
    pub runs_in_flight: i64,
}

impl Status {
    /// The status of a vault that cannot serve, for `reason`.
    pub fn sealed(vault: String, reason: SealReason) -> Status {
        Status {
            vault,
            state: "sealed".to_owned(),
            sealed_message: Some(reason.to_string()),
            sealed: Some(reason),
            schema_version: None,
            counts: None,
            graph: None,
            vectors: None,
            kill_switch: None,
            keychain: None,
            work: None,
        }
    }
}

/// How far the vector index is behind SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VectorStatus {
    /// Last outbox change the index reflects.
    pub applied_through: Option<i64>,
    /// Points in the index.
    pub points: Option<i64>,
    /// Distinct passage texts still waiting for a vector.
    pub unembedded: i64,
    /// A problem, if the index could not be read.
    pub problem: Option<String>,
}

/// Row counts for `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Counts {
    /// Tasks.
    pub tasks: i64,
    /// Tasks ready to start.
    pub ready: i64,
    /// Canon blocks.
    pub canon_blocks: i64,
    /// Shapes.
    pub shapes: i64,
    /// Grants not revoked.
    pub grants: i64,
    /// Audit events.
    pub audit_events: i64,
    /// Roles loaded.
    pub roles: usize,
    /// Projects.
    pub projects: i64,
    /// Documents.
    pub documents: i64,
    /// Passages.
    pub chunks: i64,
}

/// How far the graph is behind SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GraphStatus {
    /// Last outbox change the graph reflects.
    pub applied_through: Option<i64>,
    /// Last outbox change written.
    pub outbox_head: i64,
    /// A problem, if the graph could not be read.
    pub problem: Option<String>,
}

impl Atelier {
    /// Creates a vault in `dir` (which may exist but must not hold a vault), or with `repair`
    /// restores missing configuration and directories of an existing one without touching data.
    pub fn init(dir: &Path, clock: &dyn Clock, repair: bool) -> Result<InitReport> {
        let existed = vault::exists(dir);
        if existed && !repair {
            return Err(Error::AlreadyInitialized);
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the vault directory", &e))?;
        let _lock = VaultLock::acquire(dir).map_err(Error::from)?;
        let mut written = Vec::new();
        for sub in vault::DIRECTORIES {
            let path = dir.join(sub);
            if !path.is_dir() {
                std::fs::create_dir_all(&path)
                    .map_err(|e| Error::io("cannot create a directory", &e))?;
                written.push(format!("{sub}/"));
            }
        }
        let config_path = dir.join(config::FILE_NAME);
        if !config_path.exists() {
            std::fs::write(&config_path, Config::default_text())
                .map_err(|e| Error::io("cannot write config.yaml", &e))?;
            written.push(config::FILE_NAME.to_owned());
        }
        let readme = dir.join(vault::ROLES_DIR).join("README.md");
        if !readme.exists() {
            std::fs::write(&readme, ROLES_README)
                .map_err(|e| Error::io("cannot write roles/README.md", &e))?;
            written.push("roles/README.md".to_owned());
        }
        let mut conn = store::open(
            &dir.join(vault::DATABASE),
            store::migrations::EMBEDDED,
            clock.now(),
        )
        .map_err(Error::from)?;
        if !existed {
            written.push(vault::DATABASE.to_owned());
            let tx = conn.transaction()?;
            audit::append(
                &tx,
                &Principal::Owner,
                &audit::Entry {
                    action: "vault.init",
                    target: "vault".to_owned(),
                    summary: "created the vault".to_owned(),
                },
                clock.now(),
            )?;
            tx.commit()?;
        }
        drop(conn);
        for path in vault::make_private(dir) {
            tracing::warn!(path = %path.display(), "could not make a vault file owner-only");
        }
        Ok(InitReport {
            vault: dir.display().to_string(),
            created: !existed,
            written,
        })
    }

    /// Opens the vault. Never fails: a vault that cannot open is returned sealed, with the
    /// reason, and answers every command but [`Atelier::status`] with it.
    pub fn open(options: OpenOptions) -> Atelier {
        let state = Self::boot(&options);
        let atelier = Atelier {
            vault: options.vault,
            clock: options.clock,
            state,
        };
        if let Ok(open) = &atelier.state {
            // A projection that cannot catch up is rebuilt on first use; boot does not fail
            // on it.
            let _ = atelier.graph_in_sync(open);
            let _ = atelier.vectors_in_sync(open);
            // The vault is its owner's alone; a vault made before that rule, or a file dropped
            // in by another program, is repaired here, after the projections made their files.
            // (Files made later in this session sit in the owner-only directory.)
            for path in vault::make_private(&atelier.vault) {
                tracing::warn!(path = %path.display(), "could not make a vault file owner-only");
            }
        }
        atelier
    }

    fn boot(options: &OpenOptions) -> std::result::Result<OpenVault, SealReason> {
        let dir = &options.vault;
        if !vault::exists(dir) {
            return Err(SealReason::NotInitialized);
        }
        let lock = VaultLock::acquire(dir)?;
        let mut conn = store::open(
            &dir.join(vault::DATABASE),
            options.migrations,
            options.clock.now(),
        )?;
        let config = Config::load(dir).map_err(|message| SealReason::ConfigInvalid { message })?;
        let roles = RoleSet::load(Some(&dir.join(vault::ROLES_DIR))).map_err(|problems| {
            let first = problems.into_iter().next();
            SealReason::RoleInvalid {
                file: first
                    .as_ref()
                    .map_or_else(String::new, |p| format!("roles/{}", p.file)),
                line: first.as_ref().map_or(0, |p| p.line),
                message: first.map_or_else(|| "invalid".to_owned(), |p| p.message),
            }
        })?;
        let schema_version = options.migrations.last().map_or(0, |m| m.version);
        // A run `running` in the database is not running in this new process: its owner died.
        runs::mark_interrupted(&mut conn, options.clock.now()).map_err(|e| {
            SealReason::StorageUnavailable {
                message: e.to_string(),
            }
        })?;
        // Likewise every job still leased: its worker was in the process that died.
        crate::jobs::reclaim_orphans(&conn, options.clock.now()).map_err(|e| {
            SealReason::StorageUnavailable {
                message: Error::from(e).to_string(),
            }
        })?;
        let kill = crate::providers::transport::Cancel::default();
        if matches!(switch::switch_state(&conn), Ok(Some(_))) {
            kill.cancel();
        }
        let model_dirs = options
            .model_dirs
            .clone()
            .unwrap_or_else(|| crate::embed::search_path(dir, &vault::process_env));
        Ok(OpenVault {
            db: Mutex::new(conn),
            graph: Mutex::new(None),
            vectors: Mutex::new(None),
            embedder: Mutex::new(None),
            keychain: Mutex::new(providers::KeychainProbe::default()),
            anchored: Mutex::new(ANCHOR_UNCHECKED),
            kill: Mutex::new(kill),
            runs: Mutex::new(std::collections::HashMap::new()),
            slots: crate::providers::slots::ProviderSlots::new(
                config.orchestration.provider_limits.clone(),
            ),
            wake: Wake::default(),
            model_dirs,
            roles,
            config,
            schema_version,
            _lock: lock,
        })
    }

    /// The vault directory.
    pub fn vault_dir(&self) -> &Path {
        &self.vault
    }

    /// The current time on the injected clock.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The state of the vault and why; the one command a sealed vault answers.
    pub fn status(&self) -> Status {
        let vault = self.vault.display().to_string();
        let open = match &self.state {
            Err(reason) => return Status::sealed(vault, reason.clone()),
            Ok(open) => open,
        };
        let graph = self.graph_in_sync(open);
        let vectors = self.vectors_in_sync(open).and_then(|through| {
            let slot = lock(&open.vectors);
            let points = slot.as_ref().map(Vectors::count).transpose()?;
            Ok((through, points))
        });
        let db = lock(&open.db);
        let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(-1);
        let counts = Counts {
            tasks: count("SELECT COUNT(*) FROM tasks"),
            ready: crate::tasks::ready_ids(&db)
                .map_or(-1, |r| i64::try_from(r.len()).unwrap_or(-1)),
            canon_blocks: count("SELECT COUNT(*) FROM canon_blocks"),
            shapes: count("SELECT COUNT(*) FROM shapes"),
            grants: count("SELECT COUNT(*) FROM grants WHERE revoked_at IS NULL"),
            audit_events: count("SELECT COUNT(*) FROM audit_events"),
            roles: open.roles.len(),
            projects: count("SELECT COUNT(*) FROM projects"),
            documents: count("SELECT COUNT(*) FROM documents"),
            chunks: count("SELECT COUNT(*) FROM chunks"),
        };
        let unembedded = crate::docs::store::unembedded_count(&db, crate::embed::MODEL_NAME)
            .map_or(-1, |n| i64::try_from(n).unwrap_or(-1));
        let outbox_head = outbox::last_id(&db).unwrap_or(-1);
        let kill_switch = switch::switch_state(&db).ok().flatten();
        let work = WorkStatus {
            queue: crate::jobs::depth(&db, self.clock.now(), None).unwrap_or_default(),
            orchestrations: count("SELECT COUNT(*) FROM orchestrations WHERE state = 'running'"),
            running_tasks: count("SELECT COUNT(*) FROM tasks WHERE state = 'in_progress'"),
            blocked_tasks: count(
                "SELECT COUNT(*) FROM tasks WHERE state = 'blocked' AND waiting_kind = 'dependency'",
            ),
            waiting_for_approval: count(
                "SELECT COUNT(*) FROM tasks WHERE state = 'blocked' AND waiting_kind = 'approval'",
            ),
            runs_in_flight: count("SELECT COUNT(*) FROM runs WHERE status = 'running'"),
        };
        drop(db);
        let keychain = lock(&open.keychain).describe();
        let graph = match graph {
            Ok(through) => GraphStatus {
                applied_through: Some(through),
                outbox_head,
                problem: None,
            },
            Err(e) => GraphStatus {
                applied_through: None,
                outbox_head,
                problem: Some(e.to_string()),
            },
        };
        let vectors = match vectors {
            Ok((through, points)) => VectorStatus {
                applied_through: Some(through),
                points: points.map(|p| i64::try_from(p).unwrap_or(-1)),
                unembedded,
                problem: None,
            },
            Err(e) => VectorStatus {
                applied_through: None,
                points: None,
                unembedded,
                problem: Some(e.to_string()),
            },
        };
        Status {
            vault,
            state: "open".to_owned(),
            sealed: None,
            sealed_message: None,
            schema_version: Some(open.schema_version),
            counts: Some(counts),
            graph: Some(graph),
            vectors: Some(vectors),
            kill_switch,
            keychain: Some(keychain),
            work: Some(work),
        }
    }

    fn open_vault(&self) -> Result<&OpenVault> {
        self.state
            .as_ref()
            .map_err(|reason| Error::from(reason.clone()))
    }

    /// Runs a mutating command: authorize, `change`, audit, all in one transaction; then lets
    /// the graph catch up.
    fn write<T>(
        &self,
        who: &Principal,
        need: Capability,
        change: impl FnOnce(&Ctx<'_, '_>) -> Result<(T, audit::Entry)>,
    ) -> Result<T> {
        let open = self.open_vault()?;
        let now = self.clock.now();
        let out = {
            let mut db = lock(&open.db);
            let tx = db.transaction()?;
            authorize_with(&tx, open, who, need, now)?;
            let ctx = Ctx {
                tx: &tx,
                now,
                roles: &open.roles,
                config: &open.config,
            };
            let (out, entry) = change(&ctx)?;
            audit::append(&tx, who, &entry, now)?;
            tx.commit()?;
            out
        };
        self.anchor_audit(open);
        // The change may have made scheduled work ready.
        open.wake.notify();
        // The change is committed; a projection failure here is repaired on the next read.
        let _ = self.graph_in_sync(open);
        let _ = self.vectors_in_sync(open);
        Ok(out)
    }

    /// Audits an effect outside SQLite (a file written) that the caller was authorized for
    /// before it happened, in a transaction of its own.
    fn record(&self, who: &Principal, entry: &audit::Entry) -> Result<()> {
        let open = self.open_vault()?;
        let now = self.clock.now();
        {
            let mut db = lock(&open.db);
            let tx = db.transaction()?;
            audit::append(&tx, who, entry, now)?;
            tx.commit()?;
        }
        self.anchor_audit(open);
        Ok(())
    }

    /// Writes the audit head to the OS keychain when it moved (see [`audit`]); best effort,
    /// after the commit: a keychain that cannot be used leaves the log unanchored, never a
    /// change undone.
    fn anchor_audit(&self, open: &OpenVault) {
        let Ok(head) = audit::head_anchor(&lock(&open.db)) else {
            return;
        };
        let mut anchored = lock(&open.anchored);
        if *anchored == ANCHOR_UNCHECKED {
            // An anchor the log does not explain is the evidence of a rollback or a rewrite:
            // it is kept for `audit verify`, never overwritten by a newer head.
            *anchored = match self.audit_anchor(open) {
                None => 0,
                Some(anchor) => {
                    let intact = audit::Verification {
                        events: head.seq,
                        first_bad_seq: None,
                        problem: None,
                    };
                    let db = lock(&open.db);
                    match audit::check_anchor(&db, intact, &anchor) {
                        Ok(v) if v.is_intact() => anchor.seq,
                        _ => {
                            tracing::warn!(
                                anchored = anchor.seq,
                                head = head.seq,
                                "the audit log does not match its anchor in the keychain; the anchor is kept"
                            );
                            ANCHOR_KEPT
                        }
                    }
                }
            };
        }
        if *anchored == ANCHOR_KEPT || head.seq <= *anchored {
            return;
        }
        if let Ok(keychain) = self.keychain(open)
            && keychain
                .set(AUDIT_ANCHOR, &crate::secrets::Secret::new(head.encode()))
                .is_ok()
        {
            *anchored = head.seq;
        }
    }

    /// The audit head anchored in the OS keychain, if there is a keychain and an anchor.
    fn audit_anchor(&self, open: &OpenVault) -> Option<audit::Anchor> {
        let secret = self.keychain(open).ok()?.get(AUDIT_ANCHOR).ok()?;
        audit::Anchor::parse(secret.expose())
    }

    /// Checks `who` holds `need`, for commands that act outside SQLite before writing.
    fn authorize(&self, open: &OpenVault, who: &Principal, need: Capability) -> Result<()> {
        let db = lock(&open.db);
        authorize_with(&db, open, who, need, self.clock.now())
    }

    /// Runs a read after authorizing `need`.
    fn read<T>(
        &self,
        who: &Principal,
        need: Capability,
        query: impl FnOnce(&Connection, &OpenVault) -> Result<T>,
    ) -> Result<T> {
        let open = self.open_vault()?;
        let db = lock(&open.db);
        authorize_with(&db, open, who, need, self.clock.now())?;
        query(&db, open)
    }

    /// Brings the graph up to the outbox, opening it if needed; a graph that will not open or
    /// apply is rebuilt from SQLite. Returns the outbox id it now reflects.
    fn graph_in_sync(&self, open: &OpenVault) -> Result<i64> {
        let db = lock(&open.db);
        let mut slot = lock(&open.graph);
        self.sync(&db, &mut slot).map(|p| p.through)
    }

    /// The body of [`Atelier::graph_in_sync`], for callers already holding both locks.
    fn sync<'s>(
        &self,
        db: &Connection,
        slot: &'s mut Option<Projection>,
    ) -> Result<&'s Projection> {
        let dir = self.vault.join(vault::GRAPH_DIR);
        if slot.is_none() {
            // A graph whose mark the outbox cannot explain (another vault's, one ahead of the
            // outbox, or one whose last row was replaced, as after a restored backup) is not
            // caught up from there: it is rebuilt.
            *slot = Projection::open(&dir)
                .ok()
                .filter(|p| p.mark.explained_by(db).unwrap_or(false));
        }
        let caught_up = match slot.as_mut() {
            Some(projection) => projection.catch_up(db).is_ok(),
            None => false,
        };
        if !caught_up {
            // Never trust a projection that failed: rebuild it from the truth.
            *slot = None;
            *slot = Some(Projection::rebuild(db, &dir)?);
        }
        slot.as_ref().ok_or_else(|| Error::Graph {
            message: "the graph is not open".to_owned(),
        })
    }

    /// Brings the vector index up to the outbox, opening it if needed; an index that will not
    /// open or apply, or whose point count disagrees with SQLite when first opened, is rebuilt
    /// from SQLite. Returns the outbox id it now reflects.
    fn vectors_in_sync(&self, open: &OpenVault) -> Result<i64> {
        let db = lock(&open.db);
        let mut slot = lock(&open.vectors);
        self.sync_vectors(&db, &mut slot)
            .map(|v| v.applied_through())
    }

    /// The body of [`Atelier::vectors_in_sync`], for callers holding both locks.
    fn sync_vectors<'s>(
        &self,
        db: &Connection,
        slot: &'s mut Option<Vectors>,
    ) -> Result<&'s mut Vectors> {
        let dir = self.vault.join(vault::VECTORS_DIR);
        if slot.is_none() {
            *slot = Vectors::open(&dir).ok();
            // Freshly opened after a crash, a copy or a restore: trust it only if the outbox
            // explains its mark and it holds what SQLite says it should once caught up.
            if let Some(vectors) = slot.as_mut() {
                let agrees = vectors.mark().explained_by(db).unwrap_or(false)
                    && catch_up_vectors(db, vectors).is_ok()
                    && vectors.count().ok() == expected_points(db).ok();
                if !agrees {
                    *slot = None;
                }
            }
        }
        let caught_up = match slot.as_mut() {
            Some(vectors) => catch_up_vectors(db, vectors).is_ok(),
            None => false,
        };
        if !caught_up {
            *slot = None;
            let mark = outbox::Mark::at(db, outbox::last_id(db)?)?;
            *slot = Some(Vectors::rebuild(db, &dir, mark)?);
        }
        slot.as_mut().ok_or_else(|| Error::Vectors {
            message: "the vector index is not open".to_owned(),
        })
    }

    /// Runs `query` on an up-to-date vector index.
    fn with_vectors<T>(
        &self,
        open: &OpenVault,
        query: impl FnOnce(&Connection, &mut Vectors) -> Result<T>,
    ) -> Result<T> {
        let db = lock(&open.db);
        let mut slot = lock(&open.vectors);
        let vectors = self.sync_vectors(&db, &mut slot)?;
        query(&db, vectors)
    }

    /// The embedding model, loaded on first use.
    fn embedder(&self, open: &OpenVault) -> Result<Arc<Embedder>> {
        let mut slot = lock(&open.embedder);
        if let Some(embedder) = slot.as_ref() {
            return Ok(Arc::clone(embedder));
        }
        let dir = crate::embed::locate(&open.model_dirs)?;
        let embedder = Arc::new(Embedder::load(&dir)?);
        *slot = Some(Arc::clone(&embedder));
        Ok(embedder)
    }

    /// Runs `query` on an up-to-date graph.
    fn with_graph<T>(
        &self,
        open: &OpenVault,
        query: impl FnOnce(&Graph) -> std::result::Result<T, crate::graph::GraphError>,
    ) -> Result<T> {
        let db = lock(&open.db);
        let mut slot = lock(&open.graph);
        query(&self.sync(&db, &mut slot)?.graph).map_err(graph_error)
    }
}

/// What a change runs with.
struct Ctx<'a, 'c> {
    tx: &'a Transaction<'c>,
    now: Millis,
    roles: &'a RoleSet,
    config: &'a Config,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves SQLite consistent (the transaction rolls back), so
    // the data behind a poisoned lock is still sound.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn graph_error(e: crate::graph::GraphError) -> Error {
    Error::Graph { message: e.0 }
}

/// The grants that count for `who`: stored grants, plus a role principal's own capabilities,
/// plus the capabilities `config.yaml` gives every MCP client (`mcp_default_capabilities`,
/// `vault_read` unless the owner changed it).
fn effective_grants(conn: &Connection, open: &OpenVault, who: &Principal) -> Result<Vec<Grant>> {
    let mut grants = crate::grants::for_principal(conn, who)?;
    let standing: Vec<Capability> = match who {
        Principal::Role(name) => open
            .roles
            .get(name)
            .map(|role| role.capabilities.iter().copied().collect())
            .unwrap_or_default(),
        Principal::Mcp(_) => open.config.mcp_default_capabilities.clone(),
        Principal::Owner => Vec::new(),
    };
    grants.extend(standing.into_iter().map(|capability| Grant {
        id: 0,
        principal: who.clone(),
        capability,
        scope: None,
        expires_at: None,
        created_at: 0,
        revoked_at: None,
    }));
    Ok(grants)
}

fn authorize_with(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    need: Capability,
    now: Millis,
) -> Result<()> {
    authorize_request(conn, open, who, need, None, now)
}

/// The keychain reference the audit head is anchored under; the `.` keeps it apart from
/// every key name (`check_name` allows none).
const AUDIT_ANCHOR: &str = "atelier.audit-anchor";
/// `OpenVault::anchored` before the keychain's anchor was read.
const ANCHOR_UNCHECKED: i64 = -1;
/// `OpenVault::anchored` when the keychain's anchor contradicts the log and is kept.
const ANCHOR_KEPT: i64 = -2;

/// Which documents' text `who` may read (`file_read`): `None` for every document (the owner,
/// or an unscoped grant), else the ids whose project-relative path a scoped grant's glob
/// covers. `Denied` without any `file_read`.
fn readable_documents(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    now: Millis,
) -> Result<Option<Vec<i64>>> {
    if authorize_with(conn, open, who, Capability::FileRead, now).is_ok() {
        return Ok(None);
    }
    let grants = effective_grants(conn, open, who)?;
    let scoped = grants
        .iter()
        .any(|g| g.capability == Capability::FileRead && g.scope.is_some() && g.is_live(now));
    if !scoped {
        return Err(Error::Denied {
            principal: who.as_text(),
            capability: Capability::FileRead,
        });
    }
    let documents: Vec<(i64, String)> = conn
        .prepare("SELECT id, path FROM documents ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(
        documents
            .into_iter()
            .filter(|(_, path)| {
                auth::authorize(
                    who,
                    Request {
                        capability: Capability::FileRead,
                        target: Some(path),
                    },
                    &grants,
                    now,
                )
                .is_ok()
            })
            .map(|(id, _)| id)
            .collect(),
    ))
}

/// Checks `who` holds a scoped capability (`file_read`, `file_write`) for a project-relative
/// `target` path: an unscoped grant covers every path, a scoped one only paths its glob matches.
fn authorize_target(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    need: Capability,
    target: &str,
    now: Millis,
) -> Result<()> {
    authorize_request(conn, open, who, need, Some(target), now)
}

fn authorize_request(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    need: Capability,
    target: Option<&str>,
    now: Millis,
) -> Result<()> {
    if *who == Principal::Owner {
        return Ok(());
    }
    let grants = effective_grants(conn, open, who)?;
    auth::authorize(
        who,
        Request {
            capability: need,
            target,
        },
        &grants,
        now,
    )
    .map_err(|denial| Error::Denied {
        principal: who.as_text(),
        capability: denial.capability,
    })
}

/// How many outbox rows one graph transaction applies.
const BATCH: u32 = 500;

/// The open graph and the last outbox id it reflects. Kept in memory because one process owns
/// the vault, so nothing else moves the watermark; reading it from Kuzu costs a query.
#[derive(Debug)]
struct Projection {
    graph: Graph,
    through: i64,
    /// Where it stands in the outbox, checked against the outbox when it is opened.
    mark: outbox::Mark,
}

impl Projection {
    fn open(dir: &Path) -> Result<Projection> {
        let graph = Graph::open(dir).map_err(graph_error)?;
        let mark = graph.mark().map_err(graph_error)?;
        Ok(Projection {
            graph,
            through: mark.through,
            mark,
        })
    }

    /// Rebuilds the graph in `dir` from SQLite alone.
    fn rebuild(db: &Connection, dir: &Path) -> Result<Projection> {
        let tx = db.unchecked_transaction()?;
        let snapshots = crate::tasks::all_snapshots(&tx)?;
        let documents = crate::docs::store::all_snapshots(&tx)?;
        let assets = crate::assets::all_snapshots(&tx)?;
        let mark = outbox::Mark::at(&tx, outbox::last_id(&tx)?)?;
        tx.finish()?;
        let graph =
            Graph::rebuild(dir, &snapshots, documents, assets, mark).map_err(graph_error)?;
        Ok(Projection {
            graph,
            through: mark.through,
            mark,
        })
    }

    /// Applies the outbox rows after the watermark, in batches.
    fn catch_up(&mut self, db: &Connection) -> Result<()> {
        loop {
            let changes = outbox::pending::<outbox::GraphChange>(db, self.through, BATCH)?;
            let Some((last, _)) = changes.last() else {
                return Ok(());
            };
            let mark = outbox::Mark::at(db, *last)?;
            self.graph.apply(&changes, mark).map_err(graph_error)?;
            self.through = mark.through;
            self.mark = mark;
        }
    }
}

/// Applies the vector outbox rows after the index's watermark, in batches.
fn catch_up_vectors(db: &Connection, vectors: &mut Vectors) -> Result<()> {
    loop {
        let changes =
            outbox::pending::<outbox::VectorChange>(db, vectors.applied_through(), BATCH)?;
        if changes.is_empty() {
            return Ok(());
        }
        vectors.apply(db, &changes)?;
    }
}

/// How many points the vector index should hold: passages whose text has a vector.
fn expected_points(db: &Connection) -> Result<usize> {
    let n: i64 = db.query_row(
        "SELECT COUNT(*) FROM chunks c JOIN embeddings e
            ON e.model = ?1 AND e.text_hash = c.text_hash",
        [crate::embed::MODEL_NAME],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

const ROLES_README: &str = "# Role overrides\n\n\
A `NAME.yaml` file here replaces the shipped role of that name; any other name adds a role.\n\
The file's `name:` must equal its file name. Check a directory with `atelier roles check DIR`.\n\
See `atelier roles show NAME --json` for a shipped role's fields.\n";

#[cfg(test)]
mod tests {
    /// The desktop shell keeps one `Atelier` in shared state across threads.
    #[test]
    fn the_handle_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<super::Atelier>();
    }
}
