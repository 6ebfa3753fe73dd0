//! Projections: what SQLite (the only truth) feeds, through the [`outbox`], into the Kuzu
//! [`graph`] and the Qdrant Edge [`vectors`] shard. Both can be rebuilt from SQLite.

pub mod graph;
pub mod outbox;
pub mod vectors;
