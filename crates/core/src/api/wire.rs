//! The api as named calls with JSON arguments and answers, so one process can serve its vault
//! to another (the CLI reaches the desktop app, `atelier serve` or an `atelier mcp` this way).
//!
//! [`Api`] is the typed surface a front programs against: each method encodes its arguments,
//! hands them to [`Api::call`] and decodes the answer. [`Atelier`] answers a call in process
//! ([`answer`]); [`crate::remote::Remote`] carries it over the vault's socket to the process that
//! holds the vault, which answers it with the same [`answer`]. The CLI goes through `call` in
//! both cases, so every CLI test also checks that its calls' arguments and answers survive the
//! wire.

use super::{
    AssetDetail, AssetExport, AssetFilter, AssetLineage, AssetOrigin, AssetReviewRequest,
    AssetView, BankRequest, CanonEdit, CanonFilter, DocumentText, DocumentView, Exported, GrantAdd,
    GrantView, HookAdd, HookView, IngestProgress, IngestReport, KeyView, NewCanon, NewShape,
    NewTask, OrchestrateRequest, OrchestrationView, PostView, Preview, ProjectAdd, ProjectView,
    Promotion, ProviderAdd, ProviderCheck, ProviderView, ReindexReport, RelatedDocument, Route,
    RunEvent, RunPreview, RunRequest, RunView, SearchRequest, ShapeEdit, Status, SwitchState,
    TaskDependency, TaskDetail, TaskEdit, TaskMove, TaskPlan, TaskTransition, TaskTreeNode,
    ThreadAck, ThreadCreate, ThreadPage, ThreadPost, ThreadRead, ThreadView, WatchOptions,
    WatchOutcome,
};
use crate::access::audit::{Event, Verification};
use crate::access::auth::Principal;
use crate::access::roles::Role;
use crate::catalog::{CanonBlock, Shape};
use crate::documents::eval::{EvalReport, EvalRequest};
use crate::documents::search::SearchHit;
use crate::error::{Error, Result};
use crate::plays::spec::Play;
use crate::secrets::Secret;
use crate::tasks::{Task, TaskFilter};
use crate::vault::Atelier;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::atomic::AtomicBool;

/// What a long call reports on the way, before its answer: ingest progress, a run's events,
/// what the watch loop did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// How far an ingest is.
    Ingest(IngestProgress),
    /// What a run is doing.
    Run(RunEvent),
    /// One thing the watch loop did.
    Watch(WatchOutcome),
}

/// The type a call's argument is decoded into: the one after `as` when the method borrows it.
macro_rules! owned {
    ($owned:ty, $borrowed:ty) => {
        $owned
    };
    ($ty:ty) => {
        $ty
    };
}

/// Declares the calls that take a principal and plain arguments: each becomes a provided
/// method of [`Api`] and an arm of [`answer`], from one line, so the two cannot drift.
/// A plain call's name on the wire: its method's name, or the one `#[wire = "…"]` keeps.
macro_rules! wire_name {
    ($name:ident) => {
        stringify!($name)
    };
    ($name:ident, $wire:literal) => {
        $wire
    };
}

macro_rules! plain_calls {
    ($atelier:ident, $who:ident;
     $( $(#[doc = $doc:literal])*
        $(#[wire = $wire:literal])?
        fn $name:ident($($arg:ident: $ty:ty $(as $owned:ty)?),*) -> $answer:ty = $body:expr; )*
    ) => {
        /// The core's api as one surface, answered in process ([`Atelier`]) or by the vault's
        /// owner ([`crate::remote::Remote`]). Each method has the semantics of the
        /// [`Atelier`] method of the same name.
        pub trait Api {
            /// Sends the call `method` with `params` for `who` and waits for its answer;
            /// `progress` hears what a long call reports on the way.
            fn call(
                &self,
                who: &Principal,
                method: &str,
                params: Value,
                progress: &mut dyn FnMut(Progress),
            ) -> Result<Value>;

            /// The vault's state, answered even when it is sealed.
            fn status(&self) -> Status;

            $(
                $(#[doc = $doc])*
                fn $name(&self, who: &Principal, $($arg: $ty),*) -> Result<$answer> {
                    #[allow(unused_mut, reason = "calls without arguments add nothing")]
                    let mut params = Map::new();
                    $( params.insert(stringify!($arg).to_owned(), encode(&$arg)?); )*
                    decode(self.call(who, wire_name!($name $(, $wire)?), Value::Object(params), &mut |_| {})?)
                }
            )*

            /// Stores a provider key in the OS keychain under `name`.
            fn key_set(&self, who: &Principal, name: &str, key: Secret) -> Result<KeyView> {
                let params = serde_json::json!({ "name": name, "key": key.expose() });
                decode(self.call(who, "key_set", params, &mut |_| {})?)
            }

            /// Ingests project `name`, reporting progress.
            fn ingest(
                &self,
                who: &Principal,
                name: &str,
                progress: &mut dyn FnMut(&IngestProgress),
            ) -> Result<IngestReport> {
                let params = serde_json::json!({ "name": name });
                decode(self.call(who, "ingest", params, &mut |p| {
                    if let Progress::Ingest(p) = p {
                        progress(&p);
                    }
                })?)
            }

            /// Runs a play (or an ad-hoc ASSET call), reporting its events.
            fn run_play(
                &self,
                who: &Principal,
                request: &RunRequest,
                on_event: &mut dyn FnMut(RunEvent),
            ) -> Result<RunView> {
                let params = serde_json::json!({ "request": request });
                decode(self.call(who, "run_play", params, &mut |p| {
                    if let Progress::Run(event) = p {
                        on_event(event);
                    }
                })?)
            }

            /// Watches `projects` until the caller goes away, reporting what the loop does.
            fn watch(
                &self,
                who: &Principal,
                projects: &[String],
                options: WatchOptions,
                on: &mut dyn FnMut(WatchOutcome),
                progress: &mut dyn FnMut(&IngestProgress),
            ) -> Result<()> {
                let params = serde_json::json!({ "projects": projects, "options": options });
                decode(self.call(who, "watch", params, &mut |p| match p {
                    Progress::Watch(outcome) => on(outcome),
                    Progress::Ingest(p) => progress(&p),
                    Progress::Run(_) => {}
                })?)
            }
        }

        /// Answers the plain call `method`, or gives `params` back when it is not one.
        fn answer_plain(
            $atelier: &Atelier,
            $who: &Principal,
            method: &str,
            params: Value,
        ) -> std::result::Result<Result<Value>, Value> {
            match method {
                $( wire_name!($name $(, $wire)?) => Ok((|| {
                    #[derive(Deserialize)]
                    #[serde(deny_unknown_fields)]
                    struct Params { $($arg: owned!($($owned,)? $ty)),* }
                    let Params { $($arg),* } = decode_params(method, params)?;
                    encode(&$body?)
                })()), )*
                _ => Err(params),
            }
        }
    };
}

plain_calls! { atelier, who;
    fn task_create(new: NewTask) -> Task = atelier.task_create(who, new);
    fn task_edit(edit: TaskEdit) -> Task = atelier.task_edit(who, edit);
    fn task_move(request: TaskMove) -> Task = atelier.task_move(who, request);
    fn task_dependency_add(dep: TaskDependency) -> TaskDetail =
        atelier.task_dependency_add(who, dep);
    fn task_dependency_remove(dep: TaskDependency) -> TaskDetail =
        atelier.task_dependency_remove(who, dep);
    fn task_transition(request: TaskTransition) -> Task = atelier.task_transition(who, request);
    fn task_show(id: i64) -> TaskDetail = atelier.task_show(who, id);
    fn task_list(filter: &TaskFilter as TaskFilter) -> Vec<Task> = atelier.task_list(who, &filter);
    fn task_tree(root: Option<i64>) -> Vec<TaskTreeNode> = atelier.task_tree(who, root);
    fn task_next() -> Vec<Task> = atelier.task_next(who);
    fn task_plan(root: i64) -> TaskPlan = atelier.task_plan(who, root);
    fn orchestrate(request: &OrchestrateRequest as OrchestrateRequest) -> OrchestrationView =
        atelier.orchestrate(who, &request);
    fn orchestration_show(id: i64) -> OrchestrationView = atelier.orchestration_show(who, id);
    fn orchestrations_list() -> Vec<OrchestrationView> = atelier.orchestrations_list(who);
    fn orchestration_stop(id: i64) -> OrchestrationView = atelier.orchestration_stop(who, id);
    fn thread_create(request: &ThreadCreate as ThreadCreate) -> ThreadView =
        atelier.thread_create(who, &request);
    fn thread_post(post: &ThreadPost as ThreadPost) -> PostView = atelier.thread_post(who, &post);
    fn thread_read(request: &ThreadRead as ThreadRead) -> ThreadPage =
        atelier.thread_read(who, &request);
    fn thread_ack(ack: ThreadAck) -> i64 = atelier.thread_ack(who, ack);
    fn threads_list() -> Vec<ThreadView> = atelier.threads_list(who);
    fn role_list() -> Vec<Role> = atelier.role_list(who);
    fn role_show(name: &str as String) -> Role = atelier.role_show(who, &name);
    fn canon_create(new: NewCanon) -> CanonBlock = atelier.canon_create(who, new);
    fn canon_edit(edit: CanonEdit) -> CanonBlock = atelier.canon_edit(who, edit);
    fn canon_list(filter: &CanonFilter as CanonFilter) -> Vec<CanonBlock> = atelier.canon_list(who, &filter);
    fn canon_show(id: i64) -> CanonBlock = atelier.canon_show(who, id);
    fn shape_create(new: NewShape) -> Shape = atelier.shape_create(who, new);
    fn shape_edit(edit: ShapeEdit) -> Shape = atelier.shape_edit(who, edit);
    fn shape_list() -> Vec<Shape> = atelier.shape_list(who);
    fn shape_show(name: &str as String) -> Shape = atelier.shape_show(who, &name);
    fn grant_add(add: GrantAdd) -> GrantView = atelier.grant_add(who, add);
    fn grant_list() -> Vec<GrantView> = atelier.grant_list(who);
    fn grant_revoke(id: i64) -> GrantView = atelier.grant_revoke(who, id);
    fn audit_tail(limit: u32) -> Vec<Event> = atelier.audit_tail(who, limit);
    fn audit_verify() -> Verification = atelier.audit_verify(who);
    fn reindex() -> ReindexReport = atelier.reindex(who);
    fn project_add(add: ProjectAdd) -> ProjectView = atelier.project_add(who, add);
    fn project_list() -> Vec<ProjectView> = atelier.project_list(who);
    fn project_remove(name: &str as String) -> ProjectView = atelier.project_remove(who, &name);
    fn project_watch(name: &str as String, on: bool) -> ProjectView =
        atelier.project_watch(who, &name, on);
    fn hook_add(add: HookAdd) -> HookView = atelier.hook_add(who, add);
    fn hook_list(project: Option<&str> as Option<String>) -> Vec<HookView> =
        atelier.hook_list(who, project.as_deref());
    fn hook_remove(id: i64) -> HookView = atelier.hook_remove(who, id);
    fn search(request: SearchRequest) -> Vec<SearchHit> = atelier.search(who, request);
    fn search_eval(request: EvalRequest) -> EvalReport = atelier.search_eval(who, request);
    fn document_show(reference: &str as String) -> DocumentView = atelier.document_show(who, &reference);
    fn document_text(reference: &str as String) -> DocumentText = atelier.document_text(who, &reference);
    fn document_preview(reference: &str as String) -> Preview = atelier.document_preview(who, &reference);
    fn related(reference: &str as String, limit: u32) -> Vec<RelatedDocument> =
        atelier.related(who, &reference, limit);
    fn keys_list() -> Vec<KeyView> = atelier.keys_list(who);
    fn key_remove(name: &str as String) -> () = atelier.key_remove(who, &name);
    fn key_test(name: &str as String) -> ProviderCheck = atelier.key_test(who, &name);
    fn providers_list() -> Vec<ProviderView> = atelier.providers_list(who);
    fn provider_add(add: ProviderAdd) -> ProviderView = atelier.provider_add(who, add);
    fn provider_remove(name: &str as String) -> () = atelier.provider_remove(who, &name);
    fn provider_test(name: &str as String) -> ProviderCheck = atelier.provider_test(who, &name);
    fn routes_list() -> Vec<Route> = atelier.routes_list(who);
    fn route_set(route: Route) -> Route = atelier.route_set(who, route);
    /// The kill switch pulled (`seal` on the wire, as before it had its own word).
    #[wire = "seal"]
    fn halt(reason: &str as String) -> SwitchState = atelier.halt(who, &reason);
    /// The kill switch released (`unseal` on the wire).
    #[wire = "unseal"]
    fn resume() -> () = atelier.resume(who);
    fn plays_list() -> Vec<Play> = atelier.plays_list(who);
    fn play_show(name: &str as String) -> Play = atelier.play_show(who, &name);
    fn run_preview(request: &RunRequest as RunRequest) -> RunPreview = atelier.run_preview(who, &request);
    fn run_cancel(run: i64) -> () = atelier.run_cancel(who, run);
    fn runs_list(limit: u32) -> Vec<RunView> = atelier.runs_list(who, limit);
    fn run_show(run: i64) -> RunView = atelier.run_show(who, run);
    fn assets_list(filter: &AssetFilter as AssetFilter) -> Vec<AssetView> = atelier.assets_list(who, &filter);
    fn asset_show(asset: i64, version: Option<i64>) -> AssetDetail =
        atelier.asset_show(who, asset, version);
    fn asset_bank(request: &BankRequest as BankRequest) -> AssetView = atelier.asset_bank(who, &request);
    fn asset_review(request: &AssetReviewRequest as AssetReviewRequest) -> AssetView =
        atelier.asset_review(who, &request);
    fn asset_promote(promotion: &Promotion as Promotion) -> CanonBlock =
        atelier.asset_promote(who, &promotion);
    fn asset_export(export: &AssetExport as AssetExport) -> Exported = atelier.asset_export(who, &export);
    fn asset_lineage(asset: i64) -> AssetLineage = atelier.asset_lineage(who, asset);
    fn assets_from(origin: AssetOrigin) -> Vec<AssetView> = atelier.assets_from(who, origin);
}

/// Answers the call `method` with `params` on `atelier` for `who`: the one place a call is
/// turned into an api method. `progress` hears what a long call reports; `stop` ends the only
/// call that runs until told (`watch`) when the caller goes away.
pub fn answer(
    atelier: &Atelier,
    who: &Principal,
    method: &str,
    params: Value,
    progress: &mut dyn FnMut(Progress),
    stop: &AtomicBool,
) -> Result<Value> {
    let params = match answer_plain(atelier, who, method, params) {
        Ok(answer) => return answer,
        Err(params) => params,
    };
    match method {
        "status" => encode(&atelier.status()),
        "key_set" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Params {
                name: String,
                key: String,
            }
            let Params { name, key } = decode_params(method, params)?;
            encode(&atelier.key_set(who, &name, Secret::new(key))?)
        }
        "ingest" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Params {
                name: String,
            }
            let Params { name } = decode_params(method, params)?;
            let report = atelier.ingest(who, &name, &mut |p| {
                progress(Progress::Ingest(p.clone()));
            })?;
            encode(&report)
        }
        "run_play" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Params {
                request: RunRequest,
            }
            let Params { request } = decode_params(method, params)?;
            let run = atelier.run_play(who, &request, &mut |event| {
                progress(Progress::Run(event));
            })?;
            encode(&run)
        }
        "watch" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Params {
                projects: Vec<String>,
                options: WatchOptions,
            }
            let Params { projects, options } = decode_params(method, params)?;
            // Both callbacks report through the one `progress`; a cell lets them share it.
            let progress = std::cell::RefCell::new(progress);
            atelier.watch(
                who,
                &projects,
                options,
                stop,
                &mut |outcome| (progress.borrow_mut())(Progress::Watch(outcome)),
                &mut |p| (progress.borrow_mut())(Progress::Ingest(p.clone())),
            )?;
            encode(&())
        }
        _ => Err(Error::invalid(
            "call",
            format!("`{method}` is not a call this Atelier answers"),
        )),
    }
}

impl Api for Atelier {
    fn call(
        &self,
        who: &Principal,
        method: &str,
        params: Value,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Value> {
        // Nothing in process can go away mid-call, so `watch` runs until the process ends.
        answer(self, who, method, params, progress, &AtomicBool::new(false))
    }

    fn status(&self) -> Status {
        Atelier::status(self)
    }
}

/// A value as JSON for the wire.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::Io {
        message: format!("an answer could not be encoded: {e}"),
    })
}

/// An answer from the wire as the type the call returns.
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| unreadable(&e))
}

/// The error for an answer this build cannot read: the owner runs another version.
pub fn unreadable(problem: &serde_json::Error) -> Error {
    Error::Io {
        message: format!(
            "the vault's owner answered in a form this Atelier does not read ({problem}); use the same version of Atelier for both"
        ),
    }
}

fn decode_params<T: DeserializeOwned>(method: &str, params: Value) -> Result<T> {
    serde_json::from_value(params).map_err(|e| Error::invalid("params", format!("`{method}`: {e}")))
}
