//! The one typed command surface. Every front (CLI, desktop, MCP) calls these functions with a
//! principal; none holds logic of its own.
//!
//! Each mutating command runs as: authorize → change → outbox → audit, in one SQLite
//! transaction; then the graph projection catches up. Reads authorize `vault_read` first.

mod changes;
pub mod wire;

pub use crate::access::commands::{GrantAdd, GrantView, ReindexReport, roles_check};
pub use crate::assets::AssetView;
pub use crate::assets::commands::{
    AssetDetail, AssetExport, AssetFilter, AssetLineage, AssetOrigin, AssetReview,
    AssetReviewRequest, AssetSource, AssetVersion, BankRequest, Exported, LineageRun, Promotion,
};
pub use crate::catalog::commands::{CanonEdit, CanonFilter, NewCanon, NewShape, ShapeEdit};
pub use crate::documents::DocumentSummary;
pub use crate::documents::attachment::Media;
pub use crate::documents::commands::{
    Backlink, DocumentText, DocumentView, LinkView, PassageText, Preview, RelatedDocument,
    RelatedReason, SearchRequest,
};
pub use crate::documents::projects::{
    HookAction, HookAdd, HookView, IngestProgress, IngestReport, IngestStage, IngestTimings,
    ProjectAdd, ProjectView, SkippedFiles,
};
pub use crate::documents::watching::{WatchOptions, WatchOutcome};
pub use crate::orchestration::commands::{
    DeadLetter, Held, LEASE_MS, OrchestrateRequest, OrchestrationView, ReviewWait, TaskCounts,
    WorkEvent, Worked,
};
pub use crate::providers::commands::{KeyView, ProviderAdd, ProviderCheck, ProviderView, Route};
pub use crate::runs::switch::SwitchState;
pub use crate::runs::{Attempt, RunEvent, RunPreview, RunRequest, RunView, StepPreview, StepView};
pub use crate::tasks::commands::{
    NewSubtask, NewTask, TaskDependency, TaskDetail, TaskEdit, TaskMove, TaskTransition,
    TaskTreeNode,
};
pub use crate::tasks::plan_view::{PlanEdge, PlanNode, TaskPlan};
pub use crate::threads::commands::{
    Participant, PostView, ThreadAck, ThreadCreate, ThreadPage, ThreadPost, ThreadRead, ThreadView,
};
pub use changes::Change;

use crate::access::audit;
use crate::access::auth::Principal;
use crate::access::roles::RoleSet;
use crate::clock::{Clock, Millis};
use crate::config::{self, Config};
use crate::error::{Error, Result, SealReason};
use crate::projection::outbox;
use crate::projection::vectors::Vectors;
use crate::store;
use crate::vault::{self, ANCHOR_UNCHECKED, Atelier, OpenOptions, OpenVault, VaultLock, lock};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;

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
    pub queue: crate::orchestration::jobs::QueueDepth,
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
                    target: audit::Target::Vault,
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
        let projections_at_open = options.projections_at_open;
        let atelier = Atelier {
            vault: options.vault,
            clock: options.clock,
            state,
        };
        if let Ok(open) = &atelier.state {
            // A projection that cannot catch up is rebuilt on first use; boot does not fail
            // on it.
            if projections_at_open {
                let _ = atelier.graph_in_sync(open);
                let _ = atelier.vectors_in_sync(open);
            }
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
        crate::runs::records::mark_interrupted(&mut conn, options.clock.now()).map_err(|e| {
            SealReason::StorageUnavailable {
                message: e.to_string(),
            }
        })?;
        // Likewise every job still leased: its worker was in the process that died.
        crate::orchestration::jobs::reclaim_orphans(&conn, options.clock.now()).map_err(|e| {
            SealReason::StorageUnavailable {
                message: Error::from(e).to_string(),
            }
        })?;
        let kill = crate::providers::transport::Cancel::default();
        if matches!(crate::runs::switch::switch_state(&conn), Ok(Some(_))) {
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
            keychain: Mutex::new(crate::secrets::KeychainProbe::default()),
            anchored: Mutex::new(ANCHOR_UNCHECKED),
            anchor: Default::default(),
            changes_unprojected: Default::default(),
            read_anchored_at: Mutex::new(Millis::MIN),
            kill: Mutex::new(kill),
            runs: Mutex::new(std::collections::HashMap::new()),
            slots: crate::providers::slots::ProviderSlots::new(
                config.orchestration.provider_limits.clone(),
            ),
            wake: crate::orchestration::jobs::Wake::default(),
            model_dirs,
            roles,
            config,
            schema_version,
            _lock: lock,
        })
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
        let census = store::census::census(&db);
        let counts = Counts {
            tasks: census.tasks,
            ready: crate::tasks::ready_ids(&db)
                .map_or(-1, |r| i64::try_from(r.len()).unwrap_or(-1)),
            canon_blocks: census.canon_blocks,
            shapes: census.shapes,
            grants: census.grants,
            audit_events: census.audit_events,
            roles: open.roles.len(),
            projects: census.projects,
            documents: census.documents,
            chunks: census.chunks,
        };
        let unembedded = crate::documents::store::unembedded_count(&db, crate::embed::MODEL_NAME)
            .map_or(-1, |n| i64::try_from(n).unwrap_or(-1));
        let outbox_head = outbox::last_id(&db).unwrap_or(-1);
        let kill_switch = crate::runs::switch::switch_state(&db).ok().flatten();
        let work = WorkStatus {
            queue: crate::orchestration::jobs::depth(&db, self.clock.now(), None)
                .unwrap_or_default(),
            orchestrations: census.orchestrations,
            running_tasks: census.running_tasks,
            blocked_tasks: census.blocked_tasks,
            waiting_for_approval: census.waiting_for_approval,
            runs_in_flight: census.runs_in_flight,
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
