//! Search over passages: by words (SQLite FTS5, BM25 over weighted fields), by meaning (the
//! vector index), or both fused by weighted reciprocal rank. Filters (project, path glob, tag, kind) narrow the documents
//! first, so every leg searches the same set. Results are one per document by default (its
//! best passage, the others beneath) or one per passage. Every hit carries its snippet with
//! the matched words marked, its score, and why it ranks where it does.

use super::DocumentKind;
pub use super::query::{Query, terms};
use crate::names::Named;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Reciprocal rank fusion's constant (the usual 60): damps the head of each list.
const RRF_K: f64 = 60.0;

/// Passages each leg of a search ranks before results are fused and collapsed: deep enough
/// that a document whose best passage is found by only one leg still has its other passages.
const LEG_DEPTH: usize = 100;

/// Words around a full-text match in its snippet.
const SNIPPET_TOKENS: i64 = 24;

/// Characters of a passage shown when none of the query's words occur in it.
const EXCERPT_CHARS: usize = 240;

/// Other passages of a document shown beneath its best one.
const OTHERS: usize = 3;

/// The indexed fields of a passage, in the full-text table's column order, with the weight
/// BM25 gives each: a word in a title, alias or heading says more about what a passage is
/// about than the same word in its body.
pub const FIELDS: [(&str, f64); 6] = [
    ("title", 4.0),
    ("aliases", 4.0),
    ("heading", 2.0),
    ("path", 1.5),
    ("tags", 2.0),
    ("body", 1.0),
];

/// How much each leg counts in the fusion of a hybrid search. Meaning counts more: on the
/// labelled set (tests/search/labels.tsv) it ranks better alone, and a fusion weighted 1 : 1.5
/// beat 1 : 1 and 1.5 : 1. A third leg of titles and aliases alone made it worse at every weight
/// tried (0.2, 0.5): the title field's BM25 weight carries that signal instead.
const LEG_WEIGHTS: Legs = Legs {
    words: 1.0,
    meaning: 1.5,
};

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Words, ranked by BM25 over any of the query's words (stemmed, common words dropped,
    /// quoted phrases kept whole); every word must occur only when asked.
    Text,
    /// Meaning, ranked by cosine similarity of embeddings.
    Vector,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

/// Which documents to search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchFilter {
    /// Only this project (by name).
    pub project: Option<String>,
    /// Only paths matching this glob (`drafts/**`, `*.md`).
    pub path: Option<String>,
    /// Only documents with this tag.
    pub tag: Option<String>,
    /// Only documents of this kind.
    pub kind: Option<DocumentKind>,
}

impl SearchFilter {
    fn is_empty(&self) -> bool {
        self.project.is_none() && self.path.is_none() && self.tag.is_none() && self.kind.is_none()
    }
}

/// A piece of a snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SnippetPart {
    /// The text.
    pub text: String,
    /// Whether it is a matched term.
    pub highlight: bool,
}

/// Where a passage is: its document and its place in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PassageSource {
    /// The passage's id.
    pub chunk: i64,
    /// Its document.
    pub document: i64,
    /// The document's project.
    pub project: String,
    /// The document's path in the project.
    pub path: String,
    /// The document's title.
    pub title: String,
    /// The document's kind.
    pub kind: DocumentKind,
    /// The passage's heading path.
    pub heading: String,
    /// First and last line of the passage in the file.
    pub lines: (i64, i64),
}

/// A rank in one list and the score it was ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Placing {
    /// 1-based.
    pub rank: u32,
    /// Higher is better: BM25 (words), cosine (meaning), the fused score (fusion).
    pub score: f64,
}

/// One field's share of a passage's BM25 score by words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FieldScore {
    /// `title`, `aliases`, `heading`, `path`, `tags` or `body`.
    pub field: String,
    /// Its weighted BM25 share.
    pub score: f64,
}

/// Why a hit ranks where it does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Explanation {
    /// Its place by words (among documents, or passages with `passages`), if it matched.
    pub words: Option<Placing>,
    /// Its place by meaning, if it was among the nearest.
    pub meaning: Option<Placing>,
    /// The fields its words matched in, strongest first.
    pub fields: Vec<FieldScore>,
    /// Its place after fusion (hybrid), or in its one list.
    pub fused: Option<Placing>,
}

/// Another passage of a hit's document that matched, beneath its best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OtherPassage {
    /// The passage's id.
    pub chunk: i64,
    /// Its heading path.
    pub heading: String,
    /// First and last line.
    pub lines: (i64, i64),
    /// Its score, on the same scale as the hit's.
    pub score: f64,
}

/// One document found (its best passage), or one passage when asked for passages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    /// Where it is.
    #[serde(flatten)]
    pub source: PassageSource,
    /// The passage around the match, the matched words marked.
    pub snippet: Vec<SnippetPart>,
    /// The score the results are ordered by: BM25 (text), cosine (vector) or the fused
    /// reciprocal-rank score (hybrid). Higher is better.
    pub score: f64,
    /// 1-based rank in the full-text results, if it was there.
    pub text_rank: Option<u32>,
    /// 1-based rank in the vector results, if it was there.
    pub vector_rank: Option<u32>,
    /// Why it ranks here.
    pub explain: Explanation,
    /// The document's other matching passages, best first (none with `passages`).
    pub others: Vec<OtherPassage>,
}

impl SearchHit {
    /// The snippet as one text, each matched term between `open` and `close` (front ends mark
    /// them their own way: Markdown bold for a model, brackets in a terminal).
    pub fn marked_snippet(&self, open: &str, close: &str) -> String {
        self.snippet
            .iter()
            .map(|part| {
                if part.highlight {
                    format!("{open}{}{close}", part.text)
                } else {
                    part.text.clone()
                }
            })
            .collect()
    }
}

/// The documents a filter allows, `None` when it allows all.
pub fn allowed_documents(
    conn: &Connection,
    filter: &SearchFilter,
) -> Result<Option<Vec<i64>>, String> {
    if filter.is_empty() {
        return Ok(None);
    }
    let glob = match &filter.path {
        Some(pattern) => Some(
            globset::GlobBuilder::new(pattern)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("path: {e}"))?
                .compile_matcher(),
        ),
        None => None,
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT d.id, d.path FROM documents d JOIN projects p ON p.id = d.project_id
              WHERE (?1 IS NULL OR p.name = ?1)
                AND (?2 IS NULL OR d.kind = ?2)
                AND (?3 IS NULL OR EXISTS (SELECT 1 FROM document_tags t
                                            WHERE t.document_id = d.id AND t.tag = lower(?3)))
              ORDER BY d.id",
        )
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(
            params![
                filter.project,
                filter.kind.map(DocumentKind::as_str),
                filter.tag.as_deref().map(|t| t.trim_start_matches('#'))
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in rows {
        let (id, path) = row.map_err(|e| e.to_string())?;
        if glob.as_ref().is_none_or(|g| g.is_match(&path)) {
            out.push(id);
        }
    }
    Ok(Some(out))
}

/// The BM25 weights of [`FIELDS`] as SQL arguments.
fn weights() -> String {
    FIELDS
        .iter()
        .map(|(_, w)| format!("{w:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A passage matched by words.
#[derive(Debug, Clone, PartialEq)]
pub struct TextHit {
    /// The passage.
    pub chunk: i64,
    /// Its document.
    pub document: i64,
    /// BM25 over the weighted fields, higher is better.
    pub score: f64,
}

/// Passages matching `query` by words, best first. Ranks only: a snippet costs a pass of the
/// tokenizer over the passage, and SQLite would compute it for every match before sorting, so
/// the passages shown get theirs afterwards ([`snippets`]).
pub fn text_hits(
    conn: &Connection,
    query: &Query,
    documents: Option<&[i64]>,
    limit: usize,
) -> rusqlite::Result<Vec<TextHit>> {
    match query.expression() {
        Some(expression) => bm25_hits(conn, &expression, documents, limit),
        None => Ok(Vec::new()),
    }
}

fn bm25_hits(
    conn: &Connection,
    expression: &str,
    documents: Option<&[i64]>,
    limit: usize,
) -> rusqlite::Result<Vec<TextHit>> {
    let allowed = documents.map(|d| serde_json::to_string(d).unwrap_or_else(|_| "[]".to_owned()));
    let weights = weights();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.id, c.document_id, bm25(passages_fts, {weights})
           FROM passages_fts JOIN chunks c ON c.id = passages_fts.rowid
          WHERE passages_fts MATCH ?1
            AND (?2 IS NULL OR c.document_id IN (SELECT value FROM json_each(?2)))
          ORDER BY bm25(passages_fts, {weights}) LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![
            expression,
            allowed,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |r| {
            Ok(TextHit {
                chunk: r.get(0)?,
                document: r.get(1)?,
                score: -r.get::<_, f64>(2)?,
            })
        },
    )?;
    rows.collect()
}

/// Snippets of those of `ids` that contain any of the words of `query`, the words marked as
/// the index matched them (stems included). A passage matched only in another field than its
/// body has a snippet without marks.
pub fn snippets(
    conn: &Connection,
    query: &Query,
    ids: &[i64],
) -> rusqlite::Result<HashMap<i64, Vec<SnippetPart>>> {
    let Some(expression) = Query {
        every: false,
        ..query.clone()
    }
    .expression() else {
        return Ok(HashMap::new());
    };
    // One query per passage: FTS5 seeks a single rowid in each term's doclist, where a list
    // of rowids (`IN`) re-runs the whole expression for each.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT snippet(passages_fts, 5, char(2), char(3), '…', {SNIPPET_TOKENS})
           FROM passages_fts WHERE passages_fts MATCH ?1 AND rowid = ?2"
    ))?;
    let mut out = HashMap::new();
    for id in ids {
        if let Some(snippet) = stmt
            .query_row(params![expression, id], |r| r.get::<_, String>(0))
            .optional()?
        {
            out.insert(*id, marked_parts(&snippet));
        }
    }
    Ok(out)
}

/// Each field's weighted share of the BM25 score for `query` of each of `ids`, strongest
/// first; a passage its words do not match is left out. One query per passage, as for
/// [`snippets`].
pub fn field_scores(
    conn: &Connection,
    query: &Query,
    ids: &[i64],
) -> rusqlite::Result<HashMap<i64, Vec<FieldScore>>> {
    let Some(expression) = query.expression() else {
        return Ok(HashMap::new());
    };
    let columns: Vec<String> = (0..FIELDS.len())
        .map(|i| {
            let one: Vec<String> = FIELDS
                .iter()
                .enumerate()
                .map(|(j, (_, w))| {
                    if i == j {
                        format!("{w:.2}")
                    } else {
                        "0".to_owned()
                    }
                })
                .collect();
            format!("bm25(passages_fts, {})", one.join(", "))
        })
        .collect();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM passages_fts WHERE passages_fts MATCH ?1 AND rowid = ?2",
        columns.join(", ")
    ))?;
    let mut out = HashMap::new();
    for id in ids {
        let Some(scores) = stmt
            .query_row(params![expression, id], |r| {
                (0..FIELDS.len())
                    .map(|i| r.get::<_, f64>(i).map(|v| -v))
                    .collect::<rusqlite::Result<Vec<f64>>>()
            })
            .optional()?
        else {
            continue;
        };
        let mut fields: Vec<FieldScore> = scores
            .into_iter()
            .zip(FIELDS)
            .filter(|(score, _)| *score > 1e-9)
            .map(|(score, (field, _))| FieldScore {
                field: field.to_owned(),
                score,
            })
            .collect();
        fields.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.insert(*id, fields);
    }
    Ok(out)
}

/// Splits FTS5 snippet text marked with `\u{2}`…`\u{3}` into parts.
fn marked_parts(snippet: &str) -> Vec<SnippetPart> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    for c in snippet.chars() {
        match c {
            '\u{2}' | '\u{3}' => {
                if !current.is_empty() {
                    out.push(SnippetPart {
                        text: std::mem::take(&mut current),
                        highlight: inside,
                    });
                }
                inside = c == '\u{2}';
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        out.push(SnippetPart {
            text: current,
            highlight: inside,
        });
    }
    out
}

/// The opening of `body` with the query's words marked, for a hit found by meaning.
pub fn excerpt(body: &str, words: &[String]) -> Vec<SnippetPart> {
    let mut text: String = body.chars().take(EXCERPT_CHARS).collect();
    if text.len() < body.len() {
        text.push('…');
    }
    let mut parts = Vec::new();
    let mut plain = String::new();
    let mut word = String::new();
    let flush_word = |word: &mut String, plain: &mut String, parts: &mut Vec<SnippetPart>| {
        if word.is_empty() {
            return;
        }
        if words.iter().any(|w| *w == word.to_lowercase()) {
            if !plain.is_empty() {
                parts.push(SnippetPart {
                    text: std::mem::take(plain),
                    highlight: false,
                });
            }
            parts.push(SnippetPart {
                text: std::mem::take(word),
                highlight: true,
            });
        } else {
            plain.push_str(word);
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush_word(&mut word, &mut plain, &mut parts);
            plain.push(c);
        }
    }
    flush_word(&mut word, &mut plain, &mut parts);
    if !plain.is_empty() {
        parts.push(SnippetPart {
            text: plain,
            highlight: false,
        });
    }
    parts
}

/// Fuses ranked lists by reciprocal rank: each list adds `1 / (60 + rank)` for each id.
pub fn fuse(lists: &[&[i64]]) -> Vec<(i64, f64)> {
    let weighted: Vec<(&[i64], f64)> = lists.iter().map(|l| (*l, 1.0)).collect();
    fuse_weighted(&weighted)
}

/// [`fuse`] with a weight per list: each adds `weight / (60 + rank)`. Ties go to the lower id.
pub fn fuse_weighted(lists: &[(&[i64], f64)]) -> Vec<(i64, f64)> {
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for (list, weight) in lists {
        for (rank, id) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += weight / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(i64, f64)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused
}

/// Passages each leg ranks for a search returning `limit` results.
pub fn leg_depth(limit: usize) -> usize {
    (limit * 4).max(LEG_DEPTH)
}

/// How much each leg counts in a hybrid fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Legs {
    /// Passages by words.
    pub words: f64,
    /// Passages by meaning.
    pub meaning: f64,
}

/// What each leg found, passages best first, each with its document.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// By words: (passage, document, BM25).
    pub words: Vec<(i64, i64, f64)>,
    /// By meaning: (passage, document, cosine).
    pub meaning: Vec<(i64, i64, f64)>,
}

/// A ranked result before it is dressed with its source and snippet.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The passage shown.
    pub chunk: i64,
    /// The ordering score.
    pub score: f64,
    /// Why.
    pub explain: Explanation,
    /// The passage's own ranks by words and meaning (1-based).
    pub passage_ranks: (Option<u32>, Option<u32>),
    /// The document's other passages found, best first: (passage, score).
    pub others: Vec<(i64, f64)>,
}

fn rank_of(position: usize) -> u32 {
    u32::try_from(position + 1).unwrap_or(u32::MAX)
}

/// Orders what the legs found. `mode` picks the legs; `passages` keeps one result per
/// passage, else passages collapse into their documents (documents ranked by their best
/// passage in each leg, then fused; the best passage shown, the others beneath).
pub fn rank(found: &Found, mode: SearchMode, passages: bool, limit: usize) -> Vec<Ranked> {
    let ids = |list: &[(i64, i64, f64)]| list.iter().map(|(c, _, _)| *c).collect::<Vec<_>>();
    let (words_ids, meaning_ids) = (ids(&found.words), ids(&found.meaning));
    let place = |list: &[i64], id: i64| list.iter().position(|x| *x == id).map(rank_of);
    let placing = |list: &[(i64, i64, f64)], id: i64, key: fn(&(i64, i64, f64)) -> i64| {
        list.iter().position(|e| key(e) == id).map(|p| Placing {
            rank: rank_of(p),
            score: list[p].2,
        })
    };
    // Passages in their fused order (each leg's own order outside hybrid).
    let passage_order: Vec<(i64, f64)> = match mode {
        SearchMode::Text => found.words.iter().map(|(c, _, s)| (*c, *s)).collect(),
        SearchMode::Vector => found.meaning.iter().map(|(c, _, s)| (*c, *s)).collect(),
        SearchMode::Hybrid => fuse_weighted(&[
            (&words_ids, LEG_WEIGHTS.words),
            (&meaning_ids, LEG_WEIGHTS.meaning),
        ]),
    };
    let document_of: HashMap<i64, i64> = found
        .words
        .iter()
        .chain(&found.meaning)
        .map(|(c, d, _)| (*c, *d))
        .collect();
    if passages {
        return passage_order
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, (chunk, score))| Ranked {
                chunk: *chunk,
                score: *score,
                explain: Explanation {
                    words: placing(&found.words, *chunk, |e| e.0),
                    meaning: placing(&found.meaning, *chunk, |e| e.0),
                    fields: Vec::new(),
                    fused: Some(Placing {
                        rank: rank_of(i),
                        score: *score,
                    }),
                },
                passage_ranks: (place(&words_ids, *chunk), place(&meaning_ids, *chunk)),
                others: Vec::new(),
            })
            .collect();
    }
    // Documents by their best passage in each leg: the first occurrence keeps the order.
    let documents_by = |list: &[(i64, i64, f64)]| {
        let mut seen = std::collections::HashSet::new();
        list.iter()
            .filter(|(_, d, _)| seen.insert(*d))
            .map(|(c, d, s)| (*c, *d, *s))
            .collect::<Vec<_>>()
    };
    let words_docs = documents_by(&found.words);
    let meaning_docs = documents_by(&found.meaning);
    let doc_ids = |list: &[(i64, i64, f64)]| list.iter().map(|(_, d, _)| *d).collect::<Vec<_>>();
    let document_order: Vec<(i64, f64)> = match mode {
        SearchMode::Text => words_docs.iter().map(|(_, d, s)| (*d, *s)).collect(),
        SearchMode::Vector => meaning_docs.iter().map(|(_, d, s)| (*d, *s)).collect(),
        SearchMode::Hybrid => fuse_weighted(&[
            (&doc_ids(&words_docs), LEG_WEIGHTS.words),
            (&doc_ids(&meaning_docs), LEG_WEIGHTS.meaning),
        ]),
    };
    let mut by_document: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
    for (chunk, score) in &passage_order {
        if let Some(document) = document_of.get(chunk) {
            by_document
                .entry(*document)
                .or_default()
                .push((*chunk, *score));
        }
    }
    document_order
        .iter()
        .take(limit)
        .enumerate()
        .filter_map(|(i, (document, score))| {
            let mut passages = by_document.remove(document)?.into_iter();
            let (chunk, _) = passages.next()?;
            Some(Ranked {
                chunk,
                score: *score,
                explain: Explanation {
                    words: placing(&words_docs, *document, |e| e.1),
                    meaning: placing(&meaning_docs, *document, |e| e.1),
                    fields: Vec::new(),
                    fused: Some(Placing {
                        rank: rank_of(i),
                        score: *score,
                    }),
                },
                passage_ranks: (place(&words_ids, chunk), place(&meaning_ids, chunk)),
                others: passages.take(OTHERS).collect(),
            })
        })
        .collect()
}

/// The document of each of `ids`.
pub fn documents_of(conn: &Connection, ids: &[i64]) -> rusqlite::Result<HashMap<i64, i64>> {
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    let mut stmt = conn.prepare_cached(
        "SELECT id, document_id FROM chunks WHERE id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Where each of `ids` is, with its text.
pub fn sources(
    conn: &Connection,
    ids: &[i64],
) -> rusqlite::Result<HashMap<i64, (PassageSource, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.document_id, p.name, d.path, d.title, d.kind, c.heading, c.start_line,
                c.end_line, c.body
           FROM chunks c JOIN documents d ON d.id = c.document_id JOIN projects p ON p.id = d.project_id
          WHERE c.id IN (SELECT value FROM json_each(?1))",
    )?;
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    let rows = stmt.query_map([list], |r| {
        let kind: String = r.get(5)?;
        let chunk: i64 = r.get(0)?;
        Ok((
            chunk,
            (
                PassageSource {
                    chunk,
                    document: r.get(1)?,
                    project: r.get(2)?,
                    path: r.get(3)?,
                    title: r.get(4)?,
                    kind: DocumentKind::parse(&kind).unwrap_or(DocumentKind::Text),
                    heading: r.get(6)?,
                    lines: (r.get(7)?, r.get(8)?),
                },
                r.get(9)?,
            ),
        ))
    })?;
    rows.collect()
}

impl Named for SearchMode {
    const ALL: &'static [Self] = &[Self::Text, Self::Vector, Self::Hybrid];
    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Vector => "vector",
            Self::Hybrid => "hybrid",
        }
    }
}

#[cfg(test)]
mod tests;
