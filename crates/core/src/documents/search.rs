//! Search over passages: by words (SQLite FTS5, BM25), by meaning (the vector index), or both
//! fused by reciprocal rank. Filters (project, path glob, tag, kind) narrow the documents
//! first, so both legs search the same set. Every hit carries its snippet with the matching
//! terms marked, its score and where it came from.

use super::DocumentKind;
use crate::names::Named;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Reciprocal rank fusion's constant (the usual 60): damps the head of each list.
const RRF_K: f64 = 60.0;

/// How many candidates each leg of a hybrid search contributes, per result asked for.
const HYBRID_DEPTH: usize = 4;

/// Words around a full-text match in its snippet.
const SNIPPET_TOKENS: i64 = 24;

/// Characters of a passage shown when it matched by meaning alone.
const EXCERPT_CHARS: usize = 240;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Words, ranked by BM25; every word must occur.
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

/// One passage found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    /// Where it is.
    #[serde(flatten)]
    pub source: PassageSource,
    /// The passage around the match, terms marked.
    pub snippet: Vec<SnippetPart>,
    /// The score the results are ordered by: BM25 (text), cosine (vector) or the fused
    /// reciprocal-rank score (hybrid). Higher is better.
    pub score: f64,
    /// 1-based rank in the full-text results, if it was there.
    pub text_rank: Option<u32>,
    /// 1-based rank in the vector results, if it was there.
    pub vector_rank: Option<u32>,
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

/// The words of a query, as FTS5 terms.
pub fn terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Full-text hits as (chunk, BM25 score, snippet), best first. `all_terms` requires every
/// term; otherwise any term counts.
pub fn text_hits(
    conn: &Connection,
    query: &str,
    all_terms: bool,
    documents: Option<&[i64]>,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, f64, Vec<SnippetPart>)>> {
    let words = terms(query);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let joiner = if all_terms { " AND " } else { " OR " };
    let expression = words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(joiner);
    let allowed = documents.map(|d| serde_json::to_string(d).unwrap_or_else(|_| "[]".to_owned()));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.id, bm25(chunks_fts, 2.0, 1.0),
                snippet(chunks_fts, 1, char(2), char(3), '…', {SNIPPET_TOKENS})
           FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
          WHERE chunks_fts MATCH ?1
            AND (?2 IS NULL OR c.document_id IN (SELECT value FROM json_each(?2)))
          ORDER BY bm25(chunks_fts, 2.0, 1.0) LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![
            expression,
            allowed,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |r| {
            let snippet: String = r.get(2)?;
            Ok((r.get(0)?, -r.get::<_, f64>(1)?, marked_parts(&snippet)))
        },
    )?;
    rows.collect()
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
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(i64, f64)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused
}

/// Candidates per leg of a hybrid search returning `limit`.
pub fn hybrid_depth(limit: usize) -> usize {
    (limit * HYBRID_DEPTH).max(20)
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
mod tests {
    use super::*;

    #[test]
    fn reciprocal_rank_fusion_rewards_agreement() {
        let fused = fuse(&[&[1, 2, 3], &[3, 1, 4]]);
        let order: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, [1, 3, 2, 4]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
    }

    #[test]
    fn snippets_and_excerpts_mark_the_matched_words() {
        let parts = marked_parts("the \u{2}storm\u{3} broke");
        assert_eq!(
            parts,
            [
                SnippetPart {
                    text: "the ".into(),
                    highlight: false
                },
                SnippetPart {
                    text: "storm".into(),
                    highlight: true
                },
                SnippetPart {
                    text: " broke".into(),
                    highlight: false
                },
            ]
        );
        let parts = excerpt("Storm at sea", &terms("storm"));
        assert_eq!(
            parts[0],
            SnippetPart {
                text: "Storm".into(),
                highlight: true
            }
        );
        assert_eq!(terms("Don't panic!"), ["don", "t", "panic"]);
    }
}
