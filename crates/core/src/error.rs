//! The one error type that crosses the core's boundary, with stable codes.
//!
//! Every front (CLI, desktop, MCP) matches on the variant or its [`Error::code`], never on text.
//! Messages name what went wrong and what to do; they never carry SQL, stack traces, secrets or
//! the machine's absolute paths.

use crate::access::auth::Capability;
use serde::{Deserialize, Serialize};

/// Why the core is sealed. `status` reports it; every other command answers `NotReady` with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SealReason {
    /// No vault exists at the chosen location.
    #[error("no vault here yet; create one with `atelier init`")]
    NotInitialized,
    /// Another process holds the vault's lock.
    #[error("{}", busy_message(*pid))]
    VaultBusy {
        /// The owner's process id, when it could be read.
        pid: Option<u32>,
    },
    /// An applied migration's text differs from the one this binary carries.
    #[error(
        "migration {version} ({name}) was changed after it was applied; restore it or use the binary that applied it"
    )]
    MigrationChanged {
        /// Migration number.
        version: i64,
        /// Migration file name.
        name: String,
    },
    /// The database was written by a newer Atelier.
    #[error(
        "the vault's database is at schema {found}, newer than this binary's {supported}; upgrade Atelier"
    )]
    DatabaseNewer {
        /// Highest migration recorded in the database.
        found: i64,
        /// Highest migration this binary knows.
        supported: i64,
    },
    /// `config.yaml` is missing or invalid.
    #[error("config.yaml: {message}")]
    ConfigInvalid {
        /// What is wrong with it.
        message: String,
    },
    /// A role file in the vault is invalid.
    #[error("{file}:{line}: {message}")]
    RoleInvalid {
        /// File name relative to the vault.
        file: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The database could not be opened or read.
    #[error("the vault's database could not be opened: {message}")]
    StorageUnavailable {
        /// A sanitized description.
        message: String,
    },
}

fn busy_message(pid: Option<u32>) -> String {
    let owner = pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}"));
    format!(
        "the vault is in use by {owner}; close that Atelier (app, CLI or MCP sidecar) and try again, or pass --vault to use another vault"
    )
}

/// Every way a core command can fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "code", content = "details", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Error {
    /// The core is sealed; the reason says why and what to do.
    #[error("Atelier is not ready: {reason}")]
    NotReady {
        /// Why it is sealed.
        reason: SealReason,
    },
    /// Another process owns the vault.
    #[error("{}", busy_message(*pid))]
    VaultBusy {
        /// The owner's process id, when known.
        pid: Option<u32>,
    },
    /// `init` found a vault already there.
    #[error("a vault already exists here; nothing was changed")]
    AlreadyInitialized,
    /// The principal lacks the capability.
    #[error(
        "{principal} may not do this: it needs the `{capability}` capability (the owner can grant it with `atelier grants add {principal} {capability}`)"
    )]
    Denied {
        /// Who asked.
        principal: String,
        /// What was missing.
        capability: Capability,
    },
    /// The thing named does not exist.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// task, canon block, shape, grant, role…
        kind: String,
        /// The id or name asked for.
        id: String,
    },
    /// A field's value is not acceptable.
    #[error("{field}: {problem}")]
    InvalidInput {
        /// The field.
        field: String,
        /// What is wrong and what is accepted.
        problem: String,
    },
    /// Something with that name or key already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// What kind of thing.
        kind: String,
        /// Its name or key.
        id: String,
    },
    /// The task state machine does not allow this move.
    #[error("task {task} is {from}; `{action}` is not allowed from there (allowed: {allowed})")]
    InvalidTransition {
        /// Task id.
        task: i64,
        /// Current state.
        from: String,
        /// The action tried.
        action: String,
        /// Actions allowed from `from`.
        allowed: String,
    },
    /// Adding the dependency or parent would make a cycle.
    #[error("task {task} cannot {relation} task {other}: that would make a cycle")]
    Cycle {
        /// The task being changed.
        task: i64,
        /// `depend on` or `move under`.
        relation: String,
        /// The other task.
        other: i64,
    },
    /// The task tree would be deeper than allowed.
    #[error(
        "that would nest tasks {depth} deep; the limit is {limit} (task_depth_limit in config.yaml)"
    )]
    DepthExceeded {
        /// The depth it would reach.
        depth: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A parent cannot complete while children are open.
    #[error("task {task} has open subtasks {children:?}; complete or cancel them first")]
    OpenChildren {
        /// The parent.
        task: i64,
        /// Its open children.
        children: Vec<i64>,
    },
    /// A task cannot start before its dependencies complete.
    #[error("task {task} waits on tasks {waiting_on:?}, which are not completed")]
    DependenciesIncomplete {
        /// The task.
        task: i64,
        /// Its dependencies that are not completed.
        waiting_on: Vec<i64>,
    },
    /// A task the scheduler blocked waits on something only another action ends.
    #[error("task {task} waits on {waiting}: {remedy}")]
    TaskWaiting {
        /// The task.
        task: i64,
        /// What it waits on, e.g. `task 3, which failed`.
        waiting: String,
        /// What ends the wait.
        remedy: String,
    },
    /// A task is already being worked through by another orchestration.
    #[error("task {task} is already being worked through by orchestration {orchestration}")]
    AlreadyOrchestrated {
        /// The task.
        task: i64,
        /// The orchestration that has it.
        orchestration: i64,
    },
    /// A loop or rate guard of the scheduler refused work.
    #[error("{guard}: {detail}")]
    GuardRefused {
        /// Which guard, e.g. `spawned_per_task`.
        guard: String,
        /// What was asked, what the cap is, and how to change it.
        detail: String,
    },
    /// A role file or directory is invalid.
    #[error("{file}:{line}: {message}")]
    RoleInvalid {
        /// File name.
        file: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The database failed underneath a command; nothing was changed.
    #[error("storage failed, nothing was changed: {message}")]
    Storage {
        /// A sanitized description.
        message: String,
    },
    /// The graph projection failed; SQLite is unaffected and `atelier reindex` rebuilds it.
    #[error("graph projection failed: {message}; run `atelier reindex` to rebuild it")]
    Graph {
        /// A sanitized description.
        message: String,
    },
    /// A file could not be read or written.
    #[error("file access failed: {message}")]
    Io {
        /// A sanitized description.
        message: String,
    },
    /// The embedding model is not installed where Atelier looks for it.
    #[error(
        "the embedding model all-MiniLM-L6-v2 is not installed; run `scripts/install-deps.sh`, or put its files in one of: {}",
        searched.join(", ")
    )]
    ModelMissing {
        /// The directories looked in, in order.
        searched: Vec<String>,
    },
    /// The embedding model failed to load or run.
    #[error("the embedding model failed: {message}")]
    Embedding {
        /// What went wrong.
        message: String,
    },
    /// The vector index failed; SQLite is unaffected and `atelier reindex` rebuilds it.
    #[error("vector index failed: {message}; run `atelier reindex` to rebuild it")]
    Vectors {
        /// A sanitized description.
        message: String,
    },
    /// No OS keychain works, so provider keys cannot be stored or read; there is no plaintext
    /// fallback.
    #[error("{reason}; provider keys need it, so providers stay sealed until it works")]
    KeychainUnavailable {
        /// What failed.
        reason: String,
    },
    /// The kill switch is on: runs and provider calls are refused until the owner turns it off.
    #[error("the kill switch is on (pulled by {by}); `atelier resume` turns it off")]
    SwitchedOff {
        /// Who turned it on.
        by: String,
        /// When, in ms since the epoch.
        since: i64,
    },
    /// The approval flow does not allow this move, or the asset is not in the state the command
    /// needs (promote and export need `approved`).
    #[error("asset {asset} is {state}; `{action}` is not allowed from there (allowed: {allowed})")]
    AssetState {
        /// Asset id.
        asset: i64,
        /// Its state.
        state: String,
        /// What was tried.
        action: String,
        /// What is allowed from `state`.
        allowed: String,
    },
    /// A file is already at the export path; nothing was written. Ask, then pass `overwrite`.
    #[error(
        "{path} already exists in project {project}; nothing was written (export again with overwrite to replace it)"
    )]
    FileExists {
        /// The project.
        project: String,
        /// The project-relative path.
        path: String,
    },
    /// The process that owns the vault went away before answering a call made through its
    /// socket; a change asked for may or may not have been made.
    #[error(
        "the vault's owner exited before answering; check whether the change was made, then ask again"
    )]
    OwnerGone,
}

/// Who is at fault, for exit codes and UI treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was refused; the user can fix it.
    Refused,
    /// The vault cannot serve right now (sealed, busy, missing).
    Unavailable,
    /// Something broke inside; not the user's doing.
    Internal,
}

impl Error {
    /// The stable machine-readable code, e.g. `VAULT_BUSY`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotReady { .. } => "NOT_READY",
            Error::VaultBusy { .. } => "VAULT_BUSY",
            Error::AlreadyInitialized => "ALREADY_INITIALIZED",
            Error::Denied { .. } => "DENIED",
            Error::NotFound { .. } => "NOT_FOUND",
            Error::InvalidInput { .. } => "INVALID_INPUT",
            Error::AlreadyExists { .. } => "ALREADY_EXISTS",
            Error::InvalidTransition { .. } => "INVALID_TRANSITION",
            Error::Cycle { .. } => "CYCLE",
            Error::DepthExceeded { .. } => "DEPTH_EXCEEDED",
            Error::OpenChildren { .. } => "OPEN_CHILDREN",
            Error::DependenciesIncomplete { .. } => "DEPENDENCIES_INCOMPLETE",
            Error::TaskWaiting { .. } => "TASK_WAITING",
            Error::AlreadyOrchestrated { .. } => "ALREADY_ORCHESTRATED",
            Error::GuardRefused { .. } => "GUARD_REFUSED",
            Error::RoleInvalid { .. } => "ROLE_INVALID",
            Error::Storage { .. } => "STORAGE",
            Error::Graph { .. } => "GRAPH",
            Error::Io { .. } => "IO",
            Error::ModelMissing { .. } => "MODEL_MISSING",
            Error::Embedding { .. } => "EMBEDDING",
            Error::Vectors { .. } => "VECTORS",
            Error::KeychainUnavailable { .. } => "KEYCHAIN_UNAVAILABLE",
            Error::SwitchedOff { .. } => "SWITCHED_OFF",
            Error::AssetState { .. } => "ASSET_STATE",
            Error::FileExists { .. } => "FILE_EXISTS",
            Error::OwnerGone => "OWNER_GONE",
        }
    }

    /// Whose fault it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotReady { .. }
            | Error::VaultBusy { .. }
            | Error::ModelMissing { .. }
            | Error::KeychainUnavailable { .. }
            | Error::SwitchedOff { .. }
            | Error::OwnerGone => ErrorKind::Unavailable,
            Error::Storage { .. }
            | Error::Graph { .. }
            | Error::Io { .. }
            | Error::Embedding { .. }
            | Error::Vectors { .. } => ErrorKind::Internal,
            _ => ErrorKind::Refused,
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(kind: &str, id: impl ToString) -> Self {
        Error::NotFound {
            kind: kind.to_owned(),
            id: id.to_string(),
        }
    }

    /// Shorthand for [`Error::Io`]: what failed and the OS error's kind (never a path).
    pub fn io(context: &str, err: &std::io::Error) -> Self {
        Error::Io {
            message: format!("{context}: {}", err.kind()),
        }
    }
}

impl From<crate::embed::EmbedError> for Error {
    fn from(e: crate::embed::EmbedError) -> Self {
        match e {
            crate::embed::EmbedError::Missing(searched) => Error::ModelMissing { searched },
            crate::embed::EmbedError::Failed(message) => Error::Embedding { message },
        }
    }
}

impl From<crate::projection::vectors::VectorError> for Error {
    fn from(e: crate::projection::vectors::VectorError) -> Self {
        Error::Vectors { message: e.0 }
    }
}

impl From<SealReason> for Error {
    fn from(reason: SealReason) -> Self {
        match reason {
            SealReason::VaultBusy { pid } => Error::VaultBusy { pid },
            reason => Error::NotReady { reason },
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        // Only the SQLite result class crosses the boundary: no SQL text, no paths.
        let message = match &err {
            rusqlite::Error::SqliteFailure(code, _) => match code.code {
                rusqlite::ErrorCode::DiskFull => "the disk is full".to_owned(),
                rusqlite::ErrorCode::ReadOnly => "the database is read-only".to_owned(),
                rusqlite::ErrorCode::PermissionDenied => "permission denied".to_owned(),
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    "the database is locked".to_owned()
                }
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                    "the database file is damaged".to_owned()
                }
                rusqlite::ErrorCode::ConstraintViolation => {
                    "a database constraint refused the change".to_owned()
                }
                other => format!("sqlite error ({other:?})"),
            },
            _ => "unexpected database result".to_owned(),
        };
        Error::Storage { message }
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_serialized_as_the_tag() {
        let err = Error::VaultBusy { pid: Some(42) };
        assert_eq!(err.code(), "VAULT_BUSY");
        let json = serde_json::to_value(&err).expect("serializes");
        assert_eq!(json["code"], "VAULT_BUSY");
        assert_eq!(json["details"]["pid"], 42);
        assert!(err.to_string().contains("process 42"));
    }

    #[test]
    fn a_busy_seal_surfaces_as_vault_busy_and_others_as_not_ready() {
        assert_eq!(
            Error::from(SealReason::VaultBusy { pid: None }).code(),
            "VAULT_BUSY"
        );
        assert_eq!(Error::from(SealReason::NotInitialized).code(), "NOT_READY");
    }
}
