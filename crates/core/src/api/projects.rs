//! Projects, ingest and hook rules.
//!
//! Ingest is the one long command: it walks the project without holding the database, writes
//! files in batches (each batch one transaction with its audit event and outbox rows, so a
//! crash loses at most the batch in flight and never leaves half a file), re-resolves the
//! project's links, then embeds the passages that have no vector yet, again in batches.

use super::{Atelier, OpenVault, authorize_with, lock};
use crate::audit::{self, Entry};
use crate::auth::{Capability, Principal};
use crate::clock::{Clock, SystemClock};
use crate::docs::store::{self, Known, Prepared};
use crate::docs::walk::{self, Content, SkipReason};
use crate::embed;
use crate::error::{Error, Result};
use crate::outbox::{self, GraphChange, VectorChange};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Files written per transaction.
const WRITE_BATCH: usize = 64;

/// Passage texts embedded per transaction.
const EMBED_BATCH: usize = 128;

/// Paths named per skip reason in a report.
const SKIP_EXAMPLES: usize = 5;

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
                    target: format!("project:{name}"),
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
                    target: format!("project:{name}"),
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
                    target: format!("project:{name}"),
                    summary: format!("watching {}", if on { "on" } else { "off" }),
                },
            ))
        })
    }

    /// Ingests a project: reads what changed since the last ingest, removes what is gone,
    /// re-resolves links, embeds new passages and brings the indexes up to date. `progress`
    /// hears about each stage.
    pub fn ingest(
        &self,
        who: &Principal,
        name: &str,
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<IngestReport> {
        let open = self.open_vault()?;
        let (project, root) = {
            let db = lock(&open.db);
            authorize_with(&db, open, who, Capability::VaultWrite, self.now())?;
            let view = project_view(&db, name)?;
            (view.id, PathBuf::from(view.root))
        };
        if !root.is_dir() {
            return Err(Error::invalid(
                "project",
                format!("the folder of project {name} is gone or unreadable; nothing was changed"),
            ));
        }
        let max_bytes = open.config.ingest_max_file_bytes;
        let mut report = IngestReport {
            project: name.to_owned(),
            files: 0,
            added: 0,
            changed: 0,
            unchanged: 0,
            removed: 0,
            renamed: 0,
            chunks_written: 0,
            embedded: 0,
            unembedded: 0,
            dangling_links: 0,
            skipped: Vec::new(),
            frontmatter_errors: Vec::new(),
            embedding_problem: None,
            timings: IngestTimings::default(),
        };
        let mut tell = |stage, done: usize, total: usize| {
            progress(&IngestProgress {
                project: name.to_owned(),
                stage,
                done: count32(done),
                total: count32(total),
            });
        };

        tell(IngestStage::Scan, 0, 0);
        let started = Instant::now();
        // The wall clock, not the injected one: it is compared with the file system's stamps.
        let walked = walk::walk(&root, max_bytes, SystemClock.now());
        report.timings.scan = elapsed_ms(started);
        let mut skipped = walked.skipped;
        let known = store::known(&lock(&open.db), project)?;
        report.files = count32(walked.files.len());

        // The tokenizer decides passage boundaries, so nothing is written without it.
        let embedder = self.embedder(open)?;
        let mut batch: Vec<Prepared> = Vec::new();
        let mut touched: Vec<(i64, i64)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut added_hashes: Vec<String> = Vec::new();
        let total = walked.files.len();
        for (index, found) in walked.files.iter().enumerate() {
            tell(IngestStage::Read, index, total);
            seen.insert(found.path.clone());
            let previous = known.get(&found.path);
            if previous.is_some_and(|k| k.size == found.size && k.modified_at == found.modified_at)
            {
                report.unchanged += 1;
                continue;
            }
            let started = Instant::now();
            let text = match walk::read_text(&root, &found.path, max_bytes) {
                Content::Text(text) => text,
                Content::Skipped(reason) => {
                    skipped.entry(reason).or_default().push(found.path.clone());
                    seen.remove(&found.path);
                    continue;
                }
            };
            if let Some(k) = previous
                && k.hash == store::content_hash(text.as_bytes())
            {
                touched.push((k.id, found.recorded_at));
                report.unchanged += 1;
                continue;
            }
            let prepared = store::prepare(
                &found.path,
                &text,
                found.size,
                found.recorded_at,
                embedder.as_ref(),
            );
            report.timings.read += elapsed_ms(started);
            if prepared.frontmatter_error.is_some() {
                report.frontmatter_errors.push(found.path.clone());
            }
            if previous.is_some() {
                report.changed += 1;
            } else {
                report.added += 1;
                added_hashes.push(prepared.hash.clone());
            }
            report.chunks_written += count32(prepared.passages.len());
            batch.push(prepared);
            if batch.len() == WRITE_BATCH {
                let started = Instant::now();
                self.write_batch(open, who, project, name, &mut batch, &mut touched)?;
                report.timings.write += elapsed_ms(started);
            }
        }
        let started = Instant::now();
        self.write_batch(open, who, project, name, &mut batch, &mut touched)?;
        let gone: Vec<&Known> = known
            .iter()
            .filter(|(path, _)| !seen.contains(*path))
            .map(|(_, k)| k)
            .collect();
        report.removed = count32(gone.len());
        let mut added_left: HashMap<&str, usize> = HashMap::new();
        for hash in &added_hashes {
            *added_left.entry(hash.as_str()).or_default() += 1;
        }
        for k in &gone {
            if let Some(left) = added_left.get_mut(k.hash.as_str())
                && *left > 0
            {
                *left -= 1;
                report.renamed += 1;
            }
        }
        let gone_ids: Vec<i64> = gone.iter().map(|k| k.id).collect();
        report.dangling_links = self.finish_files(open, who, project, name, &gone_ids)?;
        report.timings.write += elapsed_ms(started);
        report.skipped = skipped
            .into_iter()
            .map(|(reason, paths)| SkippedFiles {
                reason,
                description: reason.describe().to_owned(),
                count: count32(paths.len()),
                examples: paths.into_iter().take(SKIP_EXAMPLES).collect(),
            })
            .collect();

        let started = Instant::now();
        let embedding = self.embed_pending(open, &embedder, &mut |done, total| {
            tell(IngestStage::Embed, done, total);
        });
        report.timings.embed = elapsed_ms(started);
        match embedding {
            Ok(embedded) => report.embedded = count32(embedded),
            Err(e) => report.embedding_problem = Some(e.to_string()),
        }
        report.unembedded =
            count32(store::unembedded_count(&lock(&open.db), embed::MODEL_NAME).unwrap_or(0));

        tell(IngestStage::Index, 0, 1);
        let started = Instant::now();
        self.graph_in_sync(open)?;
        report.timings.graph = elapsed_ms(started);
        let started = Instant::now();
        self.with_vectors(open, |_, vectors| {
            vectors.optimize()?;
            Ok(())
        })?;
        report.timings.vectors = elapsed_ms(started);
        tell(IngestStage::Index, 1, 1);
        self.anchor_audit(open);
        Ok(report)
    }

    /// Writes a batch of read files (and records unchanged files' new times) in one
    /// transaction with its audit event and outbox rows.
    fn write_batch(
        &self,
        open: &OpenVault,
        who: &Principal,
        project: i64,
        name: &str,
        batch: &mut Vec<Prepared>,
        touched: &mut Vec<(i64, i64)>,
    ) -> Result<()> {
        if batch.is_empty() && touched.is_empty() {
            return Ok(());
        }
        let now = self.now();
        {
            let mut db = lock(&open.db);
            let tx = db.transaction()?;
            for (id, modified_at) in touched.drain(..) {
                store::touch(&tx, id, modified_at)?;
            }
            for file in batch.iter() {
                let id = store::write(&tx, project, file, now)?;
                push_document(&tx, id, now)?;
            }
            if !batch.is_empty() {
                audit::append(
                    &tx,
                    who,
                    &Entry {
                        action: "docs.ingest",
                        target: format!("project:{name}"),
                        summary: format!(
                            "read {} file(s): {}",
                            batch.len(),
                            batch
                                .iter()
                                .take(3)
                                .map(|f| f.path.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                    now,
                )?;
            }
            tx.commit()?;
        }
        batch.clear();
        Ok(())
    }

    /// Removes the documents of files that are gone, re-resolves the project's links and
    /// stamps the project, in one transaction. Answers the number of dangling links.
    fn finish_files(
        &self,
        open: &OpenVault,
        who: &Principal,
        project: i64,
        name: &str,
        gone: &[i64],
    ) -> Result<u32> {
        let now = self.now();
        let mut db = lock(&open.db);
        let tx = db.transaction()?;
        for id in gone {
            remove_document(&tx, *id, now)?;
        }
        let relinked = store::resolve_links(&tx, project)?;
        for id in &relinked {
            push_document(&tx, *id, now)?;
        }
        tx.execute(
            "UPDATE projects SET ingested_at = ?2 WHERE id = ?1",
            params![project, now],
        )?;
        let dangling: i64 = tx.query_row(
            "SELECT COUNT(*) FROM links l JOIN documents d ON d.id = l.source_id
              WHERE d.project_id = ?1 AND l.target_id IS NULL",
            [project],
            |r| r.get(0),
        )?;
        audit::append(
            &tx,
            who,
            &Entry {
                action: "docs.sync",
                target: format!("project:{name}"),
                summary: format!(
                    "removed {} document(s); {} document(s) relinked",
                    gone.len(),
                    relinked.len()
                ),
            },
            now,
        )?;
        tx.commit()?;
        Ok(u32::try_from(dangling).unwrap_or(u32::MAX))
    }

    /// Embeds every passage text without a vector, in batches; each batch is stored with its
    /// outbox rows in one transaction. Answers how many texts were embedded.
    fn embed_pending(
        &self,
        open: &OpenVault,
        embedder: &embed::Embedder,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<usize> {
        let total = store::unembedded_count(&lock(&open.db), embed::MODEL_NAME)?;
        let mut done = 0;
        progress(0, total);
        loop {
            let pending = store::unembedded(&lock(&open.db), embed::MODEL_NAME, EMBED_BATCH)?;
            if pending.is_empty() {
                return Ok(done);
            }
            let texts: Vec<&str> = pending.iter().map(|(_, t)| t.as_str()).collect();
            let vectors = embedder.embed(&texts)?;
            let rows: Vec<(String, Vec<f32>)> = pending
                .into_iter()
                .map(|(hash, _)| hash)
                .zip(vectors)
                .collect();
            {
                let now = self.now();
                let mut db = lock(&open.db);
                let tx = db.transaction()?;
                for document in store::store_embeddings(&tx, embed::MODEL_NAME, &rows)? {
                    outbox::push(&tx, &VectorChange::Document { id: document }, now)?;
                }
                tx.commit()?;
            }
            done += rows.len();
            progress(done, total.max(done));
        }
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
                params![
                    project.id,
                    add.glob,
                    action_name(add.action),
                    template,
                    ctx.now
                ],
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
                    target: format!("hook:{id}"),
                    summary: format!(
                        "{} {} in {}",
                        action_name(add.action),
                        add.glob,
                        project.name
                    ),
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
                    target: format!("hook:{id}"),
                    summary: format!("removed {} {}", action_name(view.action), view.glob),
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
                    super::NewTask {
                        title,
                        description: format!(
                            "Created by hook rule {} on a change to {path}.",
                            rule.id
                        ),
                        ..super::NewTask::default()
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
fn remove_document(tx: &Connection, id: i64, now: crate::clock::Millis) -> Result<()> {
    store::remove(tx, id)?;
    outbox::push(tx, &GraphChange::DocumentRemoved { id }, now)?;
    outbox::push(tx, &VectorChange::Document { id }, now)?;
    Ok(())
}

/// Queues document `id`'s current state for both projections.
fn push_document(tx: &Connection, id: i64, now: crate::clock::Millis) -> Result<()> {
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

fn project_view(db: &Connection, name: &str) -> Result<ProjectView> {
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

fn action_name(action: HookAction) -> &'static str {
    match action {
        HookAction::Ingest => "ingest",
        HookAction::Task => "task",
    }
}

fn count32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn elapsed_ms(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_millis()).unwrap_or(u32::MAX)
}
