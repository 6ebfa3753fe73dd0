//! Projects (folders the vault reads) and hook rules (what a changed file does); the ingest of
//! a project is in [`super::ingest`].

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::documents::store;
use crate::documents::walk::SkipReason;
use crate::error::{Error, Result};
use crate::names::Named;
use crate::projection::outbox::{self, GraphChange, VectorChange};
use crate::vault::Atelier;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Paths named per skip reason in a report.
pub(crate) const SKIP_EXAMPLES: usize = 5;

/// A folder to add as a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProjectAdd {
    /// The folder.
    pub path: String,
    /// Its name in the vault; the folder's name when omitted.
    #[serde(default)]
    pub name: Option<String>,
}

/// A project and what the vault holds of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProjectView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The folder, absolute.
    pub root: String,
    /// Whether it is kept in sync by a watcher.
    pub watch: bool,
    /// Documents ingested.
    pub documents: i64,
    /// Passages.
    pub chunks: i64,
    /// When it was last ingested, ms.
    pub ingested_at: Option<i64>,
}

/// A stage of ingest, for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum IngestStage {
    /// Walking the folder.
    Scan,
    /// Reading, parsing, chunking and writing changed files.
    Read,
    /// Computing vectors for new passages.
    Embed,
    /// Bringing the vector index and graph up to date.
    Index,
}

/// How far an ingest is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IngestProgress {
    /// The project.
    pub project: String,
    /// The stage.
    pub stage: IngestStage,
    /// Units done in this stage (files, or passages when embedding).
    pub done: u32,
    /// Units in this stage.
    pub total: u32,
}

/// Files skipped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SkippedFiles {
    /// Why.
    pub reason: SkipReason,
    /// The reason in words.
    pub description: String,
    /// How many.
    pub count: u32,
    /// The first few paths.
    pub examples: Vec<String>,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IngestReport {
    /// The project.
    pub project: String,
    /// Files read or checked.
    pub files: u32,
    /// New documents.
    pub added: u32,
    /// Documents whose content changed.
    pub changed: u32,
    /// Documents left as they were.
    pub unchanged: u32,
    /// Documents whose file is gone.
    pub removed: u32,
    /// Of `added` and `removed`, pairs with identical content: a file moved or renamed.
    pub renamed: u32,
    /// Passages written.
    pub chunks_written: u32,
    /// Passage texts embedded.
    pub embedded: u32,
    /// Passage texts still without a vector (the model is missing, or the run stopped).
    pub unembedded: u32,
    /// Links that point at no document yet.
    pub dangling_links: u32,
    /// Files skipped, by reason.
    pub skipped: Vec<SkippedFiles>,
    /// Documents whose frontmatter is not valid YAML (their body was still read).
    pub frontmatter_errors: Vec<String>,
    /// Why vectors were not computed, when they were not.
    pub embedding_problem: Option<String>,
    /// Milliseconds per stage.
    pub timings: IngestTimings,
}

/// Milliseconds spent per ingest stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IngestTimings {
    /// Walking.
    pub scan: u32,
    /// Reading, parsing and chunking.
    pub read: u32,
    /// Writing to SQLite (and its full-text index).
    pub write: u32,
    /// Embedding.
    pub embed: u32,
    /// Projecting documents, links and tags into the graph.
    pub graph: u32,
    /// Projecting passages into the vector index and optimizing it.
    pub vectors: u32,
}

/// What a hook rule does with a changed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum HookAction {
    /// Ingest it (what happens to every file when a project has no ingest rule).
    Ingest,
    /// Create a task from the rule's template.
    Task,
}

/// A hook rule to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct HookAdd {
    /// The project, by name.
    pub project: String,
    /// Which paths, as a glob relative to the project root.
    pub glob: String,
    /// What to do.
    pub action: HookAction,
    /// For `task`: the title, with `{path}` and `{name}` filled in.
    #[serde(default)]
    pub template: Option<String>,
}

/// A hook rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HookView {
    /// Id.
    pub id: i64,
    /// Project name.
    pub project: String,
    /// The glob.
    pub glob: String,
    /// The action.
    pub action: HookAction,
    /// The task title template.
    pub template: Option<String>,
}

impl Atelier {
    /// Adds a folder as a project. Refuses a path that is not a readable folder, a name or
    /// folder already used, and folders inside or around another project's.
    pub fn project_add(&self, who: &Principal, add: ProjectAdd) -> Result<ProjectView> {
        let root = canonical_folder(&add.path)?;
        let root_text = root
            .to_str()
            .ok_or_else(|| Error::invalid("path", "the folder's path is not valid Unicode"))?
            .to_owned();
        let name = match add.name.as_deref().map(str::trim) {
            Some(name) => name.to_owned(),
            None => root
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("project")
                .to_owned(),
        };
        let name = crate::input::line("name", &name, 100)?;
        self.write(who, Capability::VaultWrite, |ctx| {
            let mut stmt = ctx.tx.prepare("SELECT name, root FROM projects")?;
            let existing = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (other_name, other_root) in existing {
                if other_name == name {
                    return Err(Error::AlreadyExists {
                        kind: "project".to_owned(),
                        id: name.clone(),
                    });
                }
                let other = Path::new(&other_root);
                if root.starts_with(other) || other.starts_with(&root) {
                    return Err(Error::invalid(
                        "path",
                        format!("the folder overlaps project {other_name}; projects cannot nest"),
                    ));
                }
            }
            ctx.tx.execute(
                "INSERT INTO projects (name, root, created_at) VALUES (?1, ?2, ?3)",
                params![name, root_text, ctx.now],
            )?;
            let view = project_view(ctx.tx, &name)?;
            Ok((
                view,
                Entry {
                    action: "project.add",
                    target: Target::Project(name.to_string()),
                    summary: format!("added project {name}"),
                },
            ))
        })
    }

    /// Every project.
    pub fn project_list(&self, who: &Principal) -> Result<Vec<ProjectView>> {
        self.read(who, Capability::VaultRead, |db, _| {
            let names = db
                .prepare("SELECT name FROM projects ORDER BY name")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            names.iter().map(|n| project_view(db, n)).collect()
        })
    }

    /// Removes a project and everything the vault holds of it (never its files).
    pub fn project_remove(&self, who: &Principal, name: &str) -> Result<ProjectView> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let view = project_view(ctx.tx, name)?;
            let ids = ctx
                .tx
                .prepare("SELECT id FROM documents WHERE project_id = ?1")?
                .query_map([view.id], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for id in ids {
                remove_document(ctx.tx, id, ctx.now)?;
            }
            ctx.tx
                .execute("DELETE FROM projects WHERE id = ?1", [view.id])?;
            Ok((
                view.clone(),
                Entry {
                    action: "project.remove",
                    target: Target::Project(name.to_string()),
                    summary: format!("removed project {name} ({} documents)", view.documents),
                },
            ))
        })
    }

    /// Turns a project's watcher on or off (the desktop app and `atelier watch` honour it).
    pub fn project_watch(&self, who: &Principal, name: &str, on: bool) -> Result<ProjectView> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let view = project_view(ctx.tx, name)?;
            ctx.tx.execute(
                "UPDATE projects SET watch = ?2 WHERE id = ?1",
                params![view.id, on],
            )?;
            Ok((
                ProjectView { watch: on, ..view },
                Entry {
                    action: "project.watch",
                    target: Target::Project(name.to_string()),
                    summary: format!("watching {}", if on { "on" } else { "off" }),
                },
            ))
        })
    }

    /// Adds a hook rule.
    pub fn hook_add(&self, who: &Principal, add: HookAdd) -> Result<HookView> {
        globset::Glob::new(&add.glob).map_err(|e| Error::invalid("glob", e.to_string()))?;
        let template = match (add.action, add.template.as_deref().map(str::trim)) {
            (HookAction::Task, Some(t)) if !t.is_empty() => Some(t.to_owned()),
            (HookAction::Task, _) => {
                return Err(Error::invalid(
                    "template",
                    "a task rule needs a title template",
                ));
            }
            (HookAction::Ingest, None) => None,
            (HookAction::Ingest, Some(_)) => {
                return Err(Error::invalid(
                    "template",
                    "only task rules take a template",
                ));
            }
        };
        self.write(who, Capability::VaultWrite, |ctx| {
            let project = project_view(ctx.tx, &add.project)?;
            ctx.tx.execute(
                "INSERT INTO hook_rules (project_id, glob, action, template, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![project.id, add.glob, add.action.name(), template, ctx.now],
            )?;
            let id = ctx.tx.last_insert_rowid();
            Ok((
                HookView {
                    id,
                    project: project.name.clone(),
                    glob: add.glob.clone(),
                    action: add.action,
                    template,
                },
                Entry {
                    action: "hook.add",
                    target: Target::Hook(id),
                    summary: format!("{} {} in {}", add.action.name(), add.glob, project.name),
                },
            ))
        })
    }

    /// Hook rules, of one project or all.
    pub fn hook_list(&self, who: &Principal, project: Option<&str>) -> Result<Vec<HookView>> {
        self.read(who, Capability::VaultRead, |db, _| {
            if let Some(name) = project {
                project_view(db, name)?;
            }
            hooks(db, project)
        })
    }

    /// Removes a hook rule.
    pub fn hook_remove(&self, who: &Principal, id: i64) -> Result<HookView> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let view = hooks(ctx.tx, None)?
                .into_iter()
                .find(|h| h.id == id)
                .ok_or_else(|| Error::not_found("hook rule", id))?;
            ctx.tx
                .execute("DELETE FROM hook_rules WHERE id = ?1", [id])?;
            Ok((
                view.clone(),
                Entry {
                    action: "hook.remove",
                    target: Target::Hook(id),
                    summary: format!("removed {} {}", view.action.name(), view.glob),
                },
            ))
        })
    }

    /// What a watcher does with changed paths of a project: creates a task for each path a
    /// task rule matches (once per batch), then ingests the project if any changed path is to
    /// be ingested. Answers the tasks created and the ingest report, if one ran.
    pub fn apply_changes(
        &self,
        who: &Principal,
        name: &str,
        paths: &[String],
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<(Vec<i64>, Option<IngestReport>)> {
        let rules = self.hook_list(who, Some(name))?;
        let matcher = |glob: &str| {
            globset::Glob::new(glob)
                .map(|g| g.compile_matcher())
                .map_err(|e| Error::invalid("glob", e.to_string()))
        };
        let ingest_rules: Vec<globset::GlobMatcher> = rules
            .iter()
            .filter(|r| r.action == HookAction::Ingest)
            .map(|r| matcher(&r.glob))
            .collect::<Result<_>>()?;
        let mut created = Vec::new();
        for rule in rules.iter().filter(|r| r.action == HookAction::Task) {
            let glob = matcher(&rule.glob)?;
            for path in paths.iter().filter(|p| glob.is_match(p.as_str())) {
                let file = path.rsplit('/').next().unwrap_or(path);
                let title = rule
                    .template
                    .as_deref()
                    .unwrap_or("{path} changed")
                    .replace("{path}", path)
                    .replace("{name}", file);
                let task = self.task_create(
                    who,
                    crate::tasks::commands::NewTask {
                        title,
                        description: format!(
                            "Created by hook rule {} on a change to {path}.",
                            rule.id
                        ),
                        ..crate::tasks::commands::NewTask::default()
                    },
                )?;
                created.push(task.id);
            }
        }
        let wants_ingest = ingest_rules.is_empty()
            || paths
                .iter()
                .any(|p| ingest_rules.iter().any(|g| g.is_match(p.as_str())));
        let report = if wants_ingest {
            Some(self.ingest(who, name, progress)?)
        } else {
            None
        };
        Ok((created, report))
    }

    /// The folders of projects with their watcher on.
    pub fn watched_projects(&self, who: &Principal) -> Result<Vec<ProjectView>> {
        Ok(self
            .project_list(who)?
            .into_iter()
            .filter(|p| p.watch)
            .collect())
    }
}

/// Removes a document and queues its removal for both projections.
pub(crate) fn remove_document(tx: &Connection, id: i64, now: crate::clock::Millis) -> Result<()> {
    store::remove(tx, id)?;
    outbox::push(tx, &GraphChange::DocumentRemoved { id }, now)?;
    outbox::push(tx, &VectorChange::Document { id }, now)?;
    Ok(())
}

/// Queues document `id`'s current state for both projections.
pub(crate) fn push_document(tx: &Connection, id: i64, now: crate::clock::Millis) -> Result<()> {
    if let Some(snapshot) = store::snapshot(tx, id)? {
        outbox::push(tx, &GraphChange::Document(snapshot), now)?;
    }
    outbox::push(tx, &VectorChange::Document { id }, now)?;
    Ok(())
}

fn canonical_folder(path: &str) -> Result<PathBuf> {
    if path.trim().is_empty() {
        return Err(Error::invalid("path", "is empty"));
    }
    if path.contains('\0') {
        return Err(Error::invalid("path", "contains a NUL byte"));
    }
    let root = Path::new(path)
        .canonicalize()
        .map_err(|e| Error::invalid("path", format!("cannot be opened ({})", e.kind())))?;
    if !root.is_dir() {
        return Err(Error::invalid("path", "is not a folder"));
    }
    if root.parent().is_none() {
        return Err(Error::invalid(
            "path",
            "the filesystem root cannot be a project",
        ));
    }
    Ok(root)
}

pub(crate) fn project_view(db: &Connection, name: &str) -> Result<ProjectView> {
    db.query_row(
        "SELECT p.id, p.name, p.root, p.watch, p.ingested_at,
                (SELECT COUNT(*) FROM documents d WHERE d.project_id = p.id),
                (SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id
                  WHERE d.project_id = p.id)
           FROM projects p WHERE p.name = ?1",
        [name],
        |r| {
            Ok(ProjectView {
                id: r.get(0)?,
                name: r.get(1)?,
                root: r.get(2)?,
                watch: r.get(3)?,
                ingested_at: r.get(4)?,
                documents: r.get(5)?,
                chunks: r.get(6)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| Error::not_found("project", name))
}

fn hooks(db: &Connection, project: Option<&str>) -> Result<Vec<HookView>> {
    let mut stmt = db.prepare(
        "SELECT h.id, p.name, h.glob, h.action, h.template FROM hook_rules h
           JOIN projects p ON p.id = h.project_id
          WHERE ?1 IS NULL OR p.name = ?1 ORDER BY h.id",
    )?;
    let rows = stmt.query_map([project], |r| {
        let action: String = r.get(3)?;
        Ok(HookView {
            id: r.get(0)?,
            project: r.get(1)?,
            glob: r.get(2)?,
            action: if action == "task" {
                HookAction::Task
            } else {
                HookAction::Ingest
            },
            template: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn count32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn elapsed_ms(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_millis()).unwrap_or(u32::MAX)
}

impl Named for HookAction {
    const ALL: &'static [Self] = &[Self::Ingest, Self::Task];
    fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Task => "task",
        }
    }
}
