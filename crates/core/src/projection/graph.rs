//! The Kuzu graph: a projection of SQLite's tasks (Task and Role nodes; CHILD_OF, DEPENDS_ON,
//! ASSIGNED_TO edges) and documents (Document, Project, Tag and Missing nodes; LINKS_TO, EMBEDS,
//! TAGGED, IN_PROJECT edges; a dangling link points at a Missing node named by its target) and
//! the lineage of banked assets (Asset, Run and Canon nodes; PRODUCED_BY, DERIVED_FROM,
//! FOR_TASK, PROMOTED_TO edges), fed from the outbox and rebuildable from SQLite alone.
//!
//! The projection records how far it applied (`Projection.applied_through`) in the same Kuzu
//! transaction as the changes, so a crash between the two cannot skip or double-count a change;
//! and every change carries the full state of its task, so replaying one is harmless.

use crate::projection::outbox::{
    AssetSnapshot, DocumentSnapshot, GraphChange, Mark, NO_MARK, TaskSnapshot,
};
use kuzu::{Connection, Database, SystemConfig, Value};
use statements::{AssetStatements, DocumentStatements, TaskStatements};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The database file inside the vault's `graph/` directory.
mod statements;

const DB_FILE: &str = "tasks.kuzu";

/// Bumped when the node/edge layout changes; a projection at another version is rebuilt.
const SCHEMA_VERSION: i64 = 4;

/// Kuzu's default cap on recursive joins. Queries start here because a larger bound costs
/// several milliseconds per query even when paths are short (measured: 1.5 ms at 30 hops,
/// 5 ms at 100,000, on the bench DAG).
const DEFAULT_HOPS: u32 = 30;

/// The most hops a dependency query widens to; no task graph has a longer chain.
const MAX_HOPS: u32 = 1_000_000;

const SCHEMA: &[&str] = &[
    "CREATE NODE TABLE IF NOT EXISTS Task(id INT64, state STRING, PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS Role(name STRING, PRIMARY KEY(name))",
    "CREATE NODE TABLE IF NOT EXISTS Projection(name STRING, value INT64, PRIMARY KEY(name))",
    "CREATE REL TABLE IF NOT EXISTS CHILD_OF(FROM Task TO Task)",
    "CREATE REL TABLE IF NOT EXISTS DEPENDS_ON(FROM Task TO Task)",
    "CREATE REL TABLE IF NOT EXISTS ASSIGNED_TO(FROM Task TO Role)",
    "CREATE NODE TABLE IF NOT EXISTS Document(id INT64, project STRING, path STRING, title STRING, kind STRING, PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS Project(name STRING, PRIMARY KEY(name))",
    "CREATE NODE TABLE IF NOT EXISTS Tag(name STRING, PRIMARY KEY(name))",
    "CREATE NODE TABLE IF NOT EXISTS Missing(target STRING, PRIMARY KEY(target))",
    "CREATE REL TABLE IF NOT EXISTS LINKS_TO(FROM Document TO Document, FROM Document TO Missing)",
    "CREATE REL TABLE IF NOT EXISTS EMBEDS(FROM Document TO Document)",
    "CREATE REL TABLE IF NOT EXISTS TAGGED(FROM Document TO Tag)",
    "CREATE REL TABLE IF NOT EXISTS IN_PROJECT(FROM Document TO Project)",
    "CREATE NODE TABLE IF NOT EXISTS Asset(id INT64, title STRING, state STRING, PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS Run(id INT64, play STRING, PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS Canon(id INT64, PRIMARY KEY(id))",
    "CREATE REL TABLE IF NOT EXISTS PRODUCED_BY(FROM Asset TO Run)",
    "CREATE REL TABLE IF NOT EXISTS DERIVED_FROM(FROM Asset TO Canon, FROM Asset TO Document)",
    "CREATE REL TABLE IF NOT EXISTS FOR_TASK(FROM Asset TO Task)",
    "CREATE REL TABLE IF NOT EXISTS PROMOTED_TO(FROM Asset TO Canon)",
];

/// A Kuzu failure, with Kuzu's own message for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GraphError(pub String);

impl From<kuzu::Error> for GraphError {
    fn from(e: kuzu::Error) -> Self {
        GraphError(e.to_string())
    }
}

type GraphResult<T> = Result<T, GraphError>;

/// The open graph database.
pub struct Graph {
    db: Database,
    dir: PathBuf,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("dir", &self.dir).finish()
    }
}

impl Graph {
    /// Opens the graph in `dir`, creating its schema if new. A projection at another schema
    /// version, or one that does not open, is an error: the caller rebuilds it.
    pub fn open(dir: &Path) -> GraphResult<Graph> {
        std::fs::create_dir_all(dir)
            .map_err(|e| GraphError(format!("create dir: {}", e.kind())))?;
        let db = Database::new(dir.join(DB_FILE), system_config())?;
        let graph = Graph {
            db,
            dir: dir.to_path_buf(),
        };
        {
            let conn = graph.connection()?;
            for statement in SCHEMA {
                conn.query(statement)?;
            }
            match read_value(&conn, "schema")? {
                None => {
                    write_value(&conn, "schema", SCHEMA_VERSION)?;
                    write_value(&conn, "applied_through", 0)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => {
                    return Err(GraphError(format!(
                        "projection schema {other}, expected {SCHEMA_VERSION}"
                    )));
                }
            }
        }
        Ok(graph)
    }

    /// Deletes whatever is in `dir` and builds a fresh graph from `tasks`, `documents` and
    /// `assets`, recording `mark` as the last outbox change it reflects.
    pub fn rebuild(
        dir: &Path,
        tasks: &[TaskSnapshot],
        documents: Vec<DocumentSnapshot>,
        assets: Vec<AssetSnapshot>,
        mark: Mark,
    ) -> GraphResult<Graph> {
        remove_dir(dir)?;
        let graph = Graph::open(dir)?;
        graph.bulk_load(tasks)?;
        let changes: Vec<(i64, GraphChange)> = documents
            .into_iter()
            .map(GraphChange::Document)
            .chain(assets.into_iter().map(GraphChange::Asset))
            .map(|change| (mark.through, change))
            .collect();
        if changes.is_empty() {
            write_mark(&graph.connection()?, mark)?;
        } else {
            graph.apply(&changes, mark)?;
        }
        Ok(graph)
    }

    /// Where this projection stands in the outbox (stamp and vault `None` when a graph from
    /// before marks did not record them).
    pub fn mark(&self) -> GraphResult<Mark> {
        let conn = self.connection()?;
        let through = read_value(&conn, "applied_through")?.unwrap_or(0);
        let stamp = read_value(&conn, "applied_stamp")?.and_then(Mark::decode);
        let vault = read_value(&conn, "vault")?.and_then(Mark::decode);
        Ok(Mark {
            through,
            stamp,
            vault,
        })
    }

    fn connection(&self) -> GraphResult<Connection<'_>> {
        Ok(Connection::new(&self.db)?)
    }

    /// The last outbox id this projection reflects.
    pub fn applied_through(&self) -> GraphResult<i64> {
        let conn = self.connection()?;
        Ok(read_value(&conn, "applied_through")?.unwrap_or(0))
    }

    /// Applies outbox changes in one Kuzu transaction together with the new watermark, `mark`
    /// (the last change's id, its stamp and the vault's identity).
    pub fn apply(&self, changes: &[(i64, GraphChange)], mark: Mark) -> GraphResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let conn = self.connection()?;
        conn.query("BEGIN TRANSACTION")?;
        let result = (|| -> GraphResult<()> {
            let mut tasks = None;
            let mut documents = None;
            let mut assets = None;
            let superseded = superseded(changes);
            for (index, (_, change)) in changes.iter().enumerate() {
                if superseded.contains(&index) {
                    continue;
                }
                match change {
                    GraphChange::Task(task) => {
                        prepared(&mut tasks, || TaskStatements::prepare(&conn))?
                            .apply(&conn, task)?;
                    }
                    GraphChange::Document(document) => {
                        prepared(&mut documents, || DocumentStatements::prepare(&conn))?
                            .apply(&conn, document)?;
                    }
                    GraphChange::DocumentRemoved { id } => {
                        prepared(&mut documents, || DocumentStatements::prepare(&conn))?
                            .remove(&conn, *id)?;
                    }
                    GraphChange::Asset(asset) => {
                        prepared(&mut assets, || AssetStatements::prepare(&conn))?
                            .apply(&conn, asset)?;
                    }
                }
            }
            write_mark(&conn, mark)
        })();
        match result {
            Ok(()) => {
                conn.query("COMMIT")?;
                Ok(())
            }
            Err(e) => {
                let _ = conn.query("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Loads many tasks at once into an empty graph through CSV files and `COPY FROM`.
    fn bulk_load(&self, tasks: &[TaskSnapshot]) -> GraphResult<()> {
        let mut nodes = String::new();
        let mut child_of = String::new();
        let mut depends_on = String::new();
        let mut assigned = String::new();
        let mut roles = std::collections::BTreeSet::new();
        for t in tasks {
            let _ = writeln!(nodes, "{},{}", t.id, t.state);
            if let Some(p) = t.parent {
                let _ = writeln!(child_of, "{},{p}", t.id);
            }
            for d in &t.depends_on {
                let _ = writeln!(depends_on, "{},{d}", t.id);
            }
            if let Some(role) = &t.role {
                let _ = writeln!(assigned, "{},{role}", t.id);
                roles.insert(role.clone());
            }
        }
        let role_rows: String = roles.iter().map(|r| format!("{r}\n")).collect();
        let conn = self.connection()?;
        for (table, rows) in [
            ("Task", &nodes),
            ("Role", &role_rows),
            ("CHILD_OF", &child_of),
            ("DEPENDS_ON", &depends_on),
            ("ASSIGNED_TO", &assigned),
        ] {
            if rows.is_empty() {
                continue;
            }
            let file = self.dir.join(format!("load-{table}.csv"));
            std::fs::write(&file, rows)
                .map_err(|e| GraphError(format!("write csv: {}", e.kind())))?;
            let result = conn.query(&format!(
                "COPY {table} FROM '{}' (HEADER=false)",
                cypher_string(&file.to_string_lossy())
            ));
            let _ = std::fs::remove_file(&file);
            result?;
        }
        Ok(())
    }

    /// Everything `id` depends on, directly or transitively, by id, each with whether it is
    /// completed. One shortest-path search per task reached; the hop bound starts at Kuzu's
    /// default and widens only when some task sits exactly at it (its own dependencies may lie
    /// beyond), so the answer is complete for chains of any length.
    pub fn upstream(&self, id: i64) -> GraphResult<Vec<Upstream>> {
        let mut bound = DEFAULT_HOPS;
        loop {
            let conn = self.connection()?;
            if bound > DEFAULT_HOPS {
                conn.query(&format!("CALL var_length_extend_max_depth={bound}"))?;
            }
            let mut stmt = conn.prepare(&format!(
                "MATCH (t:Task {{id: $id}})-[e:DEPENDS_ON* SHORTEST 1..{bound}]->(d:Task)
                 RETURN d.id, d.state, length(e)"
            ))?;
            let mut deepest = 0;
            let mut out = Vec::new();
            for row in conn.execute(&mut stmt, vec![("id", Value::Int64(id))])? {
                if let [Value::Int64(task), Value::String(state), Value::Int64(hops)] =
                    row.as_slice()
                {
                    deepest = deepest.max(*hops);
                    out.push(Upstream {
                        id: *task,
                        completed: state == "completed",
                    });
                }
            }
            if deepest < i64::from(bound) || bound >= MAX_HOPS {
                out.sort_unstable_by_key(|u| u.id);
                out.dedup_by_key(|u| u.id);
                return Ok(out);
            }
            bound = bound.saturating_mul(32).min(MAX_HOPS);
        }
    }

    /// Every task `id` depends on, directly or transitively, by id.
    pub fn dependency_closure(&self, id: i64) -> GraphResult<Vec<i64>> {
        Ok(self.upstream(id)?.into_iter().map(|u| u.id).collect())
    }

    /// Pending or active tasks with no dependency left to complete, by id.
    pub fn ready(&self) -> GraphResult<Vec<i64>> {
        let conn = self.connection()?;
        let result = conn.query(
            "MATCH (t:Task) WHERE t.state IN ['pending', 'active']
               AND NOT EXISTS { MATCH (t)-[:DEPENDS_ON]->(d:Task) WHERE d.state <> 'completed' }
             RETURN t.id ORDER BY t.id",
        )?;
        Ok(result
            .filter_map(|row| match row.first() {
                Some(Value::Int64(v)) => Some(*v),
                _ => None,
            })
            .collect())
    }

    /// The tasks under `root` (to `depth` levels) with their parents, and every dependency
    /// edge out of the root or of one of them, as `(task, dependency)`: the plan view's shape.
    pub fn subtree(&self, root: i64, depth: u32) -> GraphResult<Subtree> {
        let conn = self.connection()?;
        let depth = depth.clamp(1, MAX_HOPS);
        if depth > DEFAULT_HOPS {
            conn.query(&format!("CALL var_length_extend_max_depth={depth}"))?;
        }
        let pairs = |query: String| -> GraphResult<Vec<(i64, i64)>> {
            let mut stmt = conn.prepare(&query)?;
            Ok(conn
                .execute(&mut stmt, vec![("id", Value::Int64(root))])?
                .filter_map(|row| match row.as_slice() {
                    [Value::Int64(a), Value::Int64(b)] => Some((*a, *b)),
                    _ => None,
                })
                .collect())
        };
        let under = format!("MATCH (t:Task)-[:CHILD_OF*1..{depth}]->(:Task {{id: $id}})");
        let mut children = pairs(format!(
            "{under} MATCH (t)-[:CHILD_OF]->(p:Task) RETURN t.id, p.id"
        ))?;
        let mut dependencies = pairs(format!(
            "{under} MATCH (t)-[:DEPENDS_ON]->(d:Task) RETURN t.id, d.id"
        ))?;
        dependencies.extend(pairs(
            "MATCH (t:Task {id: $id})-[:DEPENDS_ON]->(d:Task) RETURN t.id, d.id".to_owned(),
        )?);
        children.sort_unstable();
        children.dedup();
        dependencies.sort_unstable();
        dependencies.dedup();
        Ok(Subtree {
            children,
            dependencies,
        })
    }

    /// The documents `id` links to and the documents linking to it, by id.
    pub fn links_of(&self, id: i64) -> GraphResult<(Vec<i64>, Vec<i64>)> {
        let conn = self.connection()?;
        let out = ids_of(
            &conn,
            "MATCH (d:Document {id: $id})-[:LINKS_TO]->(t:Document) WHERE t.id <> $id
             RETURN DISTINCT t.id ORDER BY t.id",
            id,
        )?;
        let back = ids_of(
            &conn,
            "MATCH (s:Document)-[:LINKS_TO]->(d:Document {id: $id}) WHERE s.id <> $id
             RETURN DISTINCT s.id ORDER BY s.id",
            id,
        )?;
        Ok((out, back))
    }

    /// The documents `id` embeds and the documents embedding it, by id.
    pub fn embeds_of(&self, id: i64) -> GraphResult<(Vec<i64>, Vec<i64>)> {
        let conn = self.connection()?;
        let out = ids_of(
            &conn,
            "MATCH (d:Document {id: $id})-[:EMBEDS]->(t:Document)
             RETURN DISTINCT t.id ORDER BY t.id",
            id,
        )?;
        let back = ids_of(
            &conn,
            "MATCH (s:Document)-[:EMBEDS]->(d:Document {id: $id})
             RETURN DISTINCT s.id ORDER BY s.id",
            id,
        )?;
        Ok((out, back))
    }

    /// How many Document nodes, LINKS_TO edges to documents, and dangling links there are.
    pub fn document_counts(&self) -> GraphResult<(i64, i64, i64)> {
        let conn = self.connection()?;
        let documents = first_int(conn.query("MATCH (d:Document) RETURN COUNT(d)")?);
        let links =
            first_int(conn.query("MATCH (:Document)-[r:LINKS_TO]->(:Document) RETURN COUNT(r)")?);
        let dangling =
            first_int(conn.query("MATCH (:Document)-[r:LINKS_TO]->(:Missing) RETURN COUNT(r)")?);
        Ok((documents, links, dangling))
    }

    /// The lineage of asset `id` as the graph holds it.
    pub fn lineage(&self, id: i64) -> GraphResult<Lineage> {
        let conn = self.connection()?;
        let ints = |query: &str| ids_of(&conn, query, id);
        let mut stmt = conn.prepare(
            "MATCH (a:Asset {id: $id})-[:PRODUCED_BY]->(r:Run) RETURN r.id, r.play ORDER BY r.id",
        )?;
        let runs = conn
            .execute(&mut stmt, vec![("id", Value::Int64(id))])?
            .filter_map(|row| match row.as_slice() {
                [Value::Int64(run), Value::String(play)] => Some((*run, play.clone())),
                _ => None,
            })
            .collect();
        Ok(Lineage {
            runs,
            tasks: ints("MATCH (a:Asset {id: $id})-[:FOR_TASK]->(t:Task) RETURN t.id")?,
            canon: ints(
                "MATCH (a:Asset {id: $id})-[:DERIVED_FROM]->(c:Canon) RETURN c.id ORDER BY c.id",
            )?,
            documents: ints(
                "MATCH (a:Asset {id: $id})-[:DERIVED_FROM]->(d:Document) RETURN d.id ORDER BY d.id",
            )?,
            promoted_to: ints("MATCH (a:Asset {id: $id})-[:PROMOTED_TO]->(c:Canon) RETURN c.id")?
                .first()
                .copied(),
            built_on: ints(
                "MATCH (a:Asset {id: $id})-[:DERIVED_FROM]->(:Canon)<-[:PROMOTED_TO]-(b:Asset)
                 RETURN DISTINCT b.id ORDER BY b.id",
            )?,
            built_upon_by: ints(
                "MATCH (a:Asset {id: $id})-[:PROMOTED_TO]->(:Canon)<-[:DERIVED_FROM]-(b:Asset)
                 RETURN DISTINCT b.id ORDER BY b.id",
            )?,
        })
    }

    /// The assets derived from `source`, or made for it, by id.
    pub fn assets_from(&self, source: LineageSource) -> GraphResult<Vec<i64>> {
        let (query, id) = match source {
            LineageSource::Canon(id) => (
                "MATCH (a:Asset)-[:DERIVED_FROM]->(:Canon {id: $id}) RETURN DISTINCT a.id ORDER BY a.id",
                id,
            ),
            LineageSource::Document(id) => (
                "MATCH (a:Asset)-[:DERIVED_FROM]->(:Document {id: $id}) RETURN DISTINCT a.id ORDER BY a.id",
                id,
            ),
            LineageSource::Task(id) => (
                "MATCH (a:Asset)-[:FOR_TASK]->(:Task {id: $id}) RETURN DISTINCT a.id ORDER BY a.id",
                id,
            ),
            LineageSource::Run(id) => (
                "MATCH (a:Asset)-[:PRODUCED_BY]->(:Run {id: $id}) RETURN DISTINCT a.id ORDER BY a.id",
                id,
            ),
        };
        ids_of(&self.connection()?, query, id)
    }

    /// How many Task nodes and DEPENDS_ON edges there are; for consistency checks.
    pub fn counts(&self) -> GraphResult<(i64, i64)> {
        let conn = self.connection()?;
        let tasks = first_int(conn.query("MATCH (t:Task) RETURN COUNT(t)")?);
        let deps = first_int(conn.query("MATCH ()-[r:DEPENDS_ON]->() RETURN COUNT(r)")?);
        Ok((tasks, deps))
    }
}

/// The first column of `query`'s rows as ids, with `$id` bound to `id`.
fn ids_of(conn: &Connection<'_>, query: &str, id: i64) -> GraphResult<Vec<i64>> {
    let mut stmt = conn.prepare(query)?;
    Ok(conn
        .execute(&mut stmt, vec![("id", Value::Int64(id))])?
        .filter_map(|row| match row.first() {
            Some(Value::Int64(v)) => Some(*v),
            _ => None,
        })
        .collect())
}

/// The changes of a batch a later change of the same task or asset replaces: a snapshot
/// carries the node's state and its outgoing edges, and the batch is one transaction, so only
/// the last one is applied (a scheduled task's start and end, a few changes apart, cost one).
/// Documents are applied in full: a removal between two snapshots of one id also drops the
/// edges into it.
fn superseded(changes: &[(i64, GraphChange)]) -> HashSet<usize> {
    let mut last = HashMap::new();
    let mut replaced = HashSet::new();
    for (index, (_, change)) in changes.iter().enumerate() {
        let key = match change {
            GraphChange::Task(task) => (0, task.id),
            GraphChange::Asset(asset) => (1, asset.id),
            GraphChange::Document(_) | GraphChange::DocumentRemoved { .. } => continue,
        };
        if let Some(earlier) = last.insert(key, index) {
            replaced.insert(earlier);
        }
    }
    replaced
}

/// Statements are prepared once per batch, and only for the kinds of change in it.
fn prepared<T>(
    slot: &mut Option<T>,
    prepare: impl FnOnce() -> GraphResult<T>,
) -> GraphResult<&mut T> {
    if slot.is_none() {
        *slot = Some(prepare()?);
    }
    slot.as_mut()
        .ok_or_else(|| GraphError("statements were not prepared".to_owned()))
}

/// A task subtree's shape as the graph holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subtree {
    /// `(task, parent)` for every task below the root.
    pub children: Vec<(i64, i64)>,
    /// `(task, dependency)` for the root and every task below it; the dependency may lie
    /// outside the subtree.
    pub dependencies: Vec<(i64, i64)>,
}

/// A task upstream of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    /// Its id.
    pub id: i64,
    /// Whether it is completed; one that is not blocks everything downstream.
    pub completed: bool,
}

/// Where an asset came from, as the graph holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lineage {
    /// The runs that produced its versions, with their play.
    pub runs: Vec<(i64, String)>,
    /// The task it was made for (at most one).
    pub tasks: Vec<i64>,
    /// Canon blocks its versions were given.
    pub canon: Vec<i64>,
    /// Documents whose passages its versions were given.
    pub documents: Vec<i64>,
    /// The canon block it became.
    pub promoted_to: Option<i64>,
    /// Assets whose promoted canon it was derived from.
    pub built_on: Vec<i64>,
    /// Assets derived from the canon it was promoted to.
    pub built_upon_by: Vec<i64>,
}

/// Something assets derive from or are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineageSource {
    /// A canon block.
    Canon(i64),
    /// A document.
    Document(i64),
    /// A task.
    Task(i64),
    /// A run.
    Run(i64),
}

fn system_config() -> SystemConfig {
    // A desktop app shares the machine: a modest buffer pool, and a database-size ceiling far
    // above any task graph (Kuzu reserves address space for it).
    SystemConfig::default()
        .buffer_pool_size(256 * 1024 * 1024)
        .max_db_size(64 * 1024 * 1024 * 1024)
}

fn read_value(conn: &Connection<'_>, name: &str) -> GraphResult<Option<i64>> {
    let mut stmt = conn.prepare("MATCH (p:Projection {name: $name}) RETURN p.value")?;
    let mut result = conn.execute(&mut stmt, vec![("name", Value::String(name.to_owned()))])?;
    Ok(match result.next().as_deref() {
        Some([Value::Int64(v)]) => Some(*v),
        _ => None,
    })
}

fn write_mark(conn: &Connection<'_>, mark: Mark) -> GraphResult<()> {
    write_value(conn, "applied_through", mark.through)?;
    write_value(conn, "applied_stamp", mark.stamp.unwrap_or(NO_MARK))?;
    write_value(conn, "vault", mark.vault.unwrap_or(NO_MARK))
}

fn write_value(conn: &Connection<'_>, name: &str, value: i64) -> GraphResult<()> {
    let mut stmt = conn.prepare("MERGE (p:Projection {name: $name}) SET p.value = $value")?;
    conn.execute(
        &mut stmt,
        vec![
            ("name", Value::String(name.to_owned())),
            ("value", Value::Int64(value)),
        ],
    )?;
    Ok(())
}

fn first_int(mut result: kuzu::QueryResult<'_>) -> i64 {
    match result.next().as_deref() {
        Some([Value::Int64(v)]) => *v,
        _ => 0,
    }
}

fn cypher_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

fn remove_dir(dir: &Path) -> GraphResult<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GraphError(format!("remove old projection: {}", e.kind()))),
    }
}
