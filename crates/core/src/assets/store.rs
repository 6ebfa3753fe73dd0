//! Assets in SQLite: the output a passed run offers to bank (with what it was derived from),
//! an asset as shown, its newest blob, and review records.

use super::{AssetState, AssetView, MediaType};
use crate::access::auth::Principal;
use crate::catalog;
use crate::error::{Error, Result};
use crate::input::MAX_TITLE;
use crate::plays::spec::{self, Approval, ShapeRef};
use crate::vault::Ctx;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use std::collections::BTreeSet;

/// What a passed run offers to bank.
pub(crate) struct RunOutput {
    pub(crate) run: i64,
    pub(crate) step: String,
    pub(crate) text: String,
    pub(crate) media_type: MediaType,
    pub(crate) approval: Approval,
    pub(crate) title: String,
    pub(crate) task: Option<i64>,
    /// `(kind, id)`: canon blocks, passages, and the documents the passages are in.
    pub(crate) sources: BTreeSet<(String, i64)>,
}

/// The final output of passed run `run`, with what it was derived from.
pub(crate) fn run_output(db: &Connection, run: i64) -> Result<RunOutput> {
    let (status, play_name, play_text, params, task): (
        String,
        String,
        String,
        String,
        Option<i64>,
    ) = db
        .query_row(
            "SELECT status, play, play_text, params, task_id FROM runs WHERE id = ?1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?
        .ok_or_else(|| Error::not_found("run", run))?;
    if status != "passed" {
        return Err(Error::invalid(
            "run",
            format!("run {run} is {status}; only a passed run can be banked"),
        ));
    }
    let play = spec::parse(&format!("{play_name}.yaml"), &play_text)
        .map_err(|p| Error::invalid("run", format!("its pinned play no longer parses: {p}")))?;
    // Steps run one after another in DAG order, so the last to finish is the final one.
    let (step, text): (String, String) = db
        .query_row(
            "SELECT step, output FROM run_steps WHERE run_id = ?1 AND status = 'passed' AND output IS NOT NULL
              ORDER BY finished_at DESC, position DESC LIMIT 1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| Error::invalid("run", format!("run {run} has no output to bank")))?;
    let media_type = match play
        .steps
        .iter()
        .find(|s| s.id == step)
        .and_then(|s| s.shape.as_ref())
    {
        Some(ShapeRef::Json { .. }) => MediaType::Json,
        Some(ShapeRef::Named(name)) => match catalog::shape_get(db, name).map(|s| s.kind) {
            Ok(catalog::ShapeKind::JsonSchema) => MediaType::Json,
            _ => MediaType::Markdown,
        },
        _ => MediaType::Markdown,
    };
    let params: Value = serde_json::from_str(&params).unwrap_or(Value::Null);
    let first = play.parameters.iter().find_map(|p| {
        params
            .get(&p.name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    });
    let title: String = match first {
        Some(value) => format!("{}: {value}", play.title),
        None => format!("{} (run {run})", play.title),
    }
    .chars()
    .take(MAX_TITLE)
    .collect();
    let mut sources = BTreeSet::new();
    let cited: Vec<Option<String>> = db
        .prepare("SELECT sources FROM run_steps WHERE run_id = ?1")?
        .query_map([run], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for json in cited.into_iter().flatten() {
        let Ok(value) = serde_json::from_str::<Value>(&json) else {
            continue;
        };
        for source in value["cited"].as_array().into_iter().flatten() {
            let Some((kind, id)) = source["source"]["reference"]
                .as_str()
                .and_then(|r| r.split_once(':'))
                .and_then(|(k, id)| Some((k, id.parse::<i64>().ok()?)))
            else {
                continue;
            };
            match kind {
                "canon" => {
                    sources.insert(("canon".to_owned(), id));
                }
                "chunk" => {
                    sources.insert(("chunk".to_owned(), id));
                    let document: Option<i64> = db
                        .query_row("SELECT document_id FROM chunks WHERE id = ?1", [id], |r| {
                            r.get(0)
                        })
                        .optional()?;
                    if let Some(document) = document {
                        sources.insert(("document".to_owned(), document));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(RunOutput {
        run,
        step,
        text,
        media_type,
        approval: play.approval,
        title,
        task,
        sources,
    })
}

pub(crate) fn asset_view(db: &Connection, asset: i64) -> Result<AssetView> {
    db.query_row(
        "SELECT a.id, a.title, a.media_type, a.state, a.task_id, a.canon_id, a.created_at, a.updated_at,
                (SELECT MAX(version) FROM asset_versions v WHERE v.asset_id = a.id)
           FROM assets a WHERE a.id = ?1",
        [asset],
        |r| {
            Ok(AssetView {
                id: r.get(0)?,
                title: r.get(1)?,
                media_type: MediaType::parse(&r.get::<_, String>(2)?),
                state: AssetState::parse(&r.get::<_, String>(3)?).unwrap_or(AssetState::Draft),
                task: r.get(4)?,
                canon: r.get(5)?,
                created_at: r.get(6)?,
                updated_at: r.get(7)?,
                version: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
            })
        },
    )
    .optional()?
    .ok_or_else(|| Error::not_found("asset", asset))
}

pub(crate) fn latest_blob(db: &Connection, asset: i64) -> Result<String> {
    db.query_row(
        "SELECT blob FROM asset_versions WHERE asset_id = ?1 ORDER BY version DESC LIMIT 1",
        [asset],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::not_found("asset version", asset))
}

pub(crate) fn record_review(
    ctx: &Ctx<'_, '_>,
    who: &Principal,
    asset: i64,
    version: i64,
    from: &str,
    to: AssetState,
    note: &str,
) -> Result<()> {
    ctx.tx.execute(
        "INSERT INTO asset_reviews (asset_id, version, from_state, to_state, principal, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![asset, version, from, to.name(), who.as_text(), note, ctx.now],
    )?;
    Ok(())
}
