//! The vector index: an embedded Qdrant Edge shard in the vault's `vectors/`, a projection of
//! SQLite's chunks and embeddings like the graph. Each outbox change names a document; applying
//! it deletes that document's points and upserts the chunks SQLite now holds for it, so a
//! change applied twice, or after a lost one, converges on SQLite.
//!
//! The shard keeps no watermark of its own, so the projection writes one beside it
//! (`applied_through`), after the shard is flushed: a crash in between replays changes, which
//! is harmless.

use crate::embed::{self, DIMENSIONS};
use crate::projection::outbox::{Mark, NO_MARK, VectorChange};
use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfigBuilder, EdgeShard, EdgeVectorParamsBuilder,
    FieldIndexOperations, Filter, NamedQuery, PointId, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, QueryRequest, ScoringQuery, SearchParams, UpdateOperation,
    WithPayloadInterface, WithVector,
};
use rusqlite::{Connection, params};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The watermark file inside the shard directory.
const WATERMARK: &str = "applied_through";

/// Points per upsert.
const UPSERT_BATCH: usize = 1024;

/// The HNSW beam of a query (Qdrant searches `max(ef, limit)`; without it, the build's
/// `ef_construct`, 100). Measured by `benches/docs.rs knn` at 100,000 × 384 on this project's
/// benchmark data: recall@10 1.000 at 100 and at 64 (p50 0.49 → 0.38 ms), 0.9995 at 40; 64
/// keeps a margin for real embeddings, which cluster less neatly.
const SEARCH_EF: usize = 64;

/// A failure of the vector index, with Qdrant's message for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VectorError(pub String);

impl From<qdrant_edge::OperationError> for VectorError {
    fn from(e: qdrant_edge::OperationError) -> Self {
        VectorError(e.to_string())
    }
}

impl From<rusqlite::Error> for VectorError {
    fn from(e: rusqlite::Error) -> Self {
        VectorError(format!("reading SQLite: {e}"))
    }
}

type VectorResult<T> = Result<T, VectorError>;

/// A nearest chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The chunk id.
    pub chunk: i64,
    /// Cosine similarity.
    pub score: f32,
}

/// The open shard and how far it reflects the outbox.
pub struct Vectors {
    /// Always `Some` until dropped; an `Option` so `Drop` can take it (see there).
    shard: Option<EdgeShard>,
    dir: PathBuf,
    through: i64,
    /// `through` with its stamp and the vault's identity, as the watermark file has them.
    mark: Mark,
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vectors")
            .field("dir", &self.dir)
            .field("through", &self.through)
            .finish()
    }
}

impl Vectors {
    /// Opens the shard in `dir`, creating it if new.
    pub fn open(dir: &Path) -> VectorResult<Vectors> {
        std::fs::create_dir_all(dir)
            .map_err(|e| VectorError(format!("create dir: {}", e.kind())))?;
        let shard = if dir.join("edge_config.json").is_file() {
            EdgeShard::load(dir, None)?
        } else {
            EdgeShard::new(dir, config())?
        };
        // Every change deletes a document's points by filter; without a payload index on
        // `document` each delete reads every point's payload, and an ingest of a thousand files
        // spent minutes here. Creating it again on a shard that has it is a no-op, and older
        // shards gain it on open.
        shard.update(UpdateOperation::FieldIndexOperation(
            FieldIndexOperations::CreateIndex(document_index()?),
        ))?;
        // `through stamp vault`; a watermark from before marks holds `through` alone.
        let mark = match std::fs::read_to_string(dir.join(WATERMARK)) {
            Ok(text) => {
                let unreadable = || VectorError("the watermark is unreadable".to_owned());
                let mut numbers = text.split_whitespace().map(str::parse::<i64>);
                let through = numbers
                    .next()
                    .ok_or_else(unreadable)?
                    .map_err(|_| unreadable())?;
                let mut optional = || -> VectorResult<Option<i64>> {
                    match numbers.next() {
                        None => Ok(None),
                        Some(n) => Ok(Mark::decode(n.map_err(|_| unreadable())?)),
                    }
                };
                let stamp = optional()?;
                let vault = optional()?;
                Mark {
                    through,
                    stamp,
                    vault,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Mark::default(),
            Err(e) => return Err(VectorError(format!("read watermark: {}", e.kind()))),
        };
        Ok(Vectors {
            shard: Some(shard),
            dir: dir.to_path_buf(),
            through: mark.through,
            mark,
        })
    }

    /// Where the index stands in the outbox.
    pub fn mark(&self) -> Mark {
        self.mark
    }

    /// Deletes whatever is in `dir` and loads every embedded chunk from SQLite, recording
    /// `through` as the last outbox change reflected.
    pub fn rebuild(db: &Connection, dir: &Path, mark: Mark) -> VectorResult<Vectors> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(VectorError(format!("remove old index: {}", e.kind()))),
        }
        let mut vectors = Vectors::open(dir)?;
        let mut stmt = db.prepare(&format!("{POINT_SELECT} ORDER BY c.id"))?;
        vectors.upsert_rows(stmt.query(params![embed::MODEL_NAME])?)?;
        vectors.optimize()?;
        vectors.commit(mark)?;
        Ok(vectors)
    }

    fn shard(&self) -> VectorResult<&EdgeShard> {
        self.shard
            .as_ref()
            .ok_or_else(|| VectorError("the vector index is closed".to_owned()))
    }

    /// The last outbox change reflected.
    pub fn applied_through(&self) -> i64 {
        self.through
    }

    /// Applies `changes` (the rows after the watermark) and advances the watermark.
    pub fn apply(&mut self, db: &Connection, changes: &[(i64, VectorChange)]) -> VectorResult<()> {
        let Some((last, _)) = changes.last() else {
            return Ok(());
        };
        let mut documents: Vec<i64> = changes
            .iter()
            .map(|(_, VectorChange::Document { id })| *id)
            .collect();
        documents.sort_unstable();
        documents.dedup();
        // One delete and a few upserts for the whole batch of changes: each update is a WAL
        // record and a pass over the segments, and one per document made an ingest's
        // projection several times slower.
        self.shard()?.update(UpdateOperation::PointOperation(
            PointOperations::DeletePointsByFilter(documents_filter(&documents)?),
        ))?;
        let mut stmt = db.prepare(&format!(
            "{POINT_SELECT} WHERE c.document_id IN (SELECT value FROM json_each(?2)) ORDER BY c.id"
        ))?;
        self.upsert_rows(stmt.query(params![embed::MODEL_NAME, json!(documents).to_string()])?)?;
        self.commit(Mark::at(db, *last)?)
    }

    /// Upserts the points of `rows` (of [`POINT_SELECT`]) in batches.
    fn upsert_rows(&self, mut rows: rusqlite::Rows<'_>) -> VectorResult<()> {
        let mut batch = Vec::with_capacity(UPSERT_BATCH);
        while let Some(row) = rows.next()? {
            if let Some(point) = point_from(row)? {
                batch.push(point);
            }
            if batch.len() == UPSERT_BATCH {
                self.upsert(std::mem::take(&mut batch))?;
            }
        }
        self.upsert(batch)
    }

    fn upsert(&self, points: Vec<PointStruct>) -> VectorResult<()> {
        if points.is_empty() {
            return Ok(());
        }
        self.shard()?.update(UpdateOperation::PointOperation(
            PointOperations::UpsertPoints(PointInsertOperations::PointsList(
                points.into_iter().map(Into::into).collect(),
            )),
        ))?;
        Ok(())
    }

    /// Upserts bare points, with no payload: for benchmarks of the index itself.
    pub fn upsert_raw(&self, points: Vec<(u64, Vec<f32>)>) -> VectorResult<()> {
        self.upsert(
            points
                .into_iter()
                .map(|(id, vector)| PointStruct::new(id, vector, json!({})))
                .collect(),
        )
    }

    /// Flushes the shard, then records `through`, so the watermark never runs ahead of what
    /// is on disk.
    fn commit(&mut self, mark: Mark) -> VectorResult<()> {
        flush(self.shard()?)?;
        let tmp = self.dir.join(format!("{WATERMARK}.tmp"));
        let write = |path: &Path| -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(path)?;
            write!(
                file,
                "{} {} {}",
                mark.through,
                mark.stamp.unwrap_or(NO_MARK),
                mark.vault.unwrap_or(NO_MARK)
            )?;
            file.sync_all()
        };
        write(&tmp)
            .and_then(|()| std::fs::rename(&tmp, self.dir.join(WATERMARK)))
            .map_err(|e| VectorError(format!("write watermark: {}", e.kind())))?;
        self.through = mark.through;
        self.mark = mark;
        Ok(())
    }

    /// Builds the HNSW index over segments that grew past Qdrant's indexing threshold.
    pub fn optimize(&self) -> VectorResult<bool> {
        Ok(self.shard()?.optimize()?)
    }

    /// How many points there are.
    pub fn count(&self) -> VectorResult<usize> {
        Ok(self.shard()?.count(CountRequest {
            filter: None,
            exact: true,
        })?)
    }

    /// The `limit` chunks nearest `query`, optionally only from `documents`.
    pub fn nearest(
        &self,
        query: &[f32],
        documents: Option<&[i64]>,
        limit: usize,
    ) -> VectorResult<Vec<Hit>> {
        let filter = documents.map(documents_filter).transpose()?;
        let found = self.shard()?.query(QueryRequest {
            prefetches: Vec::new(),
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                NamedQuery::default_dense(query.to_vec()),
            ))),
            filter,
            score_threshold: None,
            limit,
            offset: 0,
            params: Some(SearchParams {
                hnsw_ef: Some(SEARCH_EF),
                ..SearchParams::default()
            }),
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        })?;
        Ok(found
            .into_iter()
            .filter_map(|p| match p.id {
                PointId::NumId(id) => Some(Hit {
                    chunk: id as i64,
                    score: p.score,
                }),
                PointId::Uuid(_) => None,
            })
            .collect())
    }
}

impl Drop for Vectors {
    /// Qdrant Edge flushes when dropped and panics if that fails (the directory was removed,
    /// the disk is full). Flush first under a guard; a shard that cannot flush is forgotten
    /// rather than dropped: everything acknowledged is in SQLite, and the index is rebuilt
    /// from it if it is found behind.
    fn drop(&mut self) {
        if let Some(shard) = self.shard.take() {
            if flush(&shard).is_ok() {
                drop(shard);
            } else {
                std::mem::forget(shard);
            }
        }
    }
}

/// Flushes the shard's WAL and segments, turning Qdrant's panic on failure into an error.
fn flush(shard: &EdgeShard) -> VectorResult<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shard.flush()))
        .map_err(|_| VectorError("the vector index could not be flushed to disk".to_owned()))
}

/// Chunks with their vector and payload fields; `?1` is the model.
const POINT_SELECT: &str = "SELECT c.id, c.document_id, d.project_id, d.path, d.kind, e.vector,
        (SELECT json_group_array(tag) FROM document_tags t WHERE t.document_id = d.id)
   FROM chunks c
   JOIN documents d ON d.id = c.document_id
   JOIN embeddings e ON e.model = ?1 AND e.text_hash = c.text_hash";

fn point_from(row: &rusqlite::Row<'_>) -> VectorResult<Option<PointStruct>> {
    let chunk: i64 = row.get(0)?;
    let document: i64 = row.get(1)?;
    let project: i64 = row.get(2)?;
    let path: String = row.get(3)?;
    let kind: String = row.get(4)?;
    let bytes: Vec<u8> = row.get(5)?;
    let tags: String = row.get(6)?;
    let Some(vector) = embed::from_bytes(&bytes) else {
        return Ok(None);
    };
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap_or_else(|_| json!([]));
    Ok(Some(PointStruct::new(
        chunk as u64,
        vector,
        json!({"document": document, "project": project, "path": path, "chunk": chunk, "kind": kind, "tags": tags}),
    )))
}

/// Points of any of `documents`.
fn documents_filter(documents: &[i64]) -> VectorResult<Filter> {
    serde_json::from_value(json!({"must": [{"key": "document", "match": {"any": documents}}]}))
        .map_err(|e| VectorError(format!("filter: {e}")))
}

fn document_index() -> VectorResult<CreateIndex> {
    serde_json::from_value(json!({"field_name": "document", "field_schema": "integer"}))
        .map_err(|e| VectorError(format!("payload index: {e}")))
}

fn config() -> qdrant_edge::EdgeConfig {
    EdgeConfigBuilder::new()
        .vector(
            "",
            EdgeVectorParamsBuilder::new(DIMENSIONS, Distance::Cosine).build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes_document(vectors: &Vectors) -> bool {
        vectors
            .shard()
            .map(|shard| {
                shard
                    .info()
                    .payload_schema
                    .keys()
                    .any(|k| k.to_string() == "document")
            })
            .unwrap_or(false)
    }

    /// Deleting a document's points is a filter on `document`; new shards and shards made
    /// before the index existed both have it once opened.
    #[test]
    fn the_document_field_is_indexed_in_new_and_older_shards() {
        let root = tempfile::tempdir().expect("temp dir");
        let fresh = Vectors::open(&root.path().join("fresh")).expect("new shard");
        assert!(indexes_document(&fresh));

        let older = root.path().join("older");
        std::fs::create_dir_all(&older).expect("dir");
        let shard = EdgeShard::new(&older, config()).expect("bare shard");
        assert!(
            !shard
                .info()
                .payload_schema
                .keys()
                .any(|k| k.to_string() == "document")
        );
        shard.flush();
        drop(shard);
        let reopened = Vectors::open(&older).expect("older shard");
        assert!(indexes_document(&reopened));
        drop(reopened);
        assert!(indexes_document(
            &Vectors::open(&older).expect("older shard")
        ));
    }
}
