//! Document intelligence: project folders read into documents, heading-aware passages, links
//! and tags, kept in SQLite (the truth) with a full-text index beside them; the vector index
//! and the graph are projections fed through the outbox.
//!
//! - [`walk`] finds the files of a project and reads them without leaving its root;
//! - [`markdown`] reads frontmatter, headings, links and tags;
//! - [`chunk`] cuts sections into passages that fit the embedding model;
//! - [`resolve`] points links at documents the way Obsidian does;
//! - [`store`] writes and reads all of it in SQLite;
//! - [`query`] reads what the user typed into words and phrases;
//! - [`search`] answers text, vector and hybrid queries;
//! - [`eval`] judges search against labelled questions and naive baselines.

pub mod chunk;
pub mod commands;
pub mod eval;
pub mod ingest;
pub mod markdown;
pub mod projects;
pub mod query;
pub mod resolve;
pub mod search;
pub mod store;
pub mod walk;
pub mod watch;
pub mod watching;

use crate::names::Named;
use serde::{Deserialize, Serialize};

/// A document in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DocumentSummary {
    /// Id.
    pub id: i64,
    /// Project name.
    pub project: String,
    /// Path in the project.
    pub path: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: DocumentKind,
}

/// What a file holds, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Markdown: frontmatter, headings, wikilinks.
    Markdown,
    /// Plain text, and any text file of an unknown type.
    Text,
    /// A Fountain screenplay.
    Fountain,
    /// An Org file.
    Org,
    /// reStructuredText.
    Rst,
    /// Source code and configuration.
    Code,
}

impl DocumentKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Markdown => "markdown",
            DocumentKind::Text => "text",
            DocumentKind::Fountain => "fountain",
            DocumentKind::Org => "org",
            DocumentKind::Rst => "rst",
            DocumentKind::Code => "code",
        }
    }

    /// The inverse of [`DocumentKind::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "markdown" => DocumentKind::Markdown,
            "text" => DocumentKind::Text,
            "fountain" => DocumentKind::Fountain,
            "org" => DocumentKind::Org,
            "rst" => DocumentKind::Rst,
            "code" => DocumentKind::Code,
            _ => return None,
        })
    }
}

impl Named for DocumentKind {
    const ALL: &'static [Self] = &[
        Self::Markdown,
        Self::Text,
        Self::Fountain,
        Self::Org,
        Self::Rst,
        Self::Code,
    ];
    fn name(self) -> &'static str {
        self.as_str()
    }
}
