//! The desktop's document commands (projects, ingest, search, documents, related, hooks), each
//! a one-line wrapper over the core's api, and the watchers of projects with watching on.
//!
//! Ingest and watching run on blocking threads: the core's calls are synchronous and an
//! ingest may take minutes; progress reaches every window as [`IngestProgressed`] events.

use crate::error::{Answer, CommandError};
use crate::events::{IngestProgressed, ProjectsChanged, TasksChanged, announce};
use crate::vault::{AppVault, blocking};
use atelier_core::access::auth::Principal;
use atelier_core::api::{
    DocumentView, HookAdd, HookView, IngestProgress, IngestReport, Preview, ProjectAdd,
    ProjectView, RelatedDocument, SearchRequest, WatchOptions, WatchOutcome,
};
use atelier_core::documents::search::SearchHit;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;
use tauri_specta::Event as _;

fn progress_to(app: &AppHandle) -> impl FnMut(&IngestProgress) + '_ {
    move |progress| {
        let _ = IngestProgressed {
            progress: progress.clone(),
        }
        .emit(app);
    }
}

fn internal(message: String) -> CommandError {
    atelier_core::Error::Io { message }.into()
}

/// Adds a folder as a project.
#[tauri::command]
#[specta::specta]
pub async fn project_add(
    vault: State<'_, AppVault>,
    app: AppHandle,
    add: ProjectAdd,
) -> Answer<ProjectView> {
    announce(
        &app,
        ProjectsChanged {},
        vault.as_owner(|a, who| a.project_add(who, add)),
    )
}

/// Every project.
#[tauri::command]
#[specta::specta]
pub async fn project_list(vault: State<'_, AppVault>) -> Answer<Vec<ProjectView>> {
    Ok(vault.as_owner(|a, who| a.project_list(who))?)
}

/// Removes a project from the vault (never its files), stopping its watcher.
#[tauri::command]
#[specta::specta]
pub async fn project_remove(
    vault: State<'_, AppVault>,
    watchers: State<'_, Watchers>,
    app: AppHandle,
    name: String,
) -> Answer<ProjectView> {
    watchers.stop(&name);
    announce(
        &app,
        ProjectsChanged {},
        vault.as_owner(|a, who| a.project_remove(who, &name)),
    )
}

/// Turns a project's watcher on or off, now and at the next start.
#[tauri::command]
#[specta::specta]
pub async fn project_watch(
    vault: State<'_, AppVault>,
    watchers: State<'_, Watchers>,
    app: AppHandle,
    name: String,
    on: bool,
) -> Answer<ProjectView> {
    let view = announce(
        &app,
        ProjectsChanged {},
        vault.as_owner(|a, who| a.project_watch(who, &name, on)),
    )?;
    if on {
        watchers.start(&app, &name);
    } else {
        watchers.stop(&name);
    }
    Ok(view)
}

/// Asks the user for a folder with the OS picker; `None` when they cancel.
#[tauri::command]
#[specta::specta]
pub async fn project_pick_folder(app: AppHandle) -> Answer<Option<String>> {
    let picked =
        tauri::async_runtime::spawn_blocking(move || app.dialog().file().blocking_pick_folder())
            .await
            .map_err(|e| internal(format!("the folder picker failed: {e}")))?;
    Ok(picked
        .and_then(|p| p.into_path().ok())
        .map(|p| p.display().to_string()))
}

/// Ingests a project, sending progress events while it runs.
#[tauri::command]
#[specta::specta]
pub async fn ingest(
    vault: State<'_, AppVault>,
    app: AppHandle,
    name: String,
) -> Answer<IngestReport> {
    let handle = app.clone();
    let report = blocking(&vault, move |a, who| {
        a.ingest(who, &name, &mut progress_to(&handle))
    })
    .await;
    announce(&app, ProjectsChanged {}, report)
}

/// Searches passages by words, meaning, or both.
#[tauri::command]
#[specta::specta]
pub async fn search(vault: State<'_, AppVault>, request: SearchRequest) -> Answer<Vec<SearchHit>> {
    Ok(blocking(&vault, move |a, who| a.search(who, request)).await?)
}

/// A document with its links and backlinks.
#[tauri::command]
#[specta::specta]
pub async fn document_show(vault: State<'_, AppVault>, reference: String) -> Answer<DocumentView> {
    Ok(vault.as_owner(|a, who| a.document_show(who, &reference))?)
}

/// An image attachment's bytes, for the Document view's preview.
#[tauri::command]
#[specta::specta]
pub async fn document_preview(vault: State<'_, AppVault>, reference: String) -> Answer<Preview> {
    Ok(blocking(&vault, move |a, who| a.document_preview(who, &reference)).await?)
}

/// Opens a vault document's file in the user's default application.
#[tauri::command]
#[specta::specta]
pub async fn document_open(
    vault: State<'_, AppVault>,
    app: AppHandle,
    reference: String,
) -> Answer<()> {
    let view = vault.as_owner(|a, who| a.document_show(who, &reference))?;
    app.opener()
        .open_path(&view.file, None::<&str>)
        .map_err(|e| internal(format!("the file could not be opened: {e}")))
}

/// Documents related to one, and why.
#[tauri::command]
#[specta::specta]
pub async fn related(
    vault: State<'_, AppVault>,
    reference: String,
    limit: u32,
) -> Answer<Vec<RelatedDocument>> {
    Ok(blocking(&vault, move |a, who| a.related(who, &reference, limit)).await?)
}

/// Adds a hook rule.
#[tauri::command]
#[specta::specta]
pub async fn hook_add(vault: State<'_, AppVault>, add: HookAdd) -> Answer<HookView> {
    Ok(vault.as_owner(|a, who| a.hook_add(who, add))?)
}

/// Hook rules, of one project or all.
#[tauri::command]
#[specta::specta]
pub async fn hook_list(
    vault: State<'_, AppVault>,
    project: Option<String>,
) -> Answer<Vec<HookView>> {
    Ok(vault.as_owner(|a, who| a.hook_list(who, project.as_deref()))?)
}

/// Removes a hook rule.
#[tauri::command]
#[specta::specta]
pub async fn hook_remove(vault: State<'_, AppVault>, id: i64) -> Answer<HookView> {
    Ok(vault.as_owner(|a, who| a.hook_remove(who, id))?)
}

/// The running project watchers, by project name, each with its stop flag.
#[derive(Debug, Default)]
pub struct Watchers {
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Watchers {
    /// Starts watching `name` on its own thread, unless it is watched already.
    pub fn start(&self, app: &AppHandle, name: &str) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(name) {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        running.insert(name.to_owned(), Arc::clone(&stop));
        let app = app.clone();
        let name = name.to_owned();
        std::thread::spawn(move || {
            let atelier = app.state::<AppVault>().handle();
            let mut on_outcome = |outcome: WatchOutcome| {
                if let WatchOutcome::Synced { tasks, .. } = &outcome {
                    if !tasks.is_empty() {
                        let _ = TasksChanged {}.emit(&app);
                    }
                    let _ = ProjectsChanged {}.emit(&app);
                }
            };
            let _ = atelier.watch(
                &Principal::Owner,
                std::slice::from_ref(&name),
                WatchOptions::default(),
                &stop,
                &mut on_outcome,
                &mut progress_to(&app),
            );
            app.state::<Watchers>().forget(&name);
        });
    }

    /// Stops watching `name`.
    pub fn stop(&self, name: &str) {
        if let Some(stop) = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
        {
            stop.store(true, Ordering::Relaxed);
        }
    }

    fn forget(&self, name: &str) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

/// Starts a watcher for every project with watching on; called once at start-up.
pub fn start_watching(app: &AppHandle) {
    let projects = app
        .state::<AppVault>()
        .as_owner(|a, who| a.watched_projects(who));
    if let Ok(projects) = projects {
        let watchers = app.state::<Watchers>();
        for project in projects {
            watchers.start(app, &project.name);
        }
    }
}
