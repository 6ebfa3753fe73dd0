//! The core's integration tests, on real SQLite files and a real Kuzu database in temp vaults.

mod assets;
mod attachments;
mod audit;
mod authorize;
mod boot;
mod catalog;
mod docs;
mod fixture;
mod graph;
mod hardening;
mod names;
mod orchestrate;
mod prompts;
mod providers;
mod remote;
mod rng;
mod runs;
mod tasks;
