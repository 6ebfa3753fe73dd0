//! Reading what ingest produced: search (words, meaning, both), a document with its links and
//! backlinks, and the documents related to one, each with why.

use super::DocumentSummary;
use super::attachment::Media;
use super::store;
use super::store::{find_document, summary};
use super::{DocumentKind, walk};
use crate::access::auth::{Capability, Principal};
use crate::documents::eval::{self, EvalReport, EvalRequest};
use crate::documents::search::{self, SearchFilter, SearchHit, SearchMode};
use crate::embed;
use crate::error::{Error, Result};
use crate::names::Named;
use crate::vault::{Atelier, authorize_with, lock, readable_documents};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A search.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What to look for.
    pub query: String,
    /// How.
    #[serde(default)]
    pub mode: SearchMode,
    /// Which documents.
    #[serde(default)]
    pub filter: SearchFilter,
    /// At most this many results (1 to 100; 10 when omitted).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Every word (and quoted phrase) must occur, instead of any.
    #[serde(default)]
    pub all_words: bool,
    /// One result per passage, instead of one per document with its other passages beneath.
    #[serde(default)]
    pub passages: bool,
    /// Also say which fields each hit's words matched, and how much each counted
    /// ([`search::Explanation::fields`]; one more pass over the index). Ranks and scores by
    /// words, meaning and fusion are always given.
    #[serde(default)]
    pub explain: bool,
}

/// A document's text, passage by passage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DocumentText {
    /// The document.
    pub document: DocumentSummary,
    /// An attachment's media facts; `None` for a note.
    pub media: Option<Media>,
    /// Its passages, in order (a PDF's "lines" are its pages).
    pub passages: Vec<PassageText>,
}

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PassageText {
    /// The heading path it sits under.
    pub heading: String,
    /// First and last line in the file, from 1.
    pub lines: (i64, i64),
    /// The text.
    pub body: String,
}

/// A link as written, and where it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LinkView {
    /// `wikilink`, `embed` or `markdown`.
    pub form: String,
    /// The target as written.
    pub target: String,
    /// The `#heading` part.
    pub heading: Option<String>,
    /// The label.
    pub label: Option<String>,
    /// Line in the source.
    pub line: i64,
    /// The document it resolves to; `None` while it dangles.
    pub resolved: Option<DocumentSummary>,
}

/// The largest image [`Atelier::document_preview`] reads.
pub const MAX_PREVIEW_BYTES: u64 = 16 << 20;

/// An image attachment's bytes, for a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Preview {
    /// The image's media type.
    pub media_type: String,
    /// Its bytes in base64 (standard alphabet, padded), ready for a `data:` URL.
    pub base64: String,
}

/// A document with its metadata, links and backlinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DocumentView {
    /// The document.
    pub document: DocumentSummary,
    /// The file, absolute, to open it.
    pub file: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Every frontmatter key, as JSON text.
    pub frontmatter: String,
    /// Size in bytes.
    pub size: i64,
    /// An attachment's media facts; `None` for a note.
    pub media: Option<Media>,
    /// Passages.
    pub chunks: i64,
    /// Outgoing links, in order.
    pub links: Vec<LinkView>,
    /// Documents linking here, with the line of the link in each.
    pub backlinks: Vec<Backlink>,
}

/// A document linking to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Backlink {
    /// The linking document.
    pub source: DocumentSummary,
    /// Line of the link in it.
    pub line: i64,
}

/// Why a document is related.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelatedReason {
    /// The document links to it.
    LinksTo,
    /// It links to the document.
    LinkedFrom,
    /// The document embeds it (`![[…]]`: an image, a recording, a PDF, a passage).
    Embeds,
    /// It embeds the document.
    EmbeddedIn,
    /// Their passages are close in meaning.
    Similar {
        /// Best cosine similarity between a passage of each.
        score: f32,
    },
    /// They share tags.
    SharedTags {
        /// The tags.
        tags: Vec<String>,
    },
}

/// A related document and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RelatedDocument {
    /// The document.
    pub document: DocumentSummary,
    /// Every reason, strongest first.
    pub reasons: Vec<RelatedReason>,
    /// The ranking score: 1 per link direction, 0.5 more per embed direction, plus similarity,
    /// plus 0.1 per shared tag.
    pub score: f64,
}

impl Atelier {
    /// Searches passages. Needs `vault_read` and `file_read`; a scoped `file_read` searches
    /// only the files its glob covers.
    pub fn search(&self, who: &Principal, request: SearchRequest) -> Result<Vec<SearchHit>> {
        let open = self.open_vault()?;
        let limit = match request.limit {
            None => 10,
            Some(n @ 1..=100) => n as usize,
            Some(n) => {
                return Err(Error::invalid(
                    "limit",
                    format!("must be 1 to 100, not {n}"),
                ));
            }
        };
        if request.query.trim().is_empty() {
            return Err(Error::invalid("query", "is empty"));
        }
        if request.query.len() > 4096 {
            return Err(Error::invalid("query", "is longer than 4096 bytes"));
        }
        let documents = {
            let db = lock(&open.db);
            authorize_with(&db, open, who, Capability::VaultRead, self.now())?;
            // Hits carry the files' text: only files the caller's `file_read` covers.
            let readable = readable_documents(&db, open, who, self.now())?;
            let allowed = search::allowed_documents(&db, &request.filter)
                .map_err(|e| Error::invalid("filter", e))?;
            match (allowed, readable) {
                (None, readable) => readable,
                (allowed, None) => allowed,
                (Some(allowed), Some(readable)) => {
                    let readable: std::collections::HashSet<i64> = readable.into_iter().collect();
                    Some(
                        allowed
                            .into_iter()
                            .filter(|id| readable.contains(id))
                            .collect(),
                    )
                }
            }
        };
        if documents.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let query = search::Query::parse(&request.query, request.all_words);
        let depth = search::leg_depth(limit);
        let mut found = search::Found::default();
        if request.mode != SearchMode::Vector {
            let db = lock(&open.db);
            let text = search::text_hits(&db, &query, documents.as_deref(), depth)?;
            found.words = text
                .into_iter()
                .map(|hit| (hit.chunk, hit.document, hit.score))
                .collect();
        }
        if request.mode != SearchMode::Text {
            let embedder = self.embedder(open)?;
            let vector = embedder.embed_query(&request.query)?;
            let nearest = self.with_vectors(open, |_, vectors| {
                Ok(vectors.nearest(&vector, documents.as_deref(), depth)?)
            })?;
            let ids: Vec<i64> = nearest.iter().map(|h| h.chunk).collect();
            let document_of = search::documents_of(&lock(&open.db), &ids)?;
            found.meaning = nearest
                .iter()
                .filter_map(|h| Some((h.chunk, *document_of.get(&h.chunk)?, f64::from(h.score))))
                .collect();
        }
        let ranked = search::rank(&found, request.mode, request.passages, limit);
        let db = lock(&open.db);
        let shown: Vec<i64> = ranked
            .iter()
            .flat_map(|r| std::iter::once(r.chunk).chain(r.others.iter().map(|(c, _)| *c)))
            .collect();
        let mut sources = search::sources(&db, &shown)?;
        let best: Vec<i64> = ranked.iter().map(|r| r.chunk).collect();
        let found_by_words: std::collections::HashSet<i64> =
            found.words.iter().map(|(chunk, _, _)| *chunk).collect();
        // A passage found by meaning alone shows its excerpt unless some word of the query
        // occurs in its body.
        let mut snippets = search::snippets(&db, &query, &best)?;
        snippets.retain(|chunk, parts| {
            found_by_words.contains(chunk) || parts.iter().any(|p| p.highlight)
        });
        let mut fields = if request.explain {
            search::field_scores(&db, &query, &best)?
        } else {
            HashMap::new()
        };
        let mut hits = Vec::with_capacity(ranked.len());
        for mut r in ranked {
            let Some((source, body)) = sources.remove(&r.chunk) else {
                continue;
            };
            r.explain.fields = fields.remove(&r.chunk).unwrap_or_default();
            let others = r
                .others
                .iter()
                .filter_map(|(chunk, score)| {
                    let (other, _) = sources.get(chunk)?;
                    Some(search::OtherPassage {
                        chunk: *chunk,
                        heading: other.heading.clone(),
                        lines: other.lines,
                        score: *score,
                    })
                })
                .collect();
            hits.push(SearchHit {
                source,
                snippet: snippets
                    .remove(&r.chunk)
                    .unwrap_or_else(|| search::excerpt(&body, &[])),
                score: r.score,
                text_rank: r.passage_ranks.0,
                vector_rank: r.passage_ranks.1,
                explain: r.explain,
                others,
            });
        }
        Ok(hits)
    }

    /// Judges search on labelled questions: every mode, then the naive baselines built from
    /// the same passages, each scored by recall@1, recall@5 and MRR@10 over documents. Needs
    /// what a search needs, with `file_read` over every file (the baselines read them all).
    pub fn search_eval(&self, who: &Principal, request: EvalRequest) -> Result<EvalReport> {
        let open = self.open_vault()?;
        if request.labels.is_empty() {
            return Err(Error::invalid("labels", "no labelled question"));
        }
        let filter = SearchFilter {
            project: request.project.clone(),
            ..SearchFilter::default()
        };
        let corpus = {
            let db = lock(&open.db);
            authorize_with(&db, open, who, Capability::VaultRead, self.now())?;
            if readable_documents(&db, open, who, self.now())?.is_some() {
                return Err(Error::Denied {
                    principal: who.as_text(),
                    capability: Capability::FileRead,
                });
            }
            eval::corpus(&db, &filter)?
        };
        if corpus.is_empty() {
            return Err(Error::invalid(
                "project",
                "has no passages: ingest it before judging search on it",
            ));
        }
        let labels = &request.labels;
        let per_query =
            |started: crate::clock::Millis| (self.now() - started) as f64 / labels.len() as f64;
        let mut rows = Vec::new();
        let mut misses = Vec::new();
        for mode in eval::MODES {
            let started = self.now();
            let mut rankings = Vec::with_capacity(labels.len());
            for label in labels {
                let hits = self.search(
                    who,
                    SearchRequest {
                        query: label.query.clone(),
                        mode,
                        filter: filter.clone(),
                        limit: Some(eval::DEPTH as u32),
                        ..SearchRequest::default()
                    },
                )?;
                rankings.push(eval::distinct(hits.into_iter().map(|h| h.source.path)));
            }
            let elapsed = per_query(started);
            if mode == SearchMode::Hybrid {
                for (label, ranking) in labels.iter().zip(&rankings) {
                    if !ranking.iter().take(5).any(|p| label.expected.contains(p)) {
                        misses.push((
                            label.query.clone(),
                            label.expected.clone(),
                            ranking.iter().take(3).cloned().collect(),
                        ));
                    }
                }
            }
            rows.push(eval::score(mode.name(), labels, &rankings, elapsed));
        }
        let started = self.now();
        let words = eval::WordsBaseline::new(&corpus)?;
        let words_rankings = labels
            .iter()
            .map(|l| words.rank(&l.query))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let words_ms = per_query(started);
        let embedder = self.embedder(open)?;
        let meaning = eval::MeaningBaseline::new(&embedder, &corpus)?;
        let started = self.now();
        let mut meaning_rankings = Vec::with_capacity(labels.len());
        for label in labels {
            let vector = embedder
                .embed(&[label.query.as_str()])?
                .into_iter()
                .next()
                .unwrap_or_default();
            meaning_rankings.push(meaning.rank(&vector));
        }
        let meaning_ms = per_query(started);
        let fused: Vec<Vec<String>> = words_rankings
            .iter()
            .zip(&meaning_rankings)
            .map(|(w, m)| eval::fused_baseline(w, m))
            .collect();
        rows.push(eval::score(
            "naive FTS5 OR",
            labels,
            &words_rankings,
            words_ms,
        ));
        rows.push(eval::score(
            "naive MiniLM",
            labels,
            &meaning_rankings,
            meaning_ms,
        ));
        rows.push(eval::score(
            "naive RRF",
            labels,
            &fused,
            words_ms + meaning_ms,
        ));
        Ok(EvalReport {
            questions: labels.len(),
            passages: corpus.len(),
            rows,
            misses,
        })
    }

    /// A document's text as the vault holds it (its passages in order, each with its heading
    /// and lines), named like [`Atelier::document_show`]. Needs `vault_read`, and `file_read`
    /// covering the document's path.
    pub fn document_text(&self, who: &Principal, reference: &str) -> Result<DocumentText> {
        self.read(who, Capability::VaultRead, |db, open| {
            let id = self.readable_document(db, open, who, reference)?;
            let document = summary(db, id)?;
            let passages = db
                .prepare(
                    "SELECT heading, start_line, end_line, body FROM chunks
                      WHERE document_id = ?1 ORDER BY seq",
                )?
                .query_map([id], |r| {
                    Ok(PassageText {
                        heading: r.get(0)?,
                        lines: (r.get(1)?, r.get(2)?),
                        body: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(DocumentText {
                document,
                media: store::media(db, id)?,
                passages,
            })
        })
    }

    /// An image attachment's bytes for a preview (at most [`MAX_PREVIEW_BYTES`]), read from
    /// its file now, beneath its project's folder. Needs what [`Atelier::document_text`] needs.
    pub fn document_preview(&self, who: &Principal, reference: &str) -> Result<Preview> {
        use base64::Engine as _;
        self.read(who, Capability::VaultRead, |db, open| {
            let id = self.readable_document(db, open, who, reference)?;
            let (root, path, kind): (String, String, String) = db.query_row(
                "SELECT p.root, d.path, d.kind FROM documents d
                   JOIN projects p ON p.id = d.project_id WHERE d.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let media = store::media(db, id)?.filter(|_| kind == DocumentKind::Image.as_str());
            let Some(media) = media else {
                return Err(Error::invalid(
                    "document",
                    format!("{path} is not an image; only images have a preview"),
                ));
            };
            let bytes =
                walk::read_bytes(Path::new(&root), &path, MAX_PREVIEW_BYTES).map_err(|reason| {
                    Error::invalid(
                        "document",
                        format!("{path} cannot be previewed: {}", reason.describe()),
                    )
                })?;
            Ok(Preview {
                media_type: media.media_type,
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            })
        })
    }

    /// The id of the document `reference` names, if `who` may read its file.
    fn readable_document(
        &self,
        db: &rusqlite::Connection,
        open: &crate::vault::OpenVault,
        who: &Principal,
        reference: &str,
    ) -> Result<i64> {
        let id = find_document(db, reference)?;
        if readable_documents(db, open, who, self.now())?.is_some_and(|ids| !ids.contains(&id)) {
            return Err(Error::Denied {
                principal: who.as_text(),
                capability: Capability::FileRead,
            });
        }
        Ok(id)
    }

    /// A document, named by id, by `project:path`, or by a path unique across projects.
    pub fn document_show(&self, who: &Principal, reference: &str) -> Result<DocumentView> {
        self.read(who, Capability::VaultRead, |db, _| {
            let id = find_document(db, reference)?;
            let document = summary(db, id)?;
            let (root, frontmatter, aliases, size): (String, String, String, i64) = db.query_row(
                "SELECT p.root, d.frontmatter, d.aliases, d.size FROM documents d
                   JOIN projects p ON p.id = d.project_id WHERE d.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let tags = db
                .prepare("SELECT tag FROM document_tags WHERE document_id = ?1 ORDER BY tag")?
                .query_map([id], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let chunks: i64 = db.query_row(
                "SELECT COUNT(*) FROM chunks WHERE document_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            let raw_links = db
                .prepare(
                    "SELECT form, target, heading, label, line, target_id FROM links
                      WHERE source_id = ?1 ORDER BY line, id",
                )?
                .query_map([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut links = Vec::with_capacity(raw_links.len());
            for (form, target, heading, label, line, target_id) in raw_links {
                links.push(LinkView {
                    form,
                    target,
                    heading,
                    label,
                    line,
                    resolved: target_id.map(|t| summary(db, t)).transpose()?,
                });
            }
            let raw_back = db
                .prepare(
                    "SELECT source_id, MIN(line) FROM links WHERE target_id = ?1 AND source_id <> ?1
                      GROUP BY source_id ORDER BY source_id",
                )?
                .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut backlinks = Vec::with_capacity(raw_back.len());
            for (source, line) in raw_back {
                backlinks.push(Backlink {
                    source: summary(db, source)?,
                    line,
                });
            }
            Ok(DocumentView {
                file: Path::new(&root).join(&document.path).display().to_string(),
                document,
                tags,
                aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                frontmatter,
                size,
                media: store::media(db, id)?,
                chunks,
                links,
                backlinks,
            })
        })
    }

    /// Documents related to one: what it links to and what links to it (from the graph),
    /// what is close in meaning (from the vector index), and what shares its tags; each
    /// with every reason.
    pub fn related(
        &self,
        who: &Principal,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<RelatedDocument>> {
        let open = self.open_vault()?;
        let limit = match limit {
            1..=100 => limit as usize,
            n => {
                return Err(Error::invalid(
                    "limit",
                    format!("must be 1 to 100, not {n}"),
                ));
            }
        };
        let id = {
            let db = lock(&open.db);
            authorize_with(&db, open, who, Capability::VaultRead, self.now())?;
            find_document(&db, reference)?
        };
        let ((out, back), (embeds, embedded_in)) = self.with_graph(open, |graph| {
            Ok((graph.links_of(id)?, graph.embeds_of(id)?))
        })?;
        let similar = self.with_vectors(open, |db, vectors| {
            let mut stmt = db.prepare(
                "SELECT e.vector FROM chunks c JOIN embeddings e
                    ON e.model = ?1 AND e.text_hash = c.text_hash
                  WHERE c.document_id = ?2",
            )?;
            let own: Vec<Vec<f32>> = stmt
                .query_map(params![embed::MODEL_NAME, id], |r| r.get::<_, Vec<u8>>(0))?
                .filter_map(|b| b.ok().and_then(|b| embed::from_bytes(&b)))
                .collect();
            let mut best: HashMap<i64, f32> = HashMap::new();
            for vector in own.iter().take(32) {
                for hit in vectors.nearest(vector, None, limit * 4)? {
                    let document: Option<i64> = db
                        .query_row(
                            "SELECT document_id FROM chunks WHERE id = ?1",
                            [hit.chunk],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(document) = document.filter(|d| *d != id) {
                        let entry = best.entry(document).or_insert(hit.score);
                        *entry = entry.max(hit.score);
                    }
                }
            }
            Ok(best)
        })?;
        let db = lock(&open.db);
        let tags_of = |doc: i64| -> Result<Vec<String>> {
            Ok(db
                .prepare_cached(
                    "SELECT tag FROM document_tags WHERE document_id = ?1 ORDER BY tag",
                )?
                .query_map([doc], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let own_tags = tags_of(id)?;
        let mut candidates: BTreeMap<i64, Vec<RelatedReason>> = BTreeMap::new();
        for d in out {
            candidates
                .entry(d)
                .or_default()
                .push(RelatedReason::LinksTo);
        }
        for d in back {
            candidates
                .entry(d)
                .or_default()
                .push(RelatedReason::LinkedFrom);
        }
        for d in embeds {
            candidates.entry(d).or_default().push(RelatedReason::Embeds);
        }
        for d in embedded_in {
            candidates
                .entry(d)
                .or_default()
                .push(RelatedReason::EmbeddedIn);
        }
        for (d, score) in &similar {
            candidates
                .entry(*d)
                .or_default()
                .push(RelatedReason::Similar { score: *score });
        }
        if !own_tags.is_empty() {
            let mut stmt = db.prepare(
                "SELECT document_id, tag FROM document_tags
                  WHERE tag IN (SELECT value FROM json_each(?1)) AND document_id <> ?2",
            )?;
            let rows = stmt.query_map(
                params![serde_json::to_string(&own_tags).unwrap_or_default(), id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )?;
            let mut shared: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            for row in rows {
                let (d, tag) = row?;
                shared.entry(d).or_default().push(tag);
            }
            for (d, tags) in shared {
                candidates
                    .entry(d)
                    .or_default()
                    .push(RelatedReason::SharedTags { tags });
            }
        }
        let mut out = Vec::new();
        for (d, reasons) in candidates {
            let score = reasons
                .iter()
                .map(|r| match r {
                    RelatedReason::LinksTo | RelatedReason::LinkedFrom => 1.0,
                    RelatedReason::Embeds | RelatedReason::EmbeddedIn => 0.5,
                    RelatedReason::Similar { score } => f64::from(*score),
                    RelatedReason::SharedTags { tags } => 0.1 * tags.len() as f64,
                })
                .sum();
            let Ok(document) = summary(&db, d) else {
                continue;
            };
            out.push(RelatedDocument {
                document,
                reasons,
                score,
            });
        }
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.document.id.cmp(&b.document.id))
        });
        out.truncate(limit);
        Ok(out)
    }
}
