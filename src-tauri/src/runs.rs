//! The desktop's commands for plays, runs, assets, providers, keys and the kill switch, each a
//! one-line wrapper over the core's api. Runs stream [`RunProgressed`] events to every window
//! and run on a blocking thread, so a cancel or the kill switch can reach them meanwhile.
//!
//! Keys cross from the webview into the core only: `key_set` takes the typed key and wraps it
//! in a [`Secret`] at once; no command returns one.

use crate::error::Answer;
use crate::events::{AssetsChanged, RunProgressed, announce};
use crate::vault::{AppVault, blocking};
use atelier_core::api::{
    AssetDetail, AssetExport, AssetFilter, AssetLineage, AssetOrigin, AssetReviewRequest,
    AssetView, BankRequest, Exported, KeyView, Promotion, ProviderAdd, ProviderCheck, ProviderView,
    Route, RunPreview, RunRequest, RunView, SwitchState,
};
use atelier_core::catalog::CanonBlock;
use atelier_core::plays::Play;
use atelier_core::secrets::Secret;
use tauri::{AppHandle, State};
use tauri_specta::Event as _;

/// Every play, shipped and the vault's.
#[tauri::command]
#[specta::specta]
pub async fn plays_list(vault: State<'_, AppVault>) -> Answer<Vec<Play>> {
    Ok(vault.as_owner(|a, who| a.plays_list(who))?)
}

/// Each step's prompt exactly as it would be sent, with token counts and what was cut.
#[tauri::command]
#[specta::specta]
pub async fn run_preview(vault: State<'_, AppVault>, request: RunRequest) -> Answer<RunPreview> {
    Ok(blocking(&vault, move |a, who| a.run_preview(who, &request)).await?)
}

/// Runs a play, streaming its progress as [`RunProgressed`] events.
#[tauri::command]
#[specta::specta]
pub async fn run_play(
    vault: State<'_, AppVault>,
    app: AppHandle,
    request: RunRequest,
) -> Answer<RunView> {
    let events = app.clone();
    let run = blocking(&vault, move |a, who| {
        a.run_play(who, &request, &mut |event| {
            let _ = RunProgressed { event }.emit(&events);
        })
    })
    .await;
    announce(&app, AssetsChanged {}, run)
}

/// Cancels a running run.
#[tauri::command]
#[specta::specta]
pub async fn run_cancel(vault: State<'_, AppVault>, run: i64) -> Answer<()> {
    Ok(vault.as_owner(|a, who| a.run_cancel(who, run))?)
}

/// Runs, newest first.
#[tauri::command]
#[specta::specta]
pub async fn runs_list(vault: State<'_, AppVault>, limit: u32) -> Answer<Vec<RunView>> {
    Ok(vault.as_owner(|a, who| a.runs_list(who, limit))?)
}

/// One run with its steps.
#[tauri::command]
#[specta::specta]
pub async fn run_show(vault: State<'_, AppVault>, run: i64) -> Answer<RunView> {
    Ok(vault.as_owner(|a, who| a.run_show(who, run))?)
}

/// Assets, newest first.
#[tauri::command]
#[specta::specta]
pub async fn assets_list(
    vault: State<'_, AppVault>,
    filter: AssetFilter,
) -> Answer<Vec<AssetView>> {
    Ok(vault.as_owner(|a, who| a.assets_list(who, &filter))?)
}

/// One asset with its history and the text of a version.
#[tauri::command]
#[specta::specta]
pub async fn asset_show(
    vault: State<'_, AppVault>,
    asset: i64,
    version: Option<i64>,
) -> Answer<AssetDetail> {
    Ok(vault.as_owner(|a, who| a.asset_show(who, asset, version))?)
}

/// Banks a passed run as an asset or a new version of one.
#[tauri::command]
#[specta::specta]
pub async fn asset_bank(
    vault: State<'_, AppVault>,
    app: AppHandle,
    request: BankRequest,
) -> Answer<AssetView> {
    announce(
        &app,
        AssetsChanged {},
        vault.as_owner(|a, who| a.asset_bank(who, &request)),
    )
}

/// Submits, approves or rejects an asset.
#[tauri::command]
#[specta::specta]
pub async fn asset_review(
    vault: State<'_, AppVault>,
    app: AppHandle,
    request: AssetReviewRequest,
) -> Answer<AssetView> {
    announce(
        &app,
        AssetsChanged {},
        vault.as_owner(|a, who| a.asset_review(who, &request)),
    )
}

/// Makes an approved asset a canon block.
#[tauri::command]
#[specta::specta]
pub async fn asset_promote(
    vault: State<'_, AppVault>,
    app: AppHandle,
    promotion: Promotion,
) -> Answer<CanonBlock> {
    announce(
        &app,
        AssetsChanged {},
        vault.as_owner(|a, who| a.asset_promote(who, &promotion)),
    )
}

/// Writes an approved asset into a project folder; `FILE_EXISTS` unless `overwrite`.
#[tauri::command]
#[specta::specta]
pub async fn asset_export(vault: State<'_, AppVault>, request: AssetExport) -> Answer<Exported> {
    Ok(vault.as_owner(|a, who| a.asset_export(who, &request))?)
}

/// Where an asset came from and what came of it.
#[tauri::command]
#[specta::specta]
pub async fn asset_lineage(vault: State<'_, AppVault>, asset: i64) -> Answer<AssetLineage> {
    Ok(blocking(&vault, move |a, who| a.asset_lineage(who, asset)).await?)
}

/// The assets derived from a canon block or document, or made for a task or by a run.
#[tauri::command]
#[specta::specta]
pub async fn assets_from(
    vault: State<'_, AppVault>,
    origin: AssetOrigin,
) -> Answer<Vec<AssetView>> {
    Ok(blocking(&vault, move |a, who| a.assets_from(who, origin)).await?)
}

/// Key references (never the keys).
#[tauri::command]
#[specta::specta]
pub async fn keys_list(vault: State<'_, AppVault>) -> Answer<Vec<KeyView>> {
    Ok(vault.as_owner(|a, who| a.keys_list(who))?)
}

/// Stores a key in the OS keychain. Write-only: the answer names the key, never holds it.
#[tauri::command]
#[specta::specta]
pub async fn key_set(vault: State<'_, AppVault>, name: String, key: String) -> Answer<KeyView> {
    let key = Secret::new(key);
    Ok(vault.as_owner(|a, who| a.key_set(who, &name, key))?)
}

/// Deletes a key from the keychain.
#[tauri::command]
#[specta::specta]
pub async fn key_remove(vault: State<'_, AppVault>, name: String) -> Answer<()> {
    Ok(vault.as_owner(|a, who| a.key_remove(who, &name))?)
}

/// Checks a key against the providers that read it.
#[tauri::command]
#[specta::specta]
pub async fn key_test(vault: State<'_, AppVault>, name: String) -> Answer<ProviderCheck> {
    Ok(blocking(&vault, move |a, who| a.key_test(who, &name)).await?)
}

/// Providers, built-in and added.
#[tauri::command]
#[specta::specta]
pub async fn providers_list(vault: State<'_, AppVault>) -> Answer<Vec<ProviderView>> {
    Ok(vault.as_owner(|a, who| a.providers_list(who))?)
}

/// Adds or replaces a provider.
#[tauri::command]
#[specta::specta]
pub async fn provider_add(vault: State<'_, AppVault>, add: ProviderAdd) -> Answer<ProviderView> {
    Ok(vault.as_owner(|a, who| a.provider_add(who, add))?)
}

/// Removes an added provider.
#[tauri::command]
#[specta::specta]
pub async fn provider_remove(vault: State<'_, AppVault>, name: String) -> Answer<()> {
    Ok(vault.as_owner(|a, who| a.provider_remove(who, &name))?)
}

/// Checks that a provider answers with its key.
#[tauri::command]
#[specta::specta]
pub async fn provider_test(vault: State<'_, AppVault>, name: String) -> Answer<ProviderCheck> {
    Ok(blocking(&vault, move |a, who| a.provider_test(who, &name)).await?)
}

/// The routing table by task class.
#[tauri::command]
#[specta::specta]
pub async fn routes_list(vault: State<'_, AppVault>) -> Answer<Vec<Route>> {
    Ok(vault.as_owner(|a, who| a.routes_list(who))?)
}

/// Sets a task class's ordered models.
#[tauri::command]
#[specta::specta]
pub async fn route_set(vault: State<'_, AppVault>, route: Route) -> Answer<Route> {
    Ok(vault.as_owner(|a, who| a.route_set(who, route))?)
}

/// The kill switch: cancels every run now and refuses new ones.
#[tauri::command]
#[specta::specta]
pub async fn halt(
    vault: State<'_, AppVault>,
    app: AppHandle,
    reason: String,
) -> Answer<SwitchState> {
    announce(
        &app,
        AssetsChanged {},
        vault.as_owner(|a, who| a.halt(who, &reason)),
    )
}

/// Turns the kill switch off.
#[tauri::command]
#[specta::specta]
pub async fn resume(vault: State<'_, AppVault>, app: AppHandle) -> Answer<()> {
    announce(
        &app,
        AssetsChanged {},
        vault.as_owner(|a, who| a.resume(who)),
    )
}
