//! Canon block and shape commands.

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::catalog::{self, CanonBlock, Shape, ShapeKind, Tier};
use crate::error::{Error, Result};
use crate::input::{self, MAX_TITLE, positive_id};
use crate::vault::Atelier;
use serde::{Deserialize, Serialize};

const MAX_DESCRIPTION: usize = 4096;

/// A canon block to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewCanon {
    /// Title.
    pub title: String,
    /// Text, at most 1 MiB.
    pub body: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Canon (default) or secondary.
    #[serde(default = "default_tier")]
    pub tier: Tier,
}

fn default_tier() -> Tier {
    Tier::Canon
}

/// Changes to a canon block; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CanonEdit {
    /// The block.
    pub id: i64,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New text.
    #[serde(default)]
    pub body: Option<String>,
    /// Replacement tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New tier.
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// Narrows `canon ls`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default, deny_unknown_fields)]
pub struct CanonFilter {
    /// Only blocks with this tag.
    pub tag: Option<String>,
    /// Only blocks of this tier.
    pub tier: Option<Tier>,
}

/// A shape to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewShape {
    /// Unique name (lowercase, digits, `_`, `-`).
    pub name: String,
    /// Markdown or JSON Schema.
    pub kind: ShapeKind,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The template or schema.
    pub body: String,
}

/// Changes to a shape; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ShapeEdit {
    /// The shape's name.
    pub name: String,
    /// New kind (the body is checked against it).
    #[serde(default)]
    pub kind: Option<ShapeKind>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New body.
    #[serde(default)]
    pub body: Option<String>,
}

impl Atelier {
    /// Creates a canon block. Needs `vault_write`.
    pub fn canon_create(&self, who: &Principal, new: NewCanon) -> Result<CanonBlock> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let mut block = CanonBlock {
                id: 0,
                title: input::line("title", &new.title, MAX_TITLE)?,
                body: input::text("body", &new.body, catalog::MAX_BODY, true)?,
                tags: catalog::tags(&new.tags)?,
                tier: new.tier,
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            block.id = catalog::canon_save(ctx.tx, &block, ctx.now)?;
            let entry = Entry {
                action: "canon.create",
                target: Target::Canon(block.id),
                summary: format!(
                    "created {} block {} {:?}",
                    block.tier.name(),
                    block.id,
                    block.title
                ),
            };
            Ok((block, entry))
        })
    }

    /// Edits a canon block. Needs `vault_write`.
    pub fn canon_edit(&self, who: &Principal, edit: CanonEdit) -> Result<CanonBlock> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let mut block = catalog::canon_get(ctx.tx, positive_id("id", edit.id)?)?;
            let mut changed = Vec::new();
            if let Some(title) = &edit.title {
                block.title = input::line("title", title, MAX_TITLE)?;
                changed.push("title");
            }
            if let Some(body) = &edit.body {
                block.body = input::text("body", body, catalog::MAX_BODY, true)?;
                changed.push("body");
            }
            if let Some(tags) = &edit.tags {
                block.tags = catalog::tags(tags)?;
                changed.push("tags");
            }
            if let Some(tier) = edit.tier {
                block.tier = tier;
                changed.push("tier");
            }
            if changed.is_empty() {
                return Err(Error::invalid("edit", "nothing to change"));
            }
            catalog::canon_save(ctx.tx, &block, ctx.now)?;
            let block = catalog::canon_get(ctx.tx, block.id)?;
            let entry = Entry {
                action: "canon.edit",
                target: Target::Canon(block.id),
                summary: format!("changed {} of canon block {}", changed.join(", "), block.id),
            };
            Ok((block, entry))
        })
    }

    /// Lists canon blocks. Needs `vault_read`.
    pub fn canon_list(&self, who: &Principal, filter: &CanonFilter) -> Result<Vec<CanonBlock>> {
        let tag = filter
            .tag
            .as_ref()
            .map(|t| catalog::tags(std::slice::from_ref(t)).map(|mut v| v.remove(0)))
            .transpose()?;
        self.read(who, Capability::VaultRead, |db, _| {
            catalog::canon_list(db, tag.as_deref(), filter.tier)
        })
    }

    /// One canon block. Needs `vault_read`.
    pub fn canon_show(&self, who: &Principal, id: i64) -> Result<CanonBlock> {
        positive_id("id", id)?;
        self.read(who, Capability::VaultRead, |db, _| {
            catalog::canon_get(db, id)
        })
    }

    /// Creates a shape. Needs `vault_write`.
    pub fn shape_create(&self, who: &Principal, new: NewShape) -> Result<Shape> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let name = input::slug("name", &new.name)?;
            catalog::check_shape_body(new.kind, &new.body)?;
            if catalog::shape_get(ctx.tx, &name).is_ok() {
                return Err(Error::AlreadyExists {
                    kind: "shape".to_owned(),
                    id: name,
                });
            }
            let shape = Shape {
                id: 0,
                name,
                kind: new.kind,
                description: input::text("description", &new.description, MAX_DESCRIPTION, false)?,
                body: new.body.clone(),
                required_sections: Vec::new(),
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            catalog::shape_save(ctx.tx, &shape, ctx.now)?;
            let shape = catalog::shape_get(ctx.tx, &shape.name)?;
            let entry = Entry {
                action: "shape.create",
                target: Target::Shape(shape.name.to_string()),
                summary: format!("created {} shape {}", shape.kind.name(), shape.name),
            };
            Ok((shape, entry))
        })
    }

    /// Edits a shape. Needs `vault_write`.
    pub fn shape_edit(&self, who: &Principal, edit: ShapeEdit) -> Result<Shape> {
        self.write(who, Capability::VaultWrite, |ctx| {
            let mut shape = catalog::shape_get(ctx.tx, &input::slug("name", &edit.name)?)?;
            let mut changed = Vec::new();
            if let Some(kind) = edit.kind {
                shape.kind = kind;
                changed.push("kind");
            }
            if let Some(body) = &edit.body {
                shape.body = body.clone();
                changed.push("body");
            }
            if let Some(description) = &edit.description {
                shape.description =
                    input::text("description", description, MAX_DESCRIPTION, false)?;
                changed.push("description");
            }
            if changed.is_empty() {
                return Err(Error::invalid("edit", "nothing to change"));
            }
            catalog::check_shape_body(shape.kind, &shape.body)?;
            catalog::shape_save(ctx.tx, &shape, ctx.now)?;
            let shape = catalog::shape_get(ctx.tx, &shape.name)?;
            let entry = Entry {
                action: "shape.edit",
                target: Target::Shape(shape.name.to_string()),
                summary: format!("changed {} of shape {}", changed.join(", "), shape.name),
            };
            Ok((shape, entry))
        })
    }

    /// Lists shapes. Needs `vault_read`.
    pub fn shape_list(&self, who: &Principal) -> Result<Vec<Shape>> {
        self.read(who, Capability::VaultRead, |db, _| catalog::shape_list(db))
    }

    /// One shape by name. Needs `vault_read`.
    pub fn shape_show(&self, who: &Principal, name: &str) -> Result<Shape> {
        let name = input::slug("name", name)?;
        self.read(who, Capability::VaultRead, |db, _| {
            catalog::shape_get(db, &name)
        })
    }
}
