//! Banking: a passed run's final output becomes a new asset, or a new version of one, in the
//! state its play's approval policy names; the runner banks each passed run this way.

use super::AssetView;
use super::commands::BankRequest;
use super::store::{RunOutput, asset_view, record_review, run_output};
use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::assets::{self, AssetState, Banked};
use crate::error::{Error, Result};
use crate::input::{self, MAX_TITLE, positive_id};
use crate::plays::spec::Approval;
use crate::vault::{Atelier, lock};
use rusqlite::{OptionalExtension, params};

impl Atelier {
    /// Banks a passed run's final output: a new asset, or a new version of `into`. The state
    /// follows the play's approval policy (`draft` plays bank drafts; others go to review).
    /// Needs `bank_assets`.
    pub fn asset_bank(&self, who: &Principal, request: &BankRequest) -> Result<AssetView> {
        positive_id("run", request.run)?;
        if let Some(into) = request.into {
            positive_id("into", into)?;
        }
        let title = request
            .title
            .as_deref()
            .map(|t| input::line("title", t, MAX_TITLE))
            .transpose()?;
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::BankAssets)?;
        let output = run_output(&lock(&open.db), request.run)?;
        let state = match output.approval {
            Approval::Draft => AssetState::Draft,
            Approval::Review | Approval::Manual => AssetState::InReview,
        };
        let (asset, _) = self.bank(who, &output, request.into, title, state)?;
        self.read(who, Capability::BankAssets, |db, _| asset_view(db, asset))
    }

    /// Banks the output of run `run`, which just passed, if its play's policy says so. Called
    /// by the runner as the run's caller; a caller without `bank_assets` gets an error.
    pub(crate) fn bank_passed_run(&self, who: &Principal, run: i64) -> Result<Banked> {
        let open = self.open_vault()?;
        let output = run_output(&lock(&open.db), run)?;
        let state = match output.approval {
            Approval::Manual => return Ok(Banked::NotByPolicy),
            Approval::Draft => AssetState::Draft,
            Approval::Review => AssetState::InReview,
        };
        self.authorize(open, who, Capability::BankAssets)?;
        let (asset, version) = self.bank(who, &output, None, None, state)?;
        Ok(Banked::Yes(asset, version, state))
    }

    fn bank(
        &self,
        who: &Principal,
        output: &RunOutput,
        into: Option<i64>,
        title: Option<String>,
        state: AssetState,
    ) -> Result<(i64, i64)> {
        // The bytes are on disk before any row names them.
        let blob = assets::store_blob(&self.vault, output.text.as_bytes())
            .map_err(|e| Error::io("cannot store the asset's content", &e))?;
        self.write(who, Capability::BankAssets, |ctx| {
            let (asset, version, from) = match into {
                Some(asset) => {
                    let current = asset_view(ctx.tx, asset)?;
                    let latest_blob: String = ctx.tx.query_row(
                        "SELECT blob FROM asset_versions WHERE asset_id = ?1 AND version = ?2",
                        params![asset, current.version],
                        |r| r.get(0),
                    )?;
                    if latest_blob == blob {
                        return Err(Error::AlreadyExists {
                            kind: "asset version with this content".to_owned(),
                            id: format!("{asset} v{}", current.version),
                        });
                    }
                    if current.media_type != output.media_type {
                        return Err(Error::invalid(
                            "into",
                            format!(
                                "asset {asset} holds {}, the run produced {}",
                                current.media_type.name(),
                                output.media_type.name()
                            ),
                        ));
                    }
                    ctx.tx.execute(
                        "UPDATE assets SET state = ?2, updated_at = ?3 WHERE id = ?1",
                        params![asset, state.name(), ctx.now],
                    )?;
                    (asset, current.version + 1, current.state.name())
                }
                None => {
                    if let Some(existing) = ctx
                        .tx
                        .query_row(
                            "SELECT asset_id FROM asset_versions WHERE run_id = ?1 AND step = ?2",
                            params![output.run, output.step],
                            |r| r.get::<_, i64>(0),
                        )
                        .optional()?
                    {
                        return Err(Error::AlreadyExists {
                            kind: "asset banked from run".to_owned(),
                            id: format!("{} (asset {existing})", output.run),
                        });
                    }
                    ctx.tx.execute(
                        "INSERT INTO assets (title, media_type, state, task_id, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                        params![
                            title.clone().unwrap_or_else(|| output.title.clone()),
                            output.media_type.name(),
                            state.name(),
                            output.task,
                            ctx.now
                        ],
                    )?;
                    (ctx.tx.last_insert_rowid(), 1, "none")
                }
            };
            ctx.tx.execute(
                "INSERT INTO asset_versions (asset_id, version, blob, size, run_id, step, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    asset,
                    version,
                    blob,
                    i64::try_from(output.text.len()).unwrap_or(i64::MAX),
                    output.run,
                    output.step,
                    ctx.now
                ],
            )?;
            for (kind, id) in &output.sources {
                ctx.tx.execute(
                    "INSERT OR IGNORE INTO asset_sources (asset_id, version, kind, ref_id) VALUES (?1, ?2, ?3, ?4)",
                    params![asset, version, kind, id],
                )?;
            }
            record_review(
                ctx,
                who,
                asset,
                version,
                from,
                state,
                &format!("version {version} banked from run {}", output.run),
            )?;
            assets::push_snapshot(ctx.tx, asset, ctx.now)?;
            Ok((
                (asset, version),
                Entry {
                    action: "asset.bank",
                    target: Target::Asset(asset),
                    summary: format!(
                        "banked run {} as asset {asset} version {version} ({})",
                        output.run,
                        state.name()
                    ),
                },
            ))
        })
    }
}
