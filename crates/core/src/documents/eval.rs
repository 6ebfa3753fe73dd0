//! Search judged by numbers: labelled questions (each with the page or pages that answer it)
//! run through every search mode and through three naive baselines built here from the same
//! passages — SQLite FTS5 with the question's words joined by OR, MiniLM cosine of the
//! question against each passage's bare body (a document scores its best passage), and the two
//! fused by reciprocal rank — scored by recall@1, recall@5 and MRR@10 over documents.

use super::search::{self, SearchFilter, SearchMode};
use crate::embed::Embedder;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Documents a ranking is judged on (MRR@10).
pub const DEPTH: usize = 10;

/// Passages embedded per call to the model by the meaning baseline.
const BATCH: usize = 32;

/// A question and the documents that answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Label {
    /// The question, as a user would type it.
    pub query: String,
    /// Paths (relative to the project root) of the documents that answer it; any one counts.
    pub expected: Vec<String>,
}

/// Reads a labels file: one question per line, a tab, then the expected paths separated by
/// spaces; blank lines and lines starting with `#` are skipped. Answers the first bad line's
/// number and what is wrong with it.
pub fn parse_labels(text: &str) -> Result<Vec<Label>, String> {
    let mut labels = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((query, paths)) = line.split_once('\t') else {
            return Err(format!(
                "line {number}: no tab between the question and its paths"
            ));
        };
        let expected: Vec<String> = paths.split_whitespace().map(str::to_owned).collect();
        if query.trim().is_empty() {
            return Err(format!("line {number}: the question is empty"));
        }
        if expected.is_empty() {
            return Err(format!("line {number}: no expected path"));
        }
        labels.push(Label {
            query: query.trim().to_owned(),
            expected,
        });
    }
    if labels.is_empty() {
        return Err("no labelled question".to_owned());
    }
    Ok(labels)
}

/// How one way of searching did on the labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Scores {
    /// `text`, `vector`, `hybrid`, or a baseline's name.
    pub name: String,
    /// Share of questions whose first result answers them.
    pub recall_at_1: f64,
    /// Share of questions answered within the first five results.
    pub recall_at_5: f64,
    /// Mean of 1 / the rank of the first answering result within ten (0 when none).
    pub mrr_at_10: f64,
    /// Mean milliseconds per question.
    pub ms_per_query: f64,
}

/// Scores rankings (documents' paths, best first, one ranking per label) against the labels.
pub fn score(name: &str, labels: &[Label], rankings: &[Vec<String>], ms_per_query: f64) -> Scores {
    let mut at_1 = 0.0;
    let mut at_5 = 0.0;
    let mut reciprocal = 0.0;
    for (label, ranking) in labels.iter().zip(rankings) {
        let first = ranking
            .iter()
            .take(DEPTH)
            .position(|path| label.expected.contains(path));
        if let Some(position) = first {
            reciprocal += 1.0 / (position as f64 + 1.0);
            at_1 += f64::from(u8::from(position == 0));
            at_5 += f64::from(u8::from(position < 5));
        }
    }
    let n = labels.len().max(1) as f64;
    Scores {
        name: name.to_owned(),
        recall_at_1: at_1 / n,
        recall_at_5: at_5 / n,
        mrr_at_10: reciprocal / n,
        ms_per_query,
    }
}

/// The paths of `ranked` documents in order, each once.
pub fn distinct(paths: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    paths
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// What `atelier eval search` asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct EvalRequest {
    /// The labelled questions.
    pub labels: Vec<Label>,
    /// The project they are about (every project when omitted).
    #[serde(default)]
    pub project: Option<String>,
}

/// What it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EvalReport {
    /// Labelled questions asked.
    pub questions: usize,
    /// Passages searched (the baselines' corpus).
    pub passages: usize,
    /// Atelier's modes, then the baselines.
    pub rows: Vec<Scores>,
    /// Questions hybrid search missed within five: the question, its expected paths, and what
    /// came first instead.
    pub misses: Vec<(String, Vec<String>, Vec<String>)>,
}

/// The naive baselines' corpus: every passage body of the project with its document's path.
pub fn corpus(conn: &Connection, filter: &SearchFilter) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT d.path, c.body FROM chunks c JOIN documents d ON d.id = c.document_id
           JOIN projects p ON p.id = d.project_id
          WHERE (?1 IS NULL OR p.name = ?1) ORDER BY d.id, c.seq",
    )?;
    let rows = stmt.query_map(params![filter.project], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The FTS5 baseline: passage bodies in a stock FTS5 table (its default tokenizer: no
/// stemming, no stop words), a question's words joined by OR, BM25; a document ranks by its
/// best passage.
#[derive(Debug)]
pub struct WordsBaseline {
    conn: Connection,
    paths: Vec<String>,
}

impl WordsBaseline {
    /// Indexes `corpus` in memory.
    pub fn new(corpus: &[(String, String)]) -> rusqlite::Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE VIRTUAL TABLE t USING fts5 (body)")?;
        {
            let mut insert = conn.prepare("INSERT INTO t (rowid, body) VALUES (?1, ?2)")?;
            for (i, (_, body)) in corpus.iter().enumerate() {
                insert.execute(params![i64::try_from(i).unwrap_or(i64::MAX), body])?;
            }
        }
        Ok(WordsBaseline {
            conn,
            paths: corpus.iter().map(|(p, _)| p.clone()).collect(),
        })
    }

    /// Documents for `query`, best first.
    pub fn rank(&self, query: &str) -> rusqlite::Result<Vec<String>> {
        let words = search::terms(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let expression = words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY rank LIMIT 200")?;
        let rows = stmt.query_map([expression], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(path) = usize::try_from(row?).ok().and_then(|i| self.paths.get(i)) {
                out.push(path.clone());
            }
        }
        Ok(distinct(out))
    }
}

/// The meaning baseline: each passage's bare body embedded (no title or headings), a question
/// scored against every passage exactly, a document by its best passage.
#[derive(Debug)]
pub struct MeaningBaseline {
    vectors: Vec<Vec<f32>>,
    paths: Vec<String>,
}

impl MeaningBaseline {
    /// Embeds `corpus`.
    pub fn new(
        embedder: &Embedder,
        corpus: &[(String, String)],
    ) -> Result<Self, crate::embed::EmbedError> {
        let mut vectors = Vec::with_capacity(corpus.len());
        for batch in corpus.chunks(BATCH) {
            let texts: Vec<&str> = batch.iter().map(|(_, b)| b.as_str()).collect();
            vectors.extend(embedder.embed(&texts)?);
        }
        Ok(MeaningBaseline {
            vectors,
            paths: corpus.iter().map(|(p, _)| p.clone()).collect(),
        })
    }

    /// Documents for the question embedded as `query`, best first.
    pub fn rank(&self, query: &[f32]) -> Vec<String> {
        let mut best: HashMap<&str, f32> = HashMap::new();
        for (vector, path) in self.vectors.iter().zip(&self.paths) {
            let score = cosine(query, vector);
            let entry = best.entry(path.as_str()).or_insert(f32::MIN);
            if score > *entry {
                *entry = score;
            }
        }
        let mut ranked: Vec<(&str, f32)> = best.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.into_iter().map(|(p, _)| p.to_owned()).collect()
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(f32::EPSILON)
}

/// The RRF baseline: the two baselines' document lists fused by reciprocal rank (k = 60).
pub fn fused_baseline(words: &[String], meaning: &[String]) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for path in words.iter().chain(meaning) {
        if !names.contains(&path.as_str()) {
            names.push(path);
        }
    }
    let id_of = |path: &String| {
        names
            .iter()
            .position(|n| *n == path.as_str())
            .and_then(|i| i64::try_from(i).ok())
            .unwrap_or(i64::MAX)
    };
    let w: Vec<i64> = words.iter().map(id_of).collect();
    let m: Vec<i64> = meaning.iter().map(id_of).collect();
    search::fuse(&[&w, &m])
        .into_iter()
        .filter_map(|(id, _)| usize::try_from(id).ok().and_then(|i| names.get(i)))
        .map(|p| (*p).to_owned())
        .collect()
}

/// The modes Atelier is judged in, in the order rows are printed.
pub const MODES: [SearchMode; 3] = [SearchMode::Text, SearchMode::Vector, SearchMode::Hybrid];

#[cfg(test)]
mod tests {
    use super::*;

    fn label(query: &str, expected: &[&str]) -> Label {
        Label {
            query: query.to_owned(),
            expected: expected.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn labels_are_read_and_a_bad_line_is_named() {
        let labels = parse_labels("# about\n\nwhere is it\ta.md b.md\n").expect("labels");
        assert_eq!(labels, [label("where is it", &["a.md", "b.md"])]);
        assert_eq!(
            parse_labels("no tab here").expect_err("refused"),
            "line 1: no tab between the question and its paths"
        );
        assert_eq!(
            parse_labels("# x\nq\t  ").expect_err("refused"),
            "line 2: no expected path"
        );
        assert_eq!(
            parse_labels("\t a.md").expect_err("refused"),
            "line 1: the question is empty"
        );
        assert_eq!(
            parse_labels("# only comments\n").expect_err("refused"),
            "no labelled question"
        );
    }

    #[test]
    fn recall_and_reciprocal_rank_count_the_first_answering_document() {
        let labels = [
            label("q1", &["a"]),
            label("q2", &["b", "c"]),
            label("q3", &["z"]),
        ];
        let rankings = [
            vec!["a".to_owned(), "x".to_owned()],
            vec!["x".to_owned(), "y".to_owned(), "c".to_owned()],
            vec!["x".to_owned()],
        ];
        let s = score("t", &labels, &rankings, 0.0);
        assert!((s.recall_at_1 - 1.0 / 3.0).abs() < 1e-9);
        assert!((s.recall_at_5 - 2.0 / 3.0).abs() < 1e-9);
        assert!((s.mrr_at_10 - (1.0 + 1.0 / 3.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_words_baseline_matches_any_word_without_stemming() {
        let corpus = [
            (
                "a.md".to_owned(),
                "uploading files to the server".to_owned(),
            ),
            ("b.md".to_owned(), "upload a picture".to_owned()),
        ];
        let baseline = WordsBaseline::new(&corpus).expect("index");
        assert_eq!(baseline.rank("upload picture").expect("rank"), ["b.md"]);
        assert_eq!(
            fused_baseline(&["a".to_owned(), "b".to_owned()], &["b".to_owned()]),
            ["b", "a"]
        );
    }
}
