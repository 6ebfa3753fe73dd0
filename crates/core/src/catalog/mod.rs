//! Canon blocks (the Sources of ASSET) and shapes (its Structured output), stored in SQLite.

pub mod commands;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::input;
use crate::names::Named;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

/// Whether a canon block is authoritative or supporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Authoritative: wins over other sources.
    Canon,
    /// Supporting material.
    Secondary,
}

impl Tier {
    /// Stored name.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Canon => "canon",
            Tier::Secondary => "secondary",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "canon" => Ok(Tier::Canon),
            "secondary" => Ok(Tier::Secondary),
            _ => Err(()),
        }
    }
}

/// A curated knowledge block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CanonBlock {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// The text.
    pub body: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Canon or secondary.
    pub tier: Tier,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
}

/// Largest canon body, bytes.
pub const MAX_BODY: usize = 1024 * 1024;
const MAX_TAGS: usize = 32;

/// Checks and normalises tags: 1–64 characters, no spaces, commas or control characters,
/// lowercased, deduplicated, at most 32.
pub fn tags(values: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tag in values {
        let tag = tag.trim().to_lowercase();
        let ok = !tag.is_empty()
            && tag.chars().count() <= 64
            && !tag
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',');
        if !ok {
            return Err(Error::invalid(
                "tags",
                "a tag is 1 to 64 characters without spaces or commas",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

fn canon_from_row(row: &Row<'_>) -> rusqlite::Result<CanonBlock> {
    let tags: String = row.get(3)?;
    let tier: String = row.get(4)?;
    Ok(CanonBlock {
        id: row.get(0)?,
        title: row.get(1)?,
        body: row.get(2)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        tier: tier.parse().unwrap_or(Tier::Secondary),
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

const CANON_COLUMNS: &str = "id, title, body, tags, tier, created_at, updated_at";

/// Reads one block.
pub fn canon_get(conn: &Connection, id: i64) -> Result<CanonBlock> {
    conn.query_row(
        &format!("SELECT {CANON_COLUMNS} FROM canon_blocks WHERE id = ?1"),
        [id],
        canon_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("canon block", id))
}

/// Lists blocks, optionally only those with `tag` and/or of `tier`.
pub fn canon_list(
    conn: &Connection,
    tag: Option<&str>,
    tier: Option<Tier>,
) -> Result<Vec<CanonBlock>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {CANON_COLUMNS} FROM canon_blocks
         WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?1))
           AND (?2 IS NULL OR tier = ?2)
         ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![tag, tier.map(Tier::name)], canon_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes a block: inserts when `id` is 0, else updates.
pub fn canon_save(conn: &Connection, block: &CanonBlock, now: Millis) -> Result<i64> {
    let tags = serde_json::to_string(&block.tags).unwrap_or_else(|_| "[]".to_owned());
    if block.id == 0 {
        conn.execute(
            "INSERT INTO canon_blocks (title, body, tags, tier, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![block.title, block.body, tags, block.tier.name(), now],
        )?;
        Ok(conn.last_insert_rowid())
    } else {
        conn.execute(
            "UPDATE canon_blocks SET title = ?2, body = ?3, tags = ?4, tier = ?5, updated_at = ?6
             WHERE id = ?1",
            params![
                block.id,
                block.title,
                block.body,
                tags,
                block.tier.name(),
                now
            ],
        )?;
        Ok(block.id)
    }
}

/// How a shape describes its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    /// Markdown whose `##` headings are required sections.
    Markdown,
    /// A JSON Schema document.
    JsonSchema,
}

impl ShapeKind {
    /// Stored name.
    pub fn name(self) -> &'static str {
        match self {
            ShapeKind::Markdown => "markdown",
            ShapeKind::JsonSchema => "json_schema",
        }
    }
}

impl std::str::FromStr for ShapeKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "markdown" => Ok(ShapeKind::Markdown),
            "json_schema" => Ok(ShapeKind::JsonSchema),
            _ => Err(()),
        }
    }
}

/// An output template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Shape {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Markdown or JSON Schema.
    pub kind: ShapeKind,
    /// What it is for.
    pub description: String,
    /// The template or schema.
    pub body: String,
    /// For Markdown shapes, the `##` headings the output must have.
    pub required_sections: Vec<String>,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
}

/// The `##` headings of a Markdown shape, in order.
pub fn required_sections(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Checks a shape body for its kind.
pub fn check_shape_body(kind: ShapeKind, body: &str) -> Result<()> {
    match kind {
        ShapeKind::Markdown => {
            if required_sections(body).is_empty() {
                return Err(Error::invalid(
                    "body",
                    "a Markdown shape needs at least one `## Section` heading",
                ));
            }
        }
        ShapeKind::JsonSchema => {
            let value: serde_json::Value = serde_json::from_str(body).map_err(|e| {
                Error::invalid(
                    "body",
                    format!("not valid JSON (line {}, column {})", e.line(), e.column()),
                )
            })?;
            let Some(object) = value.as_object() else {
                return Err(Error::invalid(
                    "body",
                    "a JSON Schema must be a JSON object",
                ));
            };
            if ![
                "type",
                "properties",
                "$schema",
                "oneOf",
                "anyOf",
                "allOf",
                "$ref",
            ]
            .iter()
            .any(|k| object.contains_key(*k))
            {
                return Err(Error::invalid(
                    "body",
                    "a JSON Schema needs at least one of type, properties, $schema, oneOf, anyOf, allOf, $ref",
                ));
            }
        }
    }
    input::text("body", body, MAX_BODY, true).map(|_| ())
}

fn shape_from_row(row: &Row<'_>) -> rusqlite::Result<Shape> {
    let kind: String = row.get(2)?;
    let kind = kind.parse().unwrap_or(ShapeKind::Markdown);
    let body: String = row.get(4)?;
    Ok(Shape {
        id: row.get(0)?,
        name: row.get(1)?,
        kind,
        description: row.get(3)?,
        required_sections: match kind {
            ShapeKind::Markdown => required_sections(&body),
            ShapeKind::JsonSchema => Vec::new(),
        },
        body,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

const SHAPE_COLUMNS: &str = "id, name, kind, description, body, created_at, updated_at";

/// Reads a shape by name.
pub fn shape_get(conn: &Connection, name: &str) -> Result<Shape> {
    conn.query_row(
        &format!("SELECT {SHAPE_COLUMNS} FROM shapes WHERE name = ?1"),
        [name],
        shape_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("shape", name))
}

/// Lists shapes by name.
pub fn shape_list(conn: &Connection) -> Result<Vec<Shape>> {
    let mut stmt = conn.prepare(&format!("SELECT {SHAPE_COLUMNS} FROM shapes ORDER BY name"))?;
    let rows = stmt.query_map([], shape_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Inserts (id 0) or updates a shape.
pub fn shape_save(conn: &Connection, shape: &Shape, now: Millis) -> Result<i64> {
    if shape.id == 0 {
        conn.execute(
            "INSERT INTO shapes (name, kind, description, body, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![
                shape.name,
                shape.kind.name(),
                shape.description,
                shape.body,
                now
            ],
        )?;
        Ok(conn.last_insert_rowid())
    } else {
        conn.execute(
            "UPDATE shapes SET kind = ?2, description = ?3, body = ?4, updated_at = ?5 WHERE id = ?1",
            params![shape.id, shape.kind.name(), shape.description, shape.body, now],
        )?;
        Ok(shape.id)
    }
}

impl Named for Tier {
    const ALL: &'static [Self] = &[Self::Canon, Self::Secondary];
    fn name(self) -> &'static str {
        Tier::name(self)
    }
}

impl Named for ShapeKind {
    const ALL: &'static [Self] = &[Self::Markdown, Self::JsonSchema];
    fn name(self) -> &'static str {
        ShapeKind::name(self)
    }
}
