//! Assets: banking a passed run's output as a versioned, content-addressed asset; the approval
//! flow; lineage from the graph; promotion to canon; export into a project folder.

use super::AssetView;
use super::store::{asset_view, latest_blob, record_review};
use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::assets::{self, AssetState, ReviewAction};
use crate::catalog::{self, CanonBlock, Tier};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::input;
use crate::input::positive_id;
use crate::projection::graph::LineageSource;
use crate::vault::{Atelier, authorize_target, authorize_with, lock};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A passed run to bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct BankRequest {
    /// The run; it must have passed.
    pub run: i64,
    /// Bank as a new version of this asset instead of a new asset.
    #[serde(default)]
    pub into: Option<i64>,
    /// A title for a new asset (default: the play's title and its first parameter).
    #[serde(default)]
    pub title: Option<String>,
}

/// One version of an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetVersion {
    /// 1, 2, …
    pub version: i64,
    /// SHA-256 of its bytes: its blob's name.
    pub blob: String,
    /// Bytes.
    pub size: i64,
    /// The run that produced it.
    pub run: Option<i64>,
    /// The step whose output it is.
    pub step: Option<String>,
    /// When it was banked.
    pub created_at: Millis,
}

/// One move in an asset's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetReview {
    /// The version it concerned.
    pub version: i64,
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// Who moved it.
    pub principal: String,
    /// Why.
    pub note: String,
    /// When.
    pub created_at: Millis,
}

/// A source a version was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetSource {
    /// The version.
    pub version: i64,
    /// `canon`, `document` or `chunk`.
    pub kind: String,
    /// Its id.
    pub id: i64,
}

/// An asset with its history and the content of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetDetail {
    /// The asset.
    pub asset: AssetView,
    /// Every version, oldest first.
    pub versions: Vec<AssetVersion>,
    /// Every approval move, oldest first.
    pub reviews: Vec<AssetReview>,
    /// What its versions were derived from.
    pub sources: Vec<AssetSource>,
    /// The version shown.
    pub shown_version: i64,
    /// That version's text.
    pub content: String,
}

/// Which assets to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AssetFilter {
    /// Only in this state.
    #[serde(default)]
    pub state: Option<AssetState>,
    /// Only for this task.
    #[serde(default)]
    pub task: Option<i64>,
}

/// A move in the approval flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AssetReviewRequest {
    /// The asset.
    pub asset: i64,
    /// Submit, approve or reject.
    pub action: ReviewAction,
    /// Why; a rejection needs one.
    #[serde(default)]
    pub note: String,
}

/// Making an approved asset canon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// The asset.
    pub asset: i64,
    /// Tags for the canon block.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Canon (default) or secondary.
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// Writing an approved asset into a project folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AssetExport {
    /// The asset.
    pub asset: i64,
    /// The project's name.
    pub project: String,
    /// Where in it, relative to its folder, `/`-separated.
    pub path: String,
    /// Replace a file already there. Without it, an existing file is an error and untouched.
    #[serde(default)]
    pub overwrite: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Exported {
    /// The asset.
    pub asset: i64,
    /// The version written.
    pub version: i64,
    /// The project.
    pub project: String,
    /// The project-relative path.
    pub path: String,
    /// Bytes written.
    pub bytes: i64,
    /// Whether a file was replaced.
    pub replaced: bool,
}

/// Where an asset came from and what came of it, from the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetLineage {
    /// The asset.
    pub asset: i64,
    /// The runs that produced its versions.
    pub runs: Vec<LineageRun>,
    /// The task it was made for.
    pub task: Option<i64>,
    /// Canon blocks its versions were given.
    pub canon: Vec<i64>,
    /// Documents whose passages its versions were given.
    pub documents: Vec<i64>,
    /// The canon block it became.
    pub promoted_to: Option<i64>,
    /// Assets whose promoted canon it was derived from.
    pub built_on: Vec<i64>,
    /// Assets derived from the canon it became.
    pub built_upon_by: Vec<i64>,
}

/// A run in a lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LineageRun {
    /// Run id.
    pub run: i64,
    /// Its play.
    pub play: String,
}

/// Something assets derive from or are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AssetOrigin {
    /// A canon block.
    Canon(i64),
    /// A document.
    Document(i64),
    /// A task.
    Task(i64),
    /// A run.
    Run(i64),
}

impl Atelier {
    /// Assets, newest first. Needs `vault_read`.
    pub fn assets_list(&self, who: &Principal, filter: &AssetFilter) -> Result<Vec<AssetView>> {
        self.read(who, Capability::VaultRead, |db, _| {
            let ids: Vec<i64> = db
                .prepare(
                    "SELECT id FROM assets WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR task_id = ?2)
                      ORDER BY id DESC LIMIT 1000",
                )?
                .query_map(
                    params![filter.state.map(AssetState::name), filter.task],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter().map(|id| asset_view(db, id)).collect()
        })
    }

    /// One asset with its versions, reviews, sources and the text of `version` (default: the
    /// latest). Needs `vault_read`.
    pub fn asset_show(
        &self,
        who: &Principal,
        asset: i64,
        version: Option<i64>,
    ) -> Result<AssetDetail> {
        positive_id("asset", asset)?;
        self.read(who, Capability::VaultRead, |db, _| {
            let view = asset_view(db, asset)?;
            let versions: Vec<AssetVersion> = db
                .prepare(
                    "SELECT version, blob, size, run_id, step, created_at FROM asset_versions
                      WHERE asset_id = ?1 ORDER BY version",
                )?
                .query_map([asset], |r| {
                    Ok(AssetVersion {
                        version: r.get(0)?,
                        blob: r.get(1)?,
                        size: r.get(2)?,
                        run: r.get(3)?,
                        step: r.get(4)?,
                        created_at: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let reviews = db
                .prepare(
                    "SELECT version, from_state, to_state, principal, note, created_at
                       FROM asset_reviews WHERE asset_id = ?1 ORDER BY id",
                )?
                .query_map([asset], |r| {
                    Ok(AssetReview {
                        version: r.get(0)?,
                        from: r.get(1)?,
                        to: r.get(2)?,
                        principal: r.get(3)?,
                        note: r.get(4)?,
                        created_at: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let sources = db
                .prepare(
                    "SELECT version, kind, ref_id FROM asset_sources WHERE asset_id = ?1
                      ORDER BY version, kind, ref_id",
                )?
                .query_map([asset], |r| {
                    Ok(AssetSource {
                        version: r.get(0)?,
                        kind: r.get(1)?,
                        id: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let shown = version.unwrap_or(view.version);
            let blob = versions
                .iter()
                .find(|v| v.version == shown)
                .map(|v| v.blob.clone())
                .ok_or_else(|| Error::not_found("asset version", format!("{asset} v{shown}")))?;
            let content = self.blob_text(&blob)?;
            Ok(AssetDetail {
                asset: view,
                versions,
                reviews,
                sources,
                shown_version: shown,
                content,
            })
        })
    }

    /// Moves an asset through its approval: submit (`bank_assets`), approve or reject
    /// (`approve_assets`, the owner's by default). A rejection needs a note.
    pub fn asset_review(&self, who: &Principal, request: &AssetReviewRequest) -> Result<AssetView> {
        positive_id("asset", request.asset)?;
        let note = input::text("note", &request.note, 4000, false)?;
        if request.action == ReviewAction::Reject && note.trim().is_empty() {
            return Err(Error::invalid(
                "note",
                "a rejection needs a note saying why",
            ));
        }
        let need = match request.action {
            ReviewAction::Submit => Capability::BankAssets,
            ReviewAction::Approve | ReviewAction::Reject => Capability::ApproveAssets,
        };
        self.write(who, need, |ctx| {
            let current = asset_view(ctx.tx, request.asset)?;
            let to = request.action.from(current.state).ok_or_else(|| {
                state_error(
                    &current,
                    request.action.name(),
                    &ReviewAction::allowed_from(current.state),
                )
            })?;
            ctx.tx.execute(
                "UPDATE assets SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![request.asset, to.name(), ctx.now],
            )?;
            record_review(
                ctx,
                who,
                request.asset,
                current.version,
                current.state.name(),
                to,
                &note,
            )?;
            assets::push_snapshot(ctx.tx, request.asset, ctx.now)?;
            if matches!(to, AssetState::Approved | AssetState::Rejected) {
                // Tasks of an orchestration waiting on this review complete or fail with it.
                let mut books = crate::orchestration::bookkeeping::Bookkeeping::within(ctx);
                books.reviewed(request.asset, to == AssetState::Approved, Some(&note))?;
                books.finish()?;
            }
            Ok((
                asset_view(ctx.tx, request.asset)?,
                Entry {
                    action: match request.action {
                        ReviewAction::Submit => "asset.submit",
                        ReviewAction::Approve => "asset.approve",
                        ReviewAction::Reject => "asset.reject",
                    },
                    target: Target::Asset(request.asset),
                    summary: format!(
                        "asset {} version {} {} → {}",
                        request.asset,
                        current.version,
                        current.state.name(),
                        to.name()
                    ),
                },
            ))
        })
    }

    /// Makes an approved asset's latest version a canon block; the asset keeps a link to it.
    /// Needs `vault_write`.
    pub fn asset_promote(&self, who: &Principal, promotion: &Promotion) -> Result<CanonBlock> {
        positive_id("asset", promotion.asset)?;
        let tags = catalog::tags(&promotion.tags)?;
        let open = self.open_vault()?;
        let (view, blob) = {
            let db = lock(&open.db);
            let view = asset_view(&db, promotion.asset)?;
            (view, latest_blob(&db, promotion.asset)?)
        };
        let body = self.blob_text(&blob)?;
        let body = input::text("body", &body, catalog::MAX_BODY, true)?;
        self.write(who, Capability::VaultWrite, |ctx| {
            let current = asset_view(ctx.tx, promotion.asset)?;
            if current.state != AssetState::Approved {
                return Err(state_error(&current, "promote", &["approve first"]));
            }
            if let Some(canon) = current.canon {
                return Err(Error::AlreadyExists {
                    kind: "canon block promoted from asset".to_owned(),
                    id: format!("{} (canon {canon})", promotion.asset),
                });
            }
            let mut block = CanonBlock {
                id: 0,
                title: view.title.clone(),
                body: body.clone(),
                tags: tags.clone(),
                tier: promotion.tier.unwrap_or(Tier::Canon),
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            block.id = catalog::canon_save(ctx.tx, &block, ctx.now)?;
            ctx.tx.execute(
                "UPDATE assets SET canon_id = ?2, updated_at = ?3 WHERE id = ?1",
                params![promotion.asset, block.id, ctx.now],
            )?;
            assets::push_snapshot(ctx.tx, promotion.asset, ctx.now)?;
            Ok((
                block.clone(),
                Entry {
                    action: "asset.promote",
                    target: Target::Asset(promotion.asset),
                    summary: format!(
                        "asset {} version {} became canon block {}",
                        promotion.asset, current.version, block.id
                    ),
                },
            ))
        })
    }

    /// Writes an approved asset's latest version into a project folder. Needs `file_write`
    /// covering the path (a scoped grant's glob must match it). The path stays inside the
    /// project: no `..`, no absolute path, no symlink on the way. An existing file is replaced
    /// only with `overwrite`; without it the answer is `FILE_EXISTS` and the file is untouched.
    pub fn asset_export(&self, who: &Principal, export: &AssetExport) -> Result<Exported> {
        positive_id("asset", export.asset)?;
        let path = export.path.trim_start_matches("./").to_owned();
        if !crate::access::auth::is_contained_relative_path(&path) || path.ends_with('/') {
            return Err(Error::invalid(
                "path",
                "must be a file path inside the project, relative to its folder, without `..`",
            ));
        }
        let open = self.open_vault()?;
        let (view, blob, root) = {
            let db = lock(&open.db);
            // Reading the asset and writing the file are both the caller's acts.
            authorize_with(&db, open, who, Capability::VaultRead, self.now())?;
            authorize_target(&db, open, who, Capability::FileWrite, &path, self.now())?;
            let view = asset_view(&db, export.asset)?;
            let root: String = db
                .query_row(
                    "SELECT root FROM projects WHERE name = ?1",
                    [&export.project],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| Error::not_found("project", &export.project))?;
            (view, latest_blob(&db, export.asset)?, root)
        };
        if view.state != AssetState::Approved {
            return Err(state_error(&view, "export", &["approve first"]));
        }
        let bytes =
            assets::read_blob(&self.vault, &blob).map_err(|message| Error::Storage { message })?;
        let temp = format!(".atelier-export-{}-{}", std::process::id(), export.asset);
        let written = crate::beneath::write_file(
            std::path::Path::new(&root),
            &path,
            &bytes,
            export.overwrite,
            &temp,
        )
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::FileExists {
                project: export.project.clone(),
                path: path.clone(),
            },
            // A symlinked directory on the way answers "not a directory" to O_NOFOLLOW.
            _ if e.raw_os_error() == Some(crate::beneath::ELOOP)
                || e.kind() == std::io::ErrorKind::NotADirectory =>
            {
                Error::invalid(
                    "path",
                    "goes through a symbolic link or a file; exports never follow links",
                )
            }
            std::io::ErrorKind::InvalidInput => {
                Error::invalid("path", "is not a regular file path inside the project")
            }
            _ => Error::io(&format!("cannot write {path}"), &e),
        })?;
        let exported = Exported {
            asset: export.asset,
            version: view.version,
            project: export.project.clone(),
            path: path.clone(),
            bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            replaced: written.replaced,
        };
        let audited = self.record(
            who,
            &Entry {
                action: "asset.export",
                target: Target::Asset(export.asset),
                summary: format!(
                    "asset {} version {} written to {}/{}{}",
                    export.asset,
                    view.version,
                    export.project,
                    path,
                    if written.replaced { " (replaced)" } else { "" }
                ),
            },
        );
        if let Err(e) = audited {
            // No audit, no change: take back a file we created.
            if !written.replaced {
                let _ = crate::beneath::remove_file(std::path::Path::new(&root), &path);
            }
            return Err(e);
        }
        Ok(exported)
    }

    /// Where an asset came from and what came of it, from the graph. Needs `vault_read`.
    pub fn asset_lineage(&self, who: &Principal, asset: i64) -> Result<AssetLineage> {
        positive_id("asset", asset)?;
        let open = self.open_vault()?;
        self.read(who, Capability::VaultRead, |db, _| {
            asset_view(db, asset).map(|_| ())
        })?;
        let lineage = self.with_graph(open, |graph| graph.lineage(asset))?;
        Ok(AssetLineage {
            asset,
            runs: lineage
                .runs
                .into_iter()
                .map(|(run, play)| LineageRun { run, play })
                .collect(),
            task: lineage.tasks.first().copied(),
            canon: lineage.canon,
            documents: lineage.documents,
            promoted_to: lineage.promoted_to,
            built_on: lineage.built_on,
            built_upon_by: lineage.built_upon_by,
        })
    }

    /// The assets derived from a canon block or document, or made for a task or by a run, from
    /// the graph. Needs `vault_read`.
    pub fn assets_from(&self, who: &Principal, origin: AssetOrigin) -> Result<Vec<AssetView>> {
        let source = match origin {
            AssetOrigin::Canon(id) => LineageSource::Canon(positive_id("id", id)?),
            AssetOrigin::Document(id) => LineageSource::Document(positive_id("id", id)?),
            AssetOrigin::Task(id) => LineageSource::Task(positive_id("id", id)?),
            AssetOrigin::Run(id) => LineageSource::Run(positive_id("id", id)?),
        };
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::VaultRead)?;
        let ids = self.with_graph(open, |graph| graph.assets_from(source))?;
        let db = lock(&open.db);
        ids.into_iter().map(|id| asset_view(&db, id)).collect()
    }

    fn blob_text(&self, blob: &str) -> Result<String> {
        let bytes =
            assets::read_blob(&self.vault, blob).map_err(|message| Error::Storage { message })?;
        String::from_utf8(bytes).map_err(|_| Error::Storage {
            message: format!("blob {blob} is not UTF-8 text"),
        })
    }
}

fn state_error(view: &AssetView, action: &str, allowed: &[&str]) -> Error {
    Error::AssetState {
        asset: view.id,
        state: view.state.name().to_owned(),
        action: action.to_owned(),
        allowed: if allowed.is_empty() {
            "nothing".to_owned()
        } else {
            allowed.join(", ")
        },
    }
}
