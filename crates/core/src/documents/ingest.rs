//! Ingest, the one long command: it walks the project without holding the database, writes
//! files in batches (each batch one transaction with its audit event and outbox rows, so a
//! crash loses at most the batch in flight and never leaves half a file), re-resolves the
//! project's links, then embeds the passages that have no vector yet, again in batches.

use super::projects::{
    IngestProgress, IngestReport, IngestStage, IngestTimings, SKIP_EXAMPLES, SkippedFiles, count32,
    elapsed_ms, project_view, push_document, remove_document,
};
use crate::access::audit::{self, Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::clock::{Clock, SystemClock};
use crate::documents::store::{self, Known, Prepared};
use crate::documents::walk::{self, Content};
use crate::embed;
use crate::error::{Error, Result};
use crate::projection::outbox::{self, VectorChange};
use crate::vault::{Atelier, OpenVault, authorize_with, lock};
use rusqlite::params;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

/// Files written per transaction.
const WRITE_BATCH: usize = 64;

/// Passage texts embedded per transaction.
const EMBED_BATCH: usize = 128;

/// A file as read: text for notes and canvases, bytes for the other attachments.
enum Read {
    Text(String),
    Bytes(Vec<u8>),
}

impl Read {
    fn bytes(&self) -> &[u8] {
        match self {
            Read::Text(text) => text.as_bytes(),
            Read::Bytes(bytes) => bytes,
        }
    }
}

impl Atelier {
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
        let caps = walk::Caps {
            text: open.config.ingest_max_file_bytes,
            attachment: open.config.ingest_max_attachment_bytes,
        };
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
        let walked = walk::walk(&root, caps, SystemClock.now());
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
            let read = if walk::kind_of(&found.path).is_binary() {
                walk::read_bytes(&root, &found.path, caps.attachment).map(Read::Bytes)
            } else {
                match walk::read_text(&root, &found.path, caps.text) {
                    Content::Text(text) => Ok(Read::Text(text)),
                    Content::Skipped(reason) => Err(reason),
                }
            };
            let read = match read {
                Ok(read) => read,
                Err(reason) => {
                    skipped.entry(reason).or_default().push(found.path.clone());
                    seen.remove(&found.path);
                    continue;
                }
            };
            // Hashed once: the unchanged check and the document share it (an attachment may be
            // tens of MiB).
            let hash = store::content_hash(read.bytes());
            if let Some(k) = previous
                && k.hash == hash
            {
                touched.push((k.id, found.recorded_at));
                report.unchanged += 1;
                continue;
            }
            let prepared = match &read {
                Read::Text(text) => store::prepare(
                    &found.path,
                    text,
                    hash,
                    found.size,
                    found.recorded_at,
                    embedder.as_ref(),
                ),
                Read::Bytes(bytes) => store::prepare_attachment(
                    &found.path,
                    bytes,
                    hash,
                    found.size,
                    found.recorded_at,
                    embedder.as_ref(),
                ),
            };
            if let Some(reason) = prepared.unread {
                skipped.entry(reason).or_default().push(found.path.clone());
            }
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
    pub(crate) fn write_batch(
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
                        target: Target::Project(name.to_string()),
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
    pub(crate) fn finish_files(
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
                target: Target::Project(name.to_string()),
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
    pub(crate) fn embed_pending(
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
}
