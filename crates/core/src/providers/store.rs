//! Providers, key references and routes in SQLite. The vault's provider rows are laid over
//! the built-ins by name; key rows hold names and test results, never keys.

use super::{BUILTIN, WireFormat};
use crate::clock::Millis;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A key reference (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeyView {
    /// The reference's name.
    pub name: String,
    /// When it was first set.
    pub created_at: Millis,
    /// When it was last set.
    pub updated_at: Millis,
    /// When it was last tested.
    pub tested_at: Option<Millis>,
    /// Whether the provider accepted it then.
    pub test_passed: Option<bool>,
    /// The providers that read it.
    pub used_by: Vec<String>,
}

/// A provider: built in, added, or a built-in replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProviderView {
    /// Its name, the `provider` of `provider:model`.
    pub name: String,
    /// Its wire format.
    pub format: WireFormat,
    /// Its base URL.
    pub base_url: String,
    /// The key reference it reads, if any.
    pub key_ref: Option<String>,
    /// Whether a key is set under that reference.
    pub key_set: bool,
    /// Built in (and not replaced).
    pub builtin: bool,
}

/// A task class's ordered models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `llm.planner`, `llm.creator`, `llm.judge`, …
    pub task_class: String,
    /// `provider:model`, tried in order.
    pub models: Vec<String>,
}

/// Records that the key `name` was set now (a new test is due).
pub fn set_key_ref(tx: &Connection, name: &str, now: Millis) -> Result<()> {
    tx.execute(
        "INSERT INTO key_refs (name, created_at, updated_at) VALUES (?1, ?2, ?2)
         ON CONFLICT (name) DO UPDATE SET updated_at = ?2, tested_at = NULL, test_passed = NULL",
        params![name, now],
    )?;
    Ok(())
}

/// Whether a key named `name` is recorded.
pub fn key_ref_exists(db: &Connection, name: &str) -> Result<bool> {
    Ok(db
        .query_row("SELECT 1 FROM key_refs WHERE name = ?1", [name], |_| {
            Ok(true)
        })
        .optional()?
        .unwrap_or(false))
}

/// Forgets the key `name`.
pub fn remove_key_ref(tx: &Connection, name: &str) -> Result<()> {
    tx.execute("DELETE FROM key_refs WHERE name = ?1", [name])?;
    Ok(())
}

/// Every key name, in order.
pub fn key_names(db: &Connection) -> Result<Vec<String>> {
    Ok(db
        .prepare("SELECT name FROM key_refs ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Records a key test's outcome.
pub fn mark_key_tested(tx: &Connection, name: &str, now: Millis, passed: bool) -> Result<()> {
    tx.execute(
        "UPDATE key_refs SET tested_at = ?2, test_passed = ?3 WHERE name = ?1",
        params![name, now, passed],
    )?;
    Ok(())
}

/// Adds or replaces the vault's provider `name`.
pub fn set_provider(
    tx: &Connection,
    name: &str,
    format: WireFormat,
    base_url: &str,
    key_ref: Option<&str>,
    now: Millis,
) -> Result<()> {
    tx.execute(
        "INSERT INTO providers (name, format, base_url, key_ref, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (name) DO UPDATE SET format = ?2, base_url = ?3, key_ref = ?4, updated_at = ?5",
        params![name, format.name(), base_url, key_ref, now],
    )?;
    Ok(())
}

/// Removes the vault's provider `name`; false if it had none.
pub fn remove_provider(tx: &Connection, name: &str) -> Result<bool> {
    Ok(tx.execute("DELETE FROM providers WHERE name = ?1", [name])? > 0)
}

/// Replaces the models of the route for `class`, in order.
pub fn set_route(tx: &Connection, class: &str, models: &[String]) -> Result<()> {
    tx.execute("DELETE FROM routes WHERE task_class = ?1", [class])?;
    for (i, m) in models.iter().enumerate() {
        tx.execute(
            "INSERT INTO routes (task_class, position, model) VALUES (?1, ?2, ?3)",
            params![class, i64::try_from(i).unwrap_or(0), m.trim()],
        )?;
    }
    Ok(())
}

pub(crate) fn key_view(db: &Connection, name: &str) -> Result<KeyView> {
    let (created_at, updated_at, tested_at, test_passed): (
        Millis,
        Millis,
        Option<Millis>,
        Option<bool>,
    ) = db
        .query_row(
            "SELECT created_at, updated_at, tested_at, test_passed FROM key_refs WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| Error::not_found("key", name))?;
    let used_by = providers_in(db)?
        .into_iter()
        .filter(|p| p.key_ref.as_deref() == Some(name))
        .map(|p| p.name)
        .collect();
    Ok(KeyView {
        name: name.to_owned(),
        created_at,
        updated_at,
        tested_at,
        test_passed,
        used_by,
    })
}

/// Built-ins overlaid with the vault's rows, by name.
pub(crate) fn providers_in(db: &Connection) -> Result<Vec<ProviderView>> {
    let keys: Vec<String> = db
        .prepare("SELECT name FROM key_refs")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out: Vec<ProviderView> = BUILTIN
        .iter()
        .map(|b| ProviderView {
            name: b.name.to_owned(),
            format: b.format,
            base_url: b.base_url.to_owned(),
            key_ref: b.key_ref.map(str::to_owned),
            key_set: false,
            builtin: true,
        })
        .collect();
    let mut stmt =
        db.prepare("SELECT name, format, base_url, key_ref FROM providers ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    for row in rows {
        let (name, format, base_url, key_ref) = row?;
        let view = ProviderView {
            format: WireFormat::parse(&format).unwrap_or(WireFormat::OpenAi),
            name: name.clone(),
            base_url,
            key_ref,
            key_set: false,
            builtin: false,
        };
        match out.iter_mut().find(|p| p.name == name) {
            Some(slot) => *slot = view,
            None => out.push(view),
        }
    }
    for p in &mut out {
        p.key_set = p.key_ref.as_ref().is_some_and(|k| keys.contains(k));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(crate) fn routes_in(db: &Connection) -> Result<Vec<Route>> {
    let mut stmt =
        db.prepare("SELECT task_class, model FROM routes ORDER BY task_class, position")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out: Vec<Route> = Vec::new();
    for row in rows {
        let (class, model) = row?;
        match out.last_mut() {
            Some(last) if last.task_class == class => last.models.push(model),
            _ => out.push(Route {
                task_class: class,
                models: vec![model],
            }),
        }
    }
    Ok(out)
}
