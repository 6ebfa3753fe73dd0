//! Documents in SQLite: writing a read file (document row, tags, links, passages; the
//! full-text index follows by trigger), removing one, re-resolving a project's links, and
//! the snapshots the projections are fed.

use super::DocumentKind;
use super::DocumentSummary;
use super::attachment::{self, Media};
use super::chunk::{self, Passage, TokenCount};
use super::markdown::{self, Link, LinkForm};
use super::resolve::{Resolver, Target};
use super::walk::SkipReason;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::projection::outbox::{DocumentSnapshot, LinkSnapshot};
use crate::store::migrations::hex;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A file read and cut up, ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Path in the project.
    pub path: String,
    /// What it holds.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// SHA-256 of its bytes.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ms.
    pub modified_at: i64,
    /// Frontmatter, JSON object text.
    pub frontmatter: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Links.
    pub links: Vec<Link>,
    /// Passages.
    pub passages: Vec<Passage>,
    /// Frontmatter that did not parse.
    pub frontmatter_error: Option<String>,
    /// An attachment's media facts; `None` for notes.
    pub media: Option<Media>,
    /// Why an attachment's content was not read (it is kept without it).
    pub unread: Option<SkipReason>,
}

/// SHA-256 of `bytes`, hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Reads `text` (the file at `path`, a note or a canvas, whose [`content_hash`] is `hash`)
/// into a [`Prepared`].
pub fn prepare(
    path: &str,
    text: &str,
    hash: String,
    size: u64,
    modified_at: i64,
    counter: &dyn TokenCount,
) -> Prepared {
    let kind = super::walk::kind_of(path);
    let stem = stem(path);
    let mut unread = None;
    let parsed = if kind == DocumentKind::Canvas {
        // A canvas reads as Markdown made of its nodes; its title stays its name.
        let markdown = attachment::canvas_markdown(text).unwrap_or_else(|| {
            unread = Some(SkipReason::Unparsable);
            String::new()
        });
        let mut parsed = markdown::parse(&markdown, DocumentKind::Markdown, stem);
        parsed.title = stem.to_owned();
        parsed
    } else {
        markdown::parse(text, kind, stem)
    };
    let passages = chunk::passages(&parsed.sections, &parsed.title, counter);
    Prepared {
        path: path.to_owned(),
        kind,
        title: parsed.title,
        hash,
        size,
        modified_at,
        frontmatter: serde_json::Value::Object(parsed.frontmatter).to_string(),
        aliases: parsed.aliases,
        tags: parsed.tags,
        links: parsed.links,
        passages,
        frontmatter_error: parsed.frontmatter_error,
        media: super::attachment_type(&super::extension(path))
            .filter(|_| kind == DocumentKind::Canvas)
            .map(|(_, media_type)| Media {
                media_type: media_type.to_owned(),
                ..Media::default()
            }),
        unread,
    }
}

/// Reads `bytes` (the attachment at `path`: an image, a recording or a PDF; their
/// [`content_hash`] is `hash`) into a [`Prepared`]. A PDF's pages are its sections, each one line numbered by its page, so a
/// passage's "lines" are the pages it spans.
pub fn prepare_attachment(
    path: &str,
    bytes: &[u8],
    hash: String,
    size: u64,
    modified_at: i64,
    counter: &dyn TokenCount,
) -> Prepared {
    let contents = attachment::read(path, bytes);
    let title = stem(path).to_owned();
    let sections: Vec<markdown::Section> = contents
        .pages
        .iter()
        .enumerate()
        .filter(|(_, text)| !text.is_empty())
        .map(|(index, text)| markdown::Section {
            headings: vec![format!("Page {}", index + 1)],
            start_line: index + 1,
            lines: vec![text.clone()],
        })
        .collect();
    let passages = chunk::passages(&sections, &title, counter);
    Prepared {
        path: path.to_owned(),
        kind: super::walk::kind_of(path),
        title,
        hash,
        size,
        modified_at,
        frontmatter: "{}".to_owned(),
        aliases: Vec::new(),
        tags: Vec::new(),
        links: Vec::new(),
        passages,
        frontmatter_error: None,
        media: Some(contents.media),
        unread: contents.unread,
    }
}

/// A file's name without its extension, the title Obsidian shows.
fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

/// What the vault holds of a file, for the cheap unchanged check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Document id.
    pub id: i64,
    /// Content hash.
    pub hash: String,
    /// Size.
    pub size: u64,
    /// Modification time, ms.
    pub modified_at: i64,
}

/// The project's documents by path.
pub fn known(conn: &Connection, project: i64) -> rusqlite::Result<HashMap<String, Known>> {
    let mut stmt = conn.prepare(
        "SELECT path, id, content_hash, size, modified_at FROM documents WHERE project_id = ?1",
    )?;
    let rows = stmt.query_map([project], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Known {
                id: r.get(1)?,
                hash: r.get(2)?,
                size: r.get::<_, i64>(3)?.try_into().unwrap_or(0),
                modified_at: r.get(4)?,
            },
        ))
    })?;
    rows.collect()
}

/// Records a new modification time for a file whose content did not change.
pub fn touch(conn: &Connection, id: i64, modified_at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE documents SET modified_at = ?2 WHERE id = ?1",
        params![id, modified_at],
    )?;
    Ok(())
}

/// Writes `file` into `project`, replacing what was there for its path. Links are stored
/// dangling; [`resolve_links`] points them. Answers the document id.
pub fn write(
    conn: &Connection,
    project: i64,
    file: &Prepared,
    now: Millis,
) -> rusqlite::Result<i64> {
    let aliases = serde_json::to_string(&file.aliases).unwrap_or_else(|_| "[]".to_owned());
    let media = file.media.as_ref();
    let id: i64 = conn.query_row(
        "INSERT INTO documents
             (project_id, path, kind, title, content_hash, size, modified_at, frontmatter, aliases,
              ingested_at, media_type, width, height, duration_ms, pages)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (project_id, path) DO UPDATE SET
             kind = excluded.kind, title = excluded.title, content_hash = excluded.content_hash,
             size = excluded.size, modified_at = excluded.modified_at,
             frontmatter = excluded.frontmatter, aliases = excluded.aliases,
             ingested_at = excluded.ingested_at, media_type = excluded.media_type,
             width = excluded.width, height = excluded.height,
             duration_ms = excluded.duration_ms, pages = excluded.pages
         RETURNING id",
        params![
            project,
            file.path,
            file.kind.as_str(),
            file.title,
            file.hash,
            i64::try_from(file.size).unwrap_or(i64::MAX),
            file.modified_at,
            file.frontmatter,
            aliases,
            now,
            media.map(|m| m.media_type.as_str()),
            media.and_then(|m| m.width),
            media.and_then(|m| m.height),
            media.and_then(|m| m.duration_ms),
            media.and_then(|m| m.pages),
        ],
        |r| r.get(0),
    )?;
    conn.execute("DELETE FROM document_tags WHERE document_id = ?1", [id])?;
    conn.execute("DELETE FROM links WHERE source_id = ?1", [id])?;
    conn.execute("DELETE FROM chunks WHERE document_id = ?1", [id])?;
    let mut tag = conn
        .prepare_cached("INSERT OR IGNORE INTO document_tags (document_id, tag) VALUES (?1, ?2)")?;
    for t in &file.tags {
        tag.execute(params![id, t])?;
    }
    let mut link = conn.prepare_cached(
        "INSERT INTO links (source_id, form, target, heading, label, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for l in &file.links {
        link.execute(params![
            id,
            l.form.as_str(),
            l.target,
            l.heading,
            l.label,
            i64::try_from(l.line).unwrap_or(i64::MAX)
        ])?;
    }
    let mut chunk = conn.prepare_cached(
        "INSERT INTO chunks
             (id, document_id, seq, heading, body, embeds_heading, text_hash, tokens, start_line, end_line)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (seq, passage) in file.passages.iter().enumerate() {
        let text_hash = content_hash(passage.text.as_bytes());
        let occurrence = seen.entry(&passage.text).or_insert(0);
        let chunk_id = chunk_id(id, &text_hash, *occurrence);
        *occurrence += 1;
        chunk.execute(params![
            chunk_id,
            id,
            i64::try_from(seq).unwrap_or(i64::MAX),
            passage.heading,
            passage.body,
            passage.embeds_heading,
            text_hash,
            i64::try_from(passage.tokens).unwrap_or(i64::MAX),
            i64::try_from(passage.lines.0).unwrap_or(0),
            i64::try_from(passage.lines.1).unwrap_or(0),
        ])?;
    }
    Ok(id)
}

/// A chunk's id: stable while the document and the passage's text are, distinct for a text
/// A passage's text; `None` if it is gone.
pub fn chunk_body(conn: &Connection, chunk: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT body FROM chunks WHERE id = ?1", [chunk], |r| {
        r.get(0)
    })
    .optional()
}

/// repeated in one document. Positive, so it doubles as the vector index's point id.
pub fn chunk_id(document: i64, text_hash: &str, occurrence: usize) -> i64 {
    let digest = Sha256::digest(format!("{document}\0{text_hash}\0{occurrence}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) >> 1) as i64
}

/// Removes a document and everything hanging off it.
pub fn remove(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    // Chunks first and explicitly, so the full-text trigger sees every deletion.
    conn.execute("DELETE FROM chunks WHERE document_id = ?1", [id])?;
    conn.execute("DELETE FROM documents WHERE id = ?1", [id])?;
    Ok(())
}

/// Re-resolves every link of `project` against its current documents; answers the documents
/// whose outgoing links changed.
pub fn resolve_links(conn: &Connection, project: i64) -> rusqlite::Result<Vec<i64>> {
    let mut targets = Vec::new();
    {
        let mut stmt =
            conn.prepare("SELECT id, path, aliases FROM documents WHERE project_id = ?1")?;
        let rows = stmt.query_map([project], |r| {
            let aliases: String = r.get(2)?;
            Ok(Target {
                id: r.get(0)?,
                path: r.get(1)?,
                aliases: serde_json::from_str(&aliases).unwrap_or_default(),
            })
        })?;
        for row in rows {
            targets.push(row?);
        }
    }
    let paths: HashMap<i64, String> = targets.iter().map(|t| (t.id, t.path.clone())).collect();
    let resolver = Resolver::new(targets);
    let mut stmt = conn.prepare(
        "SELECT l.id, l.source_id, l.form, l.target, l.target_id
           FROM links l JOIN documents d ON d.id = l.source_id WHERE d.project_id = ?1",
    )?;
    let rows = stmt.query_map([project], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    let mut update = conn.prepare_cached("UPDATE links SET target_id = ?2 WHERE id = ?1")?;
    let mut changed = Vec::new();
    for row in rows {
        let (link, source, form, target, current) = row?;
        let form = match form.as_str() {
            "markdown" => LinkForm::Markdown,
            "embed" => LinkForm::Embed,
            _ => LinkForm::Wikilink,
        };
        let source_path = paths.get(&source).map_or("", String::as_str);
        let resolved = resolver.resolve(form, &target, source_path);
        if resolved != current {
            update.execute(params![link, resolved])?;
            changed.push(source);
        }
    }
    changed.sort_unstable();
    changed.dedup();
    Ok(changed)
}

/// The graph's view of document `id`, `None` when it does not exist.
pub fn snapshot(conn: &Connection, id: i64) -> rusqlite::Result<Option<DocumentSnapshot>> {
    let head = conn
        .query_row(
            "SELECT p.name, d.path, d.title, d.kind FROM documents d
               JOIN projects p ON p.id = d.project_id WHERE d.id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((project, path, title, kind)) = head else {
        return Ok(None);
    };
    let mut tags_stmt =
        conn.prepare_cached("SELECT tag FROM document_tags WHERE document_id = ?1 ORDER BY tag")?;
    let tags = tags_stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let mut links_stmt =
        conn.prepare_cached("SELECT target_id, target, form FROM links WHERE source_id = ?1")?;
    let rows = links_stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)? == LinkForm::Embed.as_str(),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut embeds: Vec<i64> = rows
        .iter()
        .filter_map(|(target, _, embed)| target.filter(|_| *embed))
        .collect();
    let mut links: Vec<LinkSnapshot> = rows
        .into_iter()
        .map(|(target, written, _)| match target {
            Some(target) => LinkSnapshot::Resolved(target),
            None => LinkSnapshot::Dangling(written.trim().to_lowercase()),
        })
        .collect();
    links.retain(|l| !matches!(l, LinkSnapshot::Dangling(t) if t.is_empty()));
    links.sort();
    links.dedup();
    embeds.sort_unstable();
    embeds.dedup();
    Ok(Some(DocumentSnapshot {
        id,
        project,
        path,
        title,
        tags,
        links,
        kind,
        embeds,
    }))
}

/// Every document's snapshot, for a rebuild.
pub fn all_snapshots(conn: &Connection) -> rusqlite::Result<Vec<DocumentSnapshot>> {
    crate::projection::outbox::all_snapshots(conn, "SELECT id FROM documents ORDER BY id", snapshot)
}

/// Up to `limit` passage texts with no vector from `model` yet, by text hash.
pub fn unembedded(
    conn: &Connection,
    model: &str,
    limit: usize,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.text_hash, c.heading, c.body, c.embeds_heading, d.title
           FROM chunks c JOIN documents d ON d.id = c.document_id
          WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ?1 AND e.text_hash = c.text_hash)
          GROUP BY c.text_hash LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![model, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            let heading: String = r.get(1)?;
            let body: String = r.get(2)?;
            let title: String = r.get(4)?;
            let context = chunk::context(&title, &heading);
            Ok((r.get(0)?, chunk::embedded_text(&context, &body, r.get(3)?)))
        },
    )?;
    rows.collect()
}

/// How many distinct passage texts still lack a vector from `model`.
pub fn unembedded_count(conn: &Connection, model: &str) -> rusqlite::Result<usize> {
    conn.query_row(
        "SELECT COUNT(DISTINCT c.text_hash) FROM chunks c
          WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ?1 AND e.text_hash = c.text_hash)",
        [model],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| usize::try_from(n).unwrap_or(0))
}

/// Stores vectors by text hash; answers the documents that have a passage with one of them.
pub fn store_embeddings(
    conn: &Connection,
    model: &str,
    vectors: &[(String, Vec<f32>)],
) -> rusqlite::Result<Vec<i64>> {
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO embeddings (model, text_hash, vector) VALUES (?1, ?2, ?3)",
    )?;
    let mut documents =
        conn.prepare_cached("SELECT DISTINCT document_id FROM chunks WHERE text_hash = ?1")?;
    let mut touched = Vec::new();
    for (hash, vector) in vectors {
        insert.execute(params![model, hash, crate::embed::to_bytes(vector)])?;
        for id in documents.query_map([hash], |r| r.get::<_, i64>(0))? {
            touched.push(id?);
        }
    }
    touched.sort_unstable();
    touched.dedup();
    Ok(touched)
}

/// The media facts of document `id`; `None` for a note (or no such document).
pub(crate) fn media(db: &Connection, id: i64) -> rusqlite::Result<Option<Media>> {
    db.query_row(
        "SELECT media_type, width, height, duration_ms, pages FROM documents
          WHERE id = ?1 AND media_type IS NOT NULL",
        [id],
        |r| {
            Ok(Media {
                media_type: r.get(0)?,
                width: r.get(1)?,
                height: r.get(2)?,
                duration_ms: r.get(3)?,
                pages: r.get(4)?,
            })
        },
    )
    .optional()
}

/// The document `id` as listed.
pub(crate) fn summary(db: &Connection, id: i64) -> Result<DocumentSummary> {
    db.query_row(
        "SELECT d.id, p.name, d.path, d.title, d.kind FROM documents d
           JOIN projects p ON p.id = d.project_id WHERE d.id = ?1",
        [id],
        |r| {
            let kind: String = r.get(4)?;
            Ok(DocumentSummary {
                id: r.get(0)?,
                project: r.get(1)?,
                path: r.get(2)?,
                title: r.get(3)?,
                kind: DocumentKind::parse(&kind).unwrap_or(DocumentKind::Text),
            })
        },
    )
    .optional()?
    .ok_or_else(|| Error::not_found("document", id))
}

/// The document a reference names: an id, `PROJECT:PATH`, or a path found in one project only.
pub(crate) fn find_document(db: &Connection, reference: &str) -> Result<i64> {
    let reference = reference.trim();
    if let Ok(id) = reference.parse::<i64>() {
        return summary(db, id).map(|s| s.id);
    }
    if let Some((project, path)) = reference.split_once(':') {
        let found: Option<i64> = db
            .query_row(
                "SELECT d.id FROM documents d JOIN projects p ON p.id = d.project_id
                  WHERE p.name = ?1 AND d.path = ?2",
                params![project, path],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = found {
            return Ok(id);
        }
    }
    let ids = db
        .prepare("SELECT id FROM documents WHERE path = ?1")?
        .query_map([reference], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(Error::not_found("document", reference)),
        _ => Err(Error::invalid(
            "document",
            format!("{reference} is in several projects; name it as PROJECT:{reference}"),
        )),
    }
}
