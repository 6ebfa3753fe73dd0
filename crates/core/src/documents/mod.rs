//! Document intelligence: project folders read into documents, heading-aware passages, links
//! and tags, kept in SQLite (the truth) with a full-text index beside them; the vector index
//! and the graph are projections fed through the outbox.
//!
//! - [`walk`] finds the files of a project and reads them without leaving its root;
//! - [`markdown`] reads frontmatter, headings, links and tags;
//! - [`attachment`] reads what images, audio, video, PDFs and canvases hold;
//! - [`chunk`] cuts sections into passages that fit the embedding model;
//! - [`resolve`] points links at documents the way Obsidian does;
//! - [`store`] writes and reads all of it in SQLite;
//! - [`query`] reads what the user typed into words and phrases;
//! - [`search`] answers text, vector and hybrid queries;
//! - [`eval`] judges search against labelled questions and naive baselines.

pub mod attachment;
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

/// The attachment kind and media type of a file extension (lowercase), as Obsidian accepts
/// them; `None` for any other extension. `webm` is read as video, as Obsidian plays it.
pub fn attachment_type(extension: &str) -> Option<(DocumentKind, &'static str)> {
    use DocumentKind::{Audio, Canvas, Image, Pdf, Video};
    Some(match extension {
        "avif" => (Image, "image/avif"),
        "bmp" => (Image, "image/bmp"),
        "gif" => (Image, "image/gif"),
        "jpeg" | "jpg" => (Image, "image/jpeg"),
        "png" => (Image, "image/png"),
        "svg" => (Image, "image/svg+xml"),
        "webp" => (Image, "image/webp"),
        "flac" => (Audio, "audio/flac"),
        "m4a" => (Audio, "audio/mp4"),
        "mp3" => (Audio, "audio/mpeg"),
        "ogg" => (Audio, "audio/ogg"),
        "wav" => (Audio, "audio/wav"),
        "3gp" => (Audio, "audio/3gpp"),
        "mkv" => (Video, "video/x-matroska"),
        "mov" => (Video, "video/quicktime"),
        "mp4" => (Video, "video/mp4"),
        "ogv" => (Video, "video/ogg"),
        "webm" => (Video, "video/webm"),
        "pdf" => (Pdf, "application/pdf"),
        "canvas" => (Canvas, "application/json"),
        _ => return None,
    })
}

/// The lowercase extension of `path`.
pub fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

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
    /// An image attachment (its dimensions read from the header).
    Image,
    /// An audio attachment (its duration read from the container).
    Audio,
    /// A video attachment (its duration read from the container).
    Video,
    /// A PDF attachment: its text, page by page, is searched like any passage.
    Pdf,
    /// An Obsidian canvas (JSON Canvas): its text nodes are its passages, its file nodes embeds.
    Canvas,
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
            DocumentKind::Image => "image",
            DocumentKind::Audio => "audio",
            DocumentKind::Video => "video",
            DocumentKind::Pdf => "pdf",
            DocumentKind::Canvas => "canvas",
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
            "image" => DocumentKind::Image,
            "audio" => DocumentKind::Audio,
            "video" => DocumentKind::Video,
            "pdf" => DocumentKind::Pdf,
            "canvas" => DocumentKind::Canvas,
            _ => return None,
        })
    }

    /// Whether files of this kind are attachments: embedded or linked from notes rather than
    /// notes themselves, with a media type.
    pub fn is_attachment(self) -> bool {
        self.is_binary() || self == DocumentKind::Canvas
    }

    /// Whether files of this kind are read as bytes (everything else is UTF-8 text).
    pub fn is_binary(self) -> bool {
        matches!(
            self,
            DocumentKind::Image | DocumentKind::Audio | DocumentKind::Video | DocumentKind::Pdf
        )
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
        Self::Image,
        Self::Audio,
        Self::Video,
        Self::Pdf,
        Self::Canvas,
    ];
    fn name(self) -> &'static str {
        self.as_str()
    }
}
