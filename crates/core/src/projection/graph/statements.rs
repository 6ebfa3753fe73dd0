//! The prepared Cypher statements that apply one batch of task, document and asset snapshots
//! to the graph, prepared once per batch.

use super::GraphResult;
use crate::projection::outbox::{AssetSnapshot, DocumentSnapshot, LinkSnapshot, TaskSnapshot};
use kuzu::{Connection, LogicalType, Value};

/// Prepared statements for applying task snapshots, prepared once per batch.
pub(super) struct TaskStatements {
    pub(super) upsert: kuzu::PreparedStatement,
    pub(super) clear_edges: kuzu::PreparedStatement,
    pub(super) set_parent: kuzu::PreparedStatement,
    pub(super) set_deps: kuzu::PreparedStatement,
    pub(super) set_role: kuzu::PreparedStatement,
}

impl TaskStatements {
    pub(super) fn prepare(conn: &Connection<'_>) -> GraphResult<Self> {
        Ok(TaskStatements {
            upsert: conn.prepare("MERGE (t:Task {id: $id}) SET t.state = $state")?,
            // A task's outgoing edges are CHILD_OF, DEPENDS_ON and ASSIGNED_TO, all rewritten
            // from the snapshot: one statement clears them (each statement costs a plan and a
            // scan, and a task's state moves several times per run).
            clear_edges: conn.prepare("MATCH (t:Task {id: $id})-[r]->() DELETE r")?,
            set_parent: conn.prepare(
                "MATCH (t:Task {id: $id}) MERGE (p:Task {id: $parent}) CREATE (t)-[:CHILD_OF]->(p)",
            )?,
            set_deps: conn.prepare(
                "MATCH (t:Task {id: $id}) UNWIND $deps AS dep
                 MERGE (d:Task {id: dep}) CREATE (t)-[:DEPENDS_ON]->(d)",
            )?,
            set_role: conn.prepare(
                "MATCH (t:Task {id: $id}) MERGE (r:Role {name: $role}) CREATE (t)-[:ASSIGNED_TO]->(r)",
            )?,
        })
    }

    pub(super) fn apply(&mut self, conn: &Connection<'_>, task: &TaskSnapshot) -> GraphResult<()> {
        let id = || ("id", Value::Int64(task.id));
        conn.execute(
            &mut self.upsert,
            vec![id(), ("state", Value::String(task.state.clone()))],
        )?;
        conn.execute(&mut self.clear_edges, vec![id()])?;
        if let Some(parent) = task.parent {
            conn.execute(
                &mut self.set_parent,
                vec![id(), ("parent", Value::Int64(parent))],
            )?;
        }
        if !task.depends_on.is_empty() {
            let deps = task.depends_on.iter().map(|d| Value::Int64(*d)).collect();
            conn.execute(
                &mut self.set_deps,
                vec![id(), ("deps", Value::List(LogicalType::Int64, deps))],
            )?;
        }
        if let Some(role) = &task.role {
            conn.execute(
                &mut self.set_role,
                vec![id(), ("role", Value::String(role.clone()))],
            )?;
        }
        Ok(())
    }
}

/// Prepared statements for applying document snapshots.
pub(super) struct DocumentStatements {
    pub(super) upsert: kuzu::PreparedStatement,
    pub(super) clear_links: kuzu::PreparedStatement,
    pub(super) clear_embeds: kuzu::PreparedStatement,
    pub(super) set_embeds: kuzu::PreparedStatement,
    pub(super) clear_tags: kuzu::PreparedStatement,
    pub(super) clear_project: kuzu::PreparedStatement,
    pub(super) set_project: kuzu::PreparedStatement,
    pub(super) set_tags: kuzu::PreparedStatement,
    pub(super) set_links: kuzu::PreparedStatement,
    pub(super) set_missing: kuzu::PreparedStatement,
    pub(super) remove: kuzu::PreparedStatement,
}

impl DocumentStatements {
    pub(super) fn prepare(conn: &Connection<'_>) -> GraphResult<Self> {
        Ok(DocumentStatements {
            upsert: conn.prepare(
                "MERGE (d:Document {id: $id})
                 SET d.project = $project, d.path = $path, d.title = $title, d.kind = $kind",
            )?,
            clear_links: conn.prepare("MATCH (d:Document {id: $id})-[r:LINKS_TO]->() DELETE r")?,
            clear_embeds: conn.prepare("MATCH (d:Document {id: $id})-[r:EMBEDS]->() DELETE r")?,
            set_embeds: conn.prepare(
                "MATCH (d:Document {id: $id}) UNWIND $targets AS target
                 MERGE (t:Document {id: target}) CREATE (d)-[:EMBEDS]->(t)",
            )?,
            clear_tags: conn.prepare("MATCH (d:Document {id: $id})-[r:TAGGED]->() DELETE r")?,
            clear_project: conn
                .prepare("MATCH (d:Document {id: $id})-[r:IN_PROJECT]->() DELETE r")?,
            set_project: conn.prepare(
                "MATCH (d:Document {id: $id}) MERGE (p:Project {name: $project}) CREATE (d)-[:IN_PROJECT]->(p)",
            )?,
            set_tags: conn.prepare(
                "MATCH (d:Document {id: $id}) UNWIND $tags AS tag
                 MERGE (t:Tag {name: tag}) CREATE (d)-[:TAGGED]->(t)",
            )?,
            set_links: conn.prepare(
                "MATCH (d:Document {id: $id}) UNWIND $targets AS target
                 MERGE (t:Document {id: target}) CREATE (d)-[:LINKS_TO]->(t)",
            )?,
            set_missing: conn.prepare(
                "MATCH (d:Document {id: $id}) UNWIND $targets AS target
                 MERGE (t:Missing {target: target}) CREATE (d)-[:LINKS_TO]->(t)",
            )?,
            remove: conn.prepare("MATCH (d:Document {id: $id}) DETACH DELETE d")?,
        })
    }

    pub(super) fn apply(
        &mut self,
        conn: &Connection<'_>,
        doc: &DocumentSnapshot,
    ) -> GraphResult<()> {
        let id = || ("id", Value::Int64(doc.id));
        let text = |s: &str| Value::String(s.to_owned());
        conn.execute(
            &mut self.upsert,
            vec![
                id(),
                ("project", text(&doc.project)),
                ("path", text(&doc.path)),
                ("title", text(&doc.title)),
                ("kind", text(&doc.kind)),
            ],
        )?;
        conn.execute(&mut self.clear_links, vec![id()])?;
        conn.execute(&mut self.clear_embeds, vec![id()])?;
        if !doc.embeds.is_empty() {
            let targets = doc.embeds.iter().map(|t| Value::Int64(*t)).collect();
            conn.execute(
                &mut self.set_embeds,
                vec![id(), ("targets", Value::List(LogicalType::Int64, targets))],
            )?;
        }
        conn.execute(&mut self.clear_tags, vec![id()])?;
        conn.execute(&mut self.clear_project, vec![id()])?;
        conn.execute(
            &mut self.set_project,
            vec![id(), ("project", text(&doc.project))],
        )?;
        if !doc.tags.is_empty() {
            let tags = doc.tags.iter().map(|t| text(t)).collect();
            conn.execute(
                &mut self.set_tags,
                vec![id(), ("tags", Value::List(LogicalType::String, tags))],
            )?;
        }
        let mut resolved = Vec::new();
        let mut missing = Vec::new();
        for link in &doc.links {
            match link {
                LinkSnapshot::Resolved(target) => resolved.push(Value::Int64(*target)),
                LinkSnapshot::Dangling(target) => missing.push(text(target)),
            }
        }
        if !resolved.is_empty() {
            conn.execute(
                &mut self.set_links,
                vec![id(), ("targets", Value::List(LogicalType::Int64, resolved))],
            )?;
        }
        if !missing.is_empty() {
            conn.execute(
                &mut self.set_missing,
                vec![id(), ("targets", Value::List(LogicalType::String, missing))],
            )?;
        }
        Ok(())
    }

    pub(super) fn remove(&mut self, conn: &Connection<'_>, id: i64) -> GraphResult<()> {
        conn.execute(&mut self.remove, vec![("id", Value::Int64(id))])?;
        Ok(())
    }
}

/// Prepared statements for applying asset snapshots.
pub(super) struct AssetStatements {
    pub(super) upsert: kuzu::PreparedStatement,
    pub(super) clear: kuzu::PreparedStatement,
    pub(super) set_run: kuzu::PreparedStatement,
    pub(super) set_task: kuzu::PreparedStatement,
    pub(super) set_canon: kuzu::PreparedStatement,
    pub(super) set_documents: kuzu::PreparedStatement,
    pub(super) set_promoted: kuzu::PreparedStatement,
}

impl AssetStatements {
    pub(super) fn prepare(conn: &Connection<'_>) -> GraphResult<Self> {
        Ok(AssetStatements {
            upsert: conn
                .prepare("MERGE (a:Asset {id: $id}) SET a.title = $title, a.state = $state")?,
            clear: conn.prepare(
                "MATCH (a:Asset {id: $id})-[r:PRODUCED_BY|DERIVED_FROM|FOR_TASK|PROMOTED_TO]->() DELETE r",
            )?,
            set_run: conn.prepare(
                "MATCH (a:Asset {id: $id}) MERGE (r:Run {id: $run}) SET r.play = $play
                 CREATE (a)-[:PRODUCED_BY]->(r)",
            )?,
            set_task: conn.prepare(
                "MATCH (a:Asset {id: $id}) MERGE (t:Task {id: $task}) CREATE (a)-[:FOR_TASK]->(t)",
            )?,
            set_canon: conn.prepare(
                "MATCH (a:Asset {id: $id}) UNWIND $targets AS target
                 MERGE (c:Canon {id: target}) CREATE (a)-[:DERIVED_FROM]->(c)",
            )?,
            set_documents: conn.prepare(
                "MATCH (a:Asset {id: $id}) UNWIND $targets AS target
                 MERGE (d:Document {id: target}) CREATE (a)-[:DERIVED_FROM]->(d)",
            )?,
            set_promoted: conn.prepare(
                "MATCH (a:Asset {id: $id}) MERGE (c:Canon {id: $canon}) CREATE (a)-[:PROMOTED_TO]->(c)",
            )?,
        })
    }

    pub(super) fn apply(
        &mut self,
        conn: &Connection<'_>,
        asset: &AssetSnapshot,
    ) -> GraphResult<()> {
        let id = || ("id", Value::Int64(asset.id));
        conn.execute(
            &mut self.upsert,
            vec![
                id(),
                ("title", Value::String(asset.title.clone())),
                ("state", Value::String(asset.state.clone())),
            ],
        )?;
        conn.execute(&mut self.clear, vec![id()])?;
        for (run, play) in &asset.runs {
            conn.execute(
                &mut self.set_run,
                vec![
                    id(),
                    ("run", Value::Int64(*run)),
                    ("play", Value::String(play.clone())),
                ],
            )?;
        }
        if let Some(task) = asset.task {
            conn.execute(&mut self.set_task, vec![id(), ("task", Value::Int64(task))])?;
        }
        for (statement, targets) in [
            (&mut self.set_canon, &asset.canon),
            (&mut self.set_documents, &asset.documents),
        ] {
            if !targets.is_empty() {
                let targets = targets.iter().map(|t| Value::Int64(*t)).collect();
                conn.execute(
                    statement,
                    vec![id(), ("targets", Value::List(LogicalType::Int64, targets))],
                )?;
            }
        }
        if let Some(canon) = asset.promoted_to {
            conn.execute(
                &mut self.set_promoted,
                vec![id(), ("canon", Value::Int64(canon))],
            )?;
        }
        Ok(())
    }
}
