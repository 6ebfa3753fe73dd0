//! The projections caught up with the outbox: the graph and the vector index are opened,
//! checked against their outbox mark, caught up, or rebuilt from SQLite when they cannot be
//! trusted; and the embedding model, loaded on first use.

use super::{Atelier, OpenVault, lock};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::projection::graph::Graph;
use crate::projection::outbox;
use crate::projection::vectors::Vectors;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;

impl Atelier {
    /// Brings the graph up to the outbox, opening it if needed; a graph that will not open or
    /// apply is rebuilt from SQLite. Returns the outbox id it now reflects.
    pub(crate) fn graph_in_sync(&self, open: &OpenVault) -> Result<i64> {
        let db = lock(&open.db);
        let mut slot = lock(&open.graph);
        self.sync(&db, &mut slot).map(|p| p.through)
    }

    /// The body of [`Atelier::graph_in_sync`], for callers already holding both locks.
    pub(crate) fn sync<'s>(
        &self,
        db: &Connection,
        slot: &'s mut Option<Projection>,
    ) -> Result<&'s Projection> {
        let dir = self.vault.join(super::GRAPH_DIR);
        if slot.is_none() {
            // A graph whose mark the outbox cannot explain (another vault's, one ahead of the
            // outbox, or one whose last row was replaced, as after a restored backup) is not
            // caught up from there: it is rebuilt.
            *slot = Projection::open(&dir)
                .ok()
                .filter(|p| p.mark.explained_by(db).unwrap_or(false));
        }
        let caught_up = match slot.as_mut() {
            Some(projection) => projection.catch_up(db).is_ok(),
            None => false,
        };
        if !caught_up {
            // Never trust a projection that failed: rebuild it from the truth.
            *slot = None;
            *slot = Some(Projection::rebuild(db, &dir)?);
        }
        slot.as_ref().ok_or_else(|| Error::Graph {
            message: "the graph is not open".to_owned(),
        })
    }

    /// Brings the vector index up to the outbox, opening it if needed; an index that will not
    /// open or apply, or whose point count disagrees with SQLite when first opened, is rebuilt
    /// from SQLite. Returns the outbox id it now reflects.
    pub(crate) fn vectors_in_sync(&self, open: &OpenVault) -> Result<i64> {
        let db = lock(&open.db);
        let mut slot = lock(&open.vectors);
        self.sync_vectors(&db, &mut slot)
            .map(|v| v.applied_through())
    }

    /// The body of [`Atelier::vectors_in_sync`], for callers holding both locks.
    pub(crate) fn sync_vectors<'s>(
        &self,
        db: &Connection,
        slot: &'s mut Option<Vectors>,
    ) -> Result<&'s mut Vectors> {
        let dir = self.vault.join(super::VECTORS_DIR);
        if slot.is_none() {
            *slot = Vectors::open(&dir).ok();
            // Freshly opened after a crash, a copy or a restore: trust it only if the outbox
            // explains its mark and it holds what SQLite says it should once caught up.
            if let Some(vectors) = slot.as_mut() {
                let agrees = vectors.mark().explained_by(db).unwrap_or(false)
                    && catch_up_vectors(db, vectors).is_ok()
                    && vectors.count().ok() == expected_points(db).ok();
                if !agrees {
                    *slot = None;
                }
            }
        }
        let caught_up = match slot.as_mut() {
            Some(vectors) => catch_up_vectors(db, vectors).is_ok(),
            None => false,
        };
        if !caught_up {
            *slot = None;
            let mark = outbox::Mark::at(db, outbox::last_id(db)?)?;
            *slot = Some(Vectors::rebuild(db, &dir, mark)?);
        }
        slot.as_mut().ok_or_else(|| Error::Vectors {
            message: "the vector index is not open".to_owned(),
        })
    }

    /// Runs `query` on an up-to-date vector index.
    pub(crate) fn with_vectors<T>(
        &self,
        open: &OpenVault,
        query: impl FnOnce(&Connection, &mut Vectors) -> Result<T>,
    ) -> Result<T> {
        let db = lock(&open.db);
        let mut slot = lock(&open.vectors);
        let vectors = self.sync_vectors(&db, &mut slot)?;
        query(&db, vectors)
    }

    /// The embedding model, loaded on first use.
    pub(crate) fn embedder(&self, open: &OpenVault) -> Result<Arc<Embedder>> {
        let mut slot = lock(&open.embedder);
        if let Some(embedder) = slot.as_ref() {
            return Ok(Arc::clone(embedder));
        }
        let dir = crate::embed::locate(&open.model_dirs)?;
        let embedder = Arc::new(Embedder::load(&dir)?);
        *slot = Some(Arc::clone(&embedder));
        Ok(embedder)
    }

    /// Runs `query` on an up-to-date graph.
    pub(crate) fn with_graph<T>(
        &self,
        open: &OpenVault,
        query: impl FnOnce(&Graph) -> std::result::Result<T, crate::projection::graph::GraphError>,
    ) -> Result<T> {
        let db = lock(&open.db);
        let mut slot = lock(&open.graph);
        query(&self.sync(&db, &mut slot)?.graph).map_err(graph_error)
    }
}

pub(crate) fn graph_error(e: crate::projection::graph::GraphError) -> Error {
    Error::Graph { message: e.0 }
}

/// How many outbox rows one graph transaction applies.
pub(crate) const BATCH: u32 = 500;

/// The open graph and the last outbox id it reflects. Kept in memory because one process owns
/// the vault, so nothing else moves the watermark; reading it from Kuzu costs a query.
#[derive(Debug)]
pub(crate) struct Projection {
    pub(crate) graph: Graph,
    pub(crate) through: i64,
    /// Where it stands in the outbox, checked against the outbox when it is opened.
    pub(crate) mark: outbox::Mark,
}

impl Projection {
    pub(crate) fn open(dir: &Path) -> Result<Projection> {
        let graph = Graph::open(dir).map_err(graph_error)?;
        let mark = graph.mark().map_err(graph_error)?;
        Ok(Projection {
            graph,
            through: mark.through,
            mark,
        })
    }

    /// Rebuilds the graph in `dir` from SQLite alone.
    pub(crate) fn rebuild(db: &Connection, dir: &Path) -> Result<Projection> {
        let tx = db.unchecked_transaction()?;
        let snapshots = crate::tasks::all_snapshots(&tx)?;
        let documents = crate::documents::store::all_snapshots(&tx)?;
        let assets = crate::assets::all_snapshots(&tx)?;
        let mark = outbox::Mark::at(&tx, outbox::last_id(&tx)?)?;
        tx.finish()?;
        let graph =
            Graph::rebuild(dir, &snapshots, documents, assets, mark).map_err(graph_error)?;
        Ok(Projection {
            graph,
            through: mark.through,
            mark,
        })
    }

    /// Applies the outbox rows after the watermark, in batches.
    pub(crate) fn catch_up(&mut self, db: &Connection) -> Result<()> {
        loop {
            let changes = outbox::pending::<outbox::GraphChange>(db, self.through, BATCH)?;
            let Some((last, _)) = changes.last() else {
                return Ok(());
            };
            let mark = outbox::Mark::at(db, *last)?;
            self.graph.apply(&changes, mark).map_err(graph_error)?;
            self.through = mark.through;
            self.mark = mark;
        }
    }
}

/// Applies the vector outbox rows after the index's watermark, in batches.
pub(crate) fn catch_up_vectors(db: &Connection, vectors: &mut Vectors) -> Result<()> {
    loop {
        let changes =
            outbox::pending::<outbox::VectorChange>(db, vectors.applied_through(), BATCH)?;
        if changes.is_empty() {
            return Ok(());
        }
        vectors.apply(db, &changes)?;
    }
}

/// How many points the vector index should hold: passages whose text has a vector.
pub(crate) fn expected_points(db: &Connection) -> Result<usize> {
    let n: i64 = db.query_row(
        "SELECT COUNT(*) FROM chunks c JOIN embeddings e
            ON e.model = ?1 AND e.text_hash = c.text_hash",
        [crate::embed::MODEL_NAME],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}
