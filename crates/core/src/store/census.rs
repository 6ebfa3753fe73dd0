//! How many rows the vault holds, for `status`: one read of each table, `-1` where a count
//! failed (a status must answer even from a damaged database).

use rusqlite::Connection;

/// Row counts across the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    /// Tasks.
    pub tasks: i64,
    /// Canon blocks.
    pub canon_blocks: i64,
    /// Shapes.
    pub shapes: i64,
    /// Grants not revoked.
    pub grants: i64,
    /// Audit events.
    pub audit_events: i64,
    /// Projects.
    pub projects: i64,
    /// Documents.
    pub documents: i64,
    /// Passages.
    pub chunks: i64,
    /// Orchestrations running.
    pub orchestrations: i64,
    /// Tasks in progress.
    pub running_tasks: i64,
    /// Tasks blocked by a dependency.
    pub blocked_tasks: i64,
    /// Tasks waiting for an asset's approval.
    pub waiting_for_approval: i64,
    /// Runs going.
    pub runs_in_flight: i64,
}

/// Counts every table `status` reports.
pub fn census(db: &Connection) -> Census {
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(-1);
    Census {
        tasks: count("SELECT COUNT(*) FROM tasks"),
        canon_blocks: count("SELECT COUNT(*) FROM canon_blocks"),
        shapes: count("SELECT COUNT(*) FROM shapes"),
        grants: count("SELECT COUNT(*) FROM grants WHERE revoked_at IS NULL"),
        audit_events: count("SELECT COUNT(*) FROM audit_events"),
        projects: count("SELECT COUNT(*) FROM projects"),
        documents: count("SELECT COUNT(*) FROM documents"),
        chunks: count("SELECT COUNT(*) FROM chunks"),
        orchestrations: count("SELECT COUNT(*) FROM orchestrations WHERE state = 'running'"),
        running_tasks: count("SELECT COUNT(*) FROM tasks WHERE state = 'in_progress'"),
        blocked_tasks: count(
            "SELECT COUNT(*) FROM tasks WHERE state = 'blocked' AND waiting_kind = 'dependency'",
        ),
        waiting_for_approval: count(
            "SELECT COUNT(*) FROM tasks WHERE state = 'blocked' AND waiting_kind = 'approval'",
        ),
        runs_in_flight: count("SELECT COUNT(*) FROM runs WHERE status = 'running'"),
    }
}
