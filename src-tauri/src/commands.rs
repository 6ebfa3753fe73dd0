//! The desktop's commands: each a documented one-line wrapper over the core's api, run as the
//! owner. Task mutations also announce [`TasksChanged`] so every open window refreshes.

use crate::error::Answer;
use crate::events::{TasksChanged, announce};
use crate::vault::AppVault;
use atelier_core::access::audit::{Event, Verification};
use atelier_core::access::roles::Role;
use atelier_core::api::{
    CanonEdit, CanonFilter, GrantAdd, GrantView, InitReport, NewCanon, NewShape, NewTask,
    OrchestrateRequest, OrchestrationView, ShapeEdit, Status, TaskDependency, TaskDetail, TaskEdit,
    TaskMove, TaskPlan, TaskTransition, TaskTreeNode,
};
use atelier_core::catalog::{CanonBlock, Shape};
use atelier_core::tasks::Task;
use tauri::{AppHandle, State};

/// The vault's state; answered even when it is sealed, busy or missing.
#[tauri::command]
#[specta::specta]
pub async fn vault_status(vault: State<'_, AppVault>) -> Answer<Status> {
    Ok(vault.status())
}

/// Tries to open the vault again, after another process let go of it.
#[tauri::command]
#[specta::specta]
pub async fn vault_retry(app: AppHandle, vault: State<'_, AppVault>) -> Answer<Status> {
    let status = vault.retry();
    crate::socket::serve_if_open(&app);
    Ok(status)
}

/// Creates the vault at the app's vault directory, then opens it.
#[tauri::command]
#[specta::specta]
pub async fn vault_init(app: AppHandle, vault: State<'_, AppVault>) -> Answer<InitReport> {
    let report = vault.init()?;
    crate::socket::serve_if_open(&app);
    Ok(report)
}

/// Opens another workbench window on the same vault.
#[tauri::command]
#[specta::specta]
pub async fn window_open(app: AppHandle) -> Answer<String> {
    crate::windows::open_another(&app).map_err(|err| {
        atelier_core::Error::Io {
            message: err.to_string(),
        }
        .into()
    })
}

/// Creates a task, optionally under a parent and with dependencies.
#[tauri::command]
#[specta::specta]
pub async fn task_create(
    vault: State<'_, AppVault>,
    app: AppHandle,
    task: NewTask,
) -> Answer<Task> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.task_create(who, task)),
    )
}

/// Changes a task's title, description, role, play or priority.
#[tauri::command]
#[specta::specta]
pub async fn task_edit(vault: State<'_, AppVault>, app: AppHandle, edit: TaskEdit) -> Answer<Task> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.task_edit(who, edit)),
    )
}

/// Moves a task under another parent, or to the top level.
#[tauri::command]
#[specta::specta]
pub async fn task_move(
    vault: State<'_, AppVault>,
    app: AppHandle,
    request: TaskMove,
) -> Answer<Task> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.task_move(who, request)),
    )
}

/// Makes one task wait on another.
#[tauri::command]
#[specta::specta]
pub async fn task_dependency_add(
    vault: State<'_, AppVault>,
    app: AppHandle,
    dependency: TaskDependency,
) -> Answer<TaskDetail> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.task_dependency_add(who, dependency)),
    )
}

/// Removes a dependency.
#[tauri::command]
#[specta::specta]
pub async fn task_dependency_remove(
    vault: State<'_, AppVault>,
    app: AppHandle,
    dependency: TaskDependency,
) -> Answer<TaskDetail> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.task_dependency_remove(who, dependency)),
    )
}

/// Moves a task through its state machine (activate, start, block, complete, …).
#[tauri::command]
#[specta::specta]
pub async fn task_transition(
    vault: State<'_, AppVault>,
    app: AppHandle,
    request: TaskTransition,
) -> Answer<Task> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.task_transition(who, request)),
    )
}

/// One task with its neighbourhood and the actions allowed now.
#[tauri::command]
#[specta::specta]
pub async fn task_show(vault: State<'_, AppVault>, id: i64) -> Answer<TaskDetail> {
    Ok(vault.as_owner(|a, who| a.task_show(who, id))?)
}

/// The task forest with each task's dependencies and allowed actions.
#[tauri::command]
#[specta::specta]
pub async fn task_tree(vault: State<'_, AppVault>) -> Answer<Vec<TaskTreeNode>> {
    Ok(vault.as_owner(|a, who| a.task_tree(who, None))?)
}

/// The plan under `root`: its dependency graph with live states and its critical path.
#[tauri::command]
#[specta::specta]
pub async fn task_plan(vault: State<'_, AppVault>, root: i64) -> Answer<TaskPlan> {
    Ok(vault.as_owner(|a, who| a.task_plan(who, root))?)
}

/// The ready set: tasks whose dependencies are all completed, most urgent first.
#[tauri::command]
#[specta::specta]
pub async fn task_next(vault: State<'_, AppVault>) -> Answer<Vec<Task>> {
    Ok(vault.as_owner(|a, who| a.task_next(who))?)
}

/// Starts the scheduler on a task tree (or answers the orchestration already working through
/// it); the app's workers run its tasks.
#[tauri::command]
#[specta::specta]
pub async fn orchestrate(
    vault: State<'_, AppVault>,
    app: AppHandle,
    request: OrchestrateRequest,
) -> Answer<OrchestrationView> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.orchestrate(who, &request)),
    )
}

/// Every orchestration, newest first, with where its tasks are and what waits for a person.
#[tauri::command]
#[specta::specta]
pub async fn orchestrations_list(vault: State<'_, AppVault>) -> Answer<Vec<OrchestrationView>> {
    Ok(vault.as_owner(|a, who| a.orchestrations_list(who))?)
}

/// Stops an orchestration: nothing new starts; runs going finish.
#[tauri::command]
#[specta::specta]
pub async fn orchestration_stop(
    vault: State<'_, AppVault>,
    app: AppHandle,
    id: i64,
) -> Answer<OrchestrationView> {
    announce(
        &app,
        TasksChanged {},
        vault.as_owner(|a, who| a.orchestration_stop(who, id)),
    )
}

/// Every role, resolved through its inheritance, with inherited fields named.
#[tauri::command]
#[specta::specta]
pub async fn role_list(vault: State<'_, AppVault>) -> Answer<Vec<Role>> {
    Ok(vault.as_owner(|a, who| a.role_list(who))?)
}

/// Creates a canon block.
#[tauri::command]
#[specta::specta]
pub async fn canon_create(vault: State<'_, AppVault>, canon: NewCanon) -> Answer<CanonBlock> {
    Ok(vault.as_owner(|a, who| a.canon_create(who, canon))?)
}

/// Edits a canon block.
#[tauri::command]
#[specta::specta]
pub async fn canon_edit(vault: State<'_, AppVault>, edit: CanonEdit) -> Answer<CanonBlock> {
    Ok(vault.as_owner(|a, who| a.canon_edit(who, edit))?)
}

/// Canon blocks matching a filter.
#[tauri::command]
#[specta::specta]
pub async fn canon_list(
    vault: State<'_, AppVault>,
    filter: CanonFilter,
) -> Answer<Vec<CanonBlock>> {
    Ok(vault.as_owner(|a, who| a.canon_list(who, &filter))?)
}

/// Creates a shape (a Markdown outline or a JSON Schema).
#[tauri::command]
#[specta::specta]
pub async fn shape_create(vault: State<'_, AppVault>, shape: NewShape) -> Answer<Shape> {
    Ok(vault.as_owner(|a, who| a.shape_create(who, shape))?)
}

/// Edits a shape.
#[tauri::command]
#[specta::specta]
pub async fn shape_edit(vault: State<'_, AppVault>, edit: ShapeEdit) -> Answer<Shape> {
    Ok(vault.as_owner(|a, who| a.shape_edit(who, edit))?)
}

/// Every shape.
#[tauri::command]
#[specta::specta]
pub async fn shape_list(vault: State<'_, AppVault>) -> Answer<Vec<Shape>> {
    Ok(vault.as_owner(|a, who| a.shape_list(who))?)
}

/// The newest audit events, newest first.
#[tauri::command]
#[specta::specta]
pub async fn audit_tail(vault: State<'_, AppVault>, limit: u32) -> Answer<Vec<Event>> {
    Ok(vault.as_owner(|a, who| a.audit_tail(who, limit))?)
}

/// Walks the audit hash chain and says whether it is intact.
#[tauri::command]
#[specta::specta]
pub async fn audit_verify(vault: State<'_, AppVault>) -> Answer<Verification> {
    Ok(vault.as_owner(|a, who| a.audit_verify(who))?)
}

/// Gives a principal (a chat host `mcp:<name>`, or a role) a capability, until revoked or for
/// `expires_in` ms. Windows hear [`crate::events::GrantsChanged`] through the change feed.
#[tauri::command]
#[specta::specta]
pub async fn grant_add(vault: State<'_, AppVault>, add: GrantAdd) -> Answer<GrantView> {
    Ok(vault.as_owner(|a, who| a.grant_add(who, add))?)
}

/// Every grant, live, expired or revoked.
#[tauri::command]
#[specta::specta]
pub async fn grant_list(vault: State<'_, AppVault>) -> Answer<Vec<GrantView>> {
    Ok(vault.as_owner(|a, who| a.grant_list(who))?)
}

/// Takes a grant back; a connected chat host's tool list shrinks at once.
#[tauri::command]
#[specta::specta]
pub async fn grant_revoke(vault: State<'_, AppVault>, id: i64) -> Answer<GrantView> {
    Ok(vault.as_owner(|a, who| a.grant_revoke(who, id))?)
}
