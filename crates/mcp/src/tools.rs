//! The tools: each decodes its arguments, calls one core api function as the caller, and
//! answers a bounded, labelled result. At most twelve, so a host's model can hold them all.

use crate::bounded::{self, Item};
use crate::icons;
use crate::principal::principal_of;
use crate::refusal;
use crate::server::VaultServer;
use atelier_core::api::{
    AssetFilter, BankRequest, NewTask, OrchestrateRequest, RunEvent, RunRequest, SearchRequest,
    TaskEdit, TaskTransition, ThreadAck, ThreadCreate, ThreadPost, ThreadRead,
};
use atelier_core::tasks::{TaskAction, TaskFilter};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, schemars, tool, tool_router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Arguments of `search`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for, in words or by meaning.
    pub query: String,
    /// `hybrid` (words and meaning, the default), `text` (words only: any of them,
    /// "quoted phrases" whole) or `vector` (meaning only).
    #[serde(default)]
    pub mode: Option<String>,
    /// Every word and quoted phrase must occur (words are otherwise any-of).
    #[serde(default)]
    pub all_words: Option<bool>,
    /// Add to each result why it ranks where it does (its place by words, meaning and fusion,
    /// and the fields its words matched).
    #[serde(default)]
    pub explain: Option<bool>,
    /// Only this project (its name).
    #[serde(default)]
    pub project: Option<String>,
    /// At most this many passages, 1 to 25 (10 when omitted).
    #[serde(default)]
    #[schemars(range(min = 1, max = 25))]
    pub limit: Option<u32>,
}

/// Arguments of `read`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// What to read: `document:PROJECT:PATH` (or `document:PATH` when unique), `canon:ID`,
    /// `asset:ID` (its newest version), `task:ID`, `run:ID` (status, usage, steps, gates),
    /// `orchestration:ID` (the scheduler's progress through a task tree) or `plan:ID` (the
    /// task tree under ID as a dependency graph, with its critical path).
    pub reference: String,
    /// From a previous answer's `next_cursor`, for the rest of a long text.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Arguments of `tasks_list`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksListArgs {
    /// Only tasks in these states: pending, active, in_progress, blocked, completed, failed,
    /// cancelled.
    #[serde(default)]
    pub states: Vec<String>,
    /// Only the children of this task.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub parent: Option<i64>,
    /// Only tasks that can start now (open, every dependency completed), most urgent first.
    #[serde(default)]
    pub ready: bool,
    /// From a previous answer's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Arguments of `tasks_update`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksUpdateArgs {
    /// The task.
    #[schemars(range(min = 1))]
    pub id: i64,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New priority, 0 to 100.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub priority: Option<i64>,
    /// A move through its life: activate, start, block, unblock, complete, fail, reset,
    /// cancel. Applied after the field changes.
    #[serde(default)]
    pub action: Option<String>,
    /// Why (kept with a block, fail or cancel).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Arguments of the list tools that only page.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageArgs {
    /// From a previous answer's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Arguments of `play_run`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayRunArgs {
    /// The play's name (see `plays_list`).
    pub play: String,
    /// Its parameters by name.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// The task it is for.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub task: Option<i64>,
    /// `provider:model` for every step, instead of the user's routes.
    #[serde(default)]
    pub model: Option<String>,
}

/// Arguments of `tasks_run`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksRunArgs {
    /// The root of the task tree to work through.
    #[schemars(range(min = 1))]
    pub root: i64,
}

/// Arguments of `thread_post`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadPostArgs {
    /// The thread; leave it out and give `title` to start a new one.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub thread: Option<i64>,
    /// The title of a new thread.
    #[serde(default)]
    pub title: Option<String>,
    /// The message.
    pub body: String,
    /// A key of your choosing: posting again with the same key answers the first message
    /// instead of adding another, so a retry after a lost answer is safe.
    #[serde(default)]
    pub key: Option<String>,
}

/// Arguments of `thread_read`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadReadArgs {
    /// The thread.
    #[schemars(range(min = 1))]
    pub thread: i64,
    /// Messages after this seq; by default after your cursor (what you acknowledged).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub after: Option<i64>,
    /// First acknowledge everything up to this seq (your cursor only moves forward).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub ack: Option<i64>,
}

/// Arguments of `asset_bank`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetBankArgs {
    /// The passed run whose output is banked.
    #[schemars(range(min = 1))]
    pub run: i64,
    /// Bank it as the next version of this asset instead of a new one.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub into: Option<i64>,
    /// A title for a new asset.
    #[serde(default)]
    pub title: Option<String>,
}

/// Arguments of `assets_list`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetsListArgs {
    /// Only assets in this state: draft, in_review, approved, rejected.
    #[serde(default)]
    pub state: Option<String>,
    /// Only assets for this task.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub task: Option<i64>,
    /// From a previous answer's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A core enum from its snake_case name, or an invalid-params error naming the choices.
fn choice<T: DeserializeOwned>(field: &str, value: &str, allowed: &str) -> Result<T, ErrorData> {
    serde_json::from_value(Value::String(value.to_owned()))
        .map_err(|_| refusal::not_one_of(field, value, allowed))
}

const REFERENCES: &str =
    "document:…, canon:ID, asset:ID, task:ID, run:ID, orchestration:ID, plan:ID";
const STATES: &str = "pending, active, in_progress, blocked, completed, failed, cancelled";
const ACTIONS: &str = "activate, start, block, unblock, complete, fail, reset, cancel";

fn task_item(task: &atelier_core::tasks::Task) -> Item {
    Item::new(format!("atelier://tasks/{}", task.id), task)
}

#[tool_router(vis = "pub(crate)")]
impl VaultServer {
    #[tool(
        description = "Search the user's vault (their notes, drafts and documents) by words and meaning. Answers one result per document (its best passage, with its project, path, heading and lines, and the lines of its other matching passages); explain adds why each ranks where it does.",
        icons = icons::inline(include_str!("icons/search.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Search the vault",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let mode = match args.mode.as_deref() {
            None => Default::default(),
            Some(mode) => choice("mode", mode, "hybrid, text, vector")?,
        };
        let request = SearchRequest {
            query: args.query,
            mode,
            filter: atelier_core::documents::search::SearchFilter {
                project: args.project,
                ..Default::default()
            },
            limit: Some(args.limit.unwrap_or(10).clamp(1, bounded::PAGE as u32)),
            all_words: args.all_words.unwrap_or(false),
            passages: false,
            explain: args.explain.unwrap_or(false),
        };
        let explain = request.explain;
        let who = principal_of(&context);
        let hits = self.call(move |a| a.search(&who, request)).await?;
        let items = hits
            .into_iter()
            .map(|hit| {
                let source = format!(
                    "atelier://docs/{}/{}#L{}-L{}",
                    hit.source.project, hit.source.path, hit.source.lines.0, hit.source.lines.1
                );
                Item::new(source, compact_hit(hit, explain))
            })
            .collect();
        bounded::page(items, None)
    }

    #[tool(
        description = "Read one thing from the vault whole: a document's text (document:PROJECT:PATH; an attachment gives its media facts first, a PDF its text page by page), a canon block (canon:ID), an asset's newest version (asset:ID), a task with its children and dependencies (task:ID), a run (run:ID), an orchestration's progress (orchestration:ID) or a task tree's plan with its critical path (plan:ID). Long text comes in parts: pass next_cursor back for the rest.",
        icons = icons::inline(include_str!("icons/read.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Read a document, task, run or asset",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn read(
        &self,
        Parameters(args): Parameters<ReadArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = principal_of(&context);
        let (kind, rest) = args
            .reference
            .split_once(':')
            .ok_or_else(|| refusal::not_one_of("reference", &args.reference, REFERENCES))?;
        let id = || -> Result<i64, ErrorData> {
            rest.trim().parse().map_err(|_| {
                refusal::bad_arguments("read", &[format!("`{rest}` is not a whole-number id")])
            })
        };
        let items = match kind {
            "document" => {
                let reference = rest.to_owned();
                let text = self
                    .call(move |a| a.document_text(&who, &reference))
                    .await?;
                let doc = text.document;
                // An attachment's media facts come first: an image or a recording has no
                // passage, and a PDF's passages are its pages.
                let media = text.media.map(|media| {
                    Item::new(
                        format!("atelier://docs/{}/{}", doc.project, doc.path),
                        serde_json::json!({ "document": doc, "media": media }),
                    )
                });
                media
                    .into_iter()
                    .chain(text.passages.into_iter().map(|p| {
                        let source = format!(
                            "atelier://docs/{}/{}#L{}-L{}",
                            doc.project, doc.path, p.lines.0, p.lines.1
                        );
                        Item::new(source, p)
                    }))
                    .collect()
            }
            "canon" => {
                let id = id()?;
                let block = self.call(move |a| a.canon_show(&who, id)).await?;
                text_parts(
                    &format!("atelier://canon/{id}"),
                    &block.body,
                    serde_json::json!({ "id": block.id, "title": block.title, "tags": block.tags, "tier": block.tier }),
                )
            }
            "asset" => {
                let id = id()?;
                let detail = self.call(move |a| a.asset_show(&who, id, None)).await?;
                text_parts(
                    &format!("atelier://assets/{id}"),
                    &detail.content,
                    serde_json::json!({ "asset": detail.asset, "version": detail.shown_version, "sources": detail.sources }),
                )
            }
            "task" => {
                let id = id()?;
                let detail = self.call(move |a| a.task_show(&who, id)).await?;
                vec![Item::new(format!("atelier://tasks/{id}"), detail)]
            }
            "run" => {
                let id = id()?;
                let run = self.call(move |a| a.run_show(&who, id)).await?;
                vec![Item::new(format!("atelier://runs/{id}"), run)]
            }
            "orchestration" => {
                let id = id()?;
                let view = self.call(move |a| a.orchestration_show(&who, id)).await?;
                vec![Item::new(format!("atelier://orchestrations/{id}"), view)]
            }
            "plan" => {
                let id = id()?;
                let plan = self.call(move |a| a.task_plan(&who, id)).await?;
                vec![Item::new(format!("atelier://plans/{id}"), plan)]
            }
            _ => {
                return Err(refusal::not_one_of(
                    "reference",
                    &args.reference,
                    REFERENCES,
                ));
            }
        };
        bounded::page(items, args.cursor.as_deref())
    }

    #[tool(
        description = "List tasks, optionally only some states, the children of one task, or only those ready to start now (ready: true, most urgent first). Paged: pass next_cursor back for more.",
        icons = icons::inline(include_str!("icons/tasks_list.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "List tasks",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn tasks_list(
        &self,
        Parameters(args): Parameters<TasksListArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let states = args
            .states
            .iter()
            .map(|s| choice("states", s, STATES))
            .collect::<Result<Vec<_>, _>>()?;
        let filter = TaskFilter {
            states,
            parent: args.parent,
            ..TaskFilter::default()
        };
        let who = principal_of(&context);
        let ready = args.ready;
        let tasks = self
            .call(move |a| {
                if !ready {
                    return a.task_list(&who, &filter);
                }
                // The ready set, narrowed by the same filter.
                let wanted = a.task_list(&who, &filter)?;
                Ok(a.task_next(&who)?
                    .into_iter()
                    .filter(|t| wanted.iter().any(|w| w.id == t.id))
                    .collect())
            })
            .await?;
        bounded::page(
            tasks.iter().map(task_item).collect(),
            args.cursor.as_deref(),
        )
    }

    #[tool(
        description = "Work through a task tree with the scheduler: each ready task runs its play (or, with only a role, a request from its title and description) as its role, several at once, in dependency order; a failure blocks what depends on it; outputs that need approval wait for the user. Answers at once with the orchestration; follow it with read orchestration:ID. Needs the tasks_write and run_plays grants; every task acts within what you may do.",
        icons = icons::inline(include_str!("icons/tasks_run.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Work through a task tree",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn tasks_run(
        &self,
        Parameters(args): Parameters<TasksRunArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = principal_of(&context);
        let request = OrchestrateRequest { root: args.root };
        let view = self.call(move |a| a.orchestrate(&who, &request)).await?;
        Ok(bounded::one(Item::new(
            format!("atelier://orchestrations/{}", view.orchestration.id),
            view,
        )))
    }

    #[tool(
        description = "Post a message to a thread the user's hosts and roles coordinate through, or start a thread (give title, no thread). Messages are numbered in order per thread. Give a key to make a retry safe: the same key answers the first message. Needs the vault_write grant.",
        icons = icons::inline(include_str!("icons/thread_post.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Post to a thread",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn thread_post(
        &self,
        Parameters(args): Parameters<ThreadPostArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = principal_of(&context);
        let (thread, title) = match (args.thread, args.title) {
            (Some(thread), None) => (Some(thread), None),
            (None, Some(title)) => (None, Some(title)),
            _ => {
                return Err(refusal::bad_arguments(
                    "thread_post",
                    &["give either thread (to post to it) or title (to start one)".to_owned()],
                ));
            }
        };
        let (body, key) = (args.body, args.key);
        let posted = self
            .call(move |a| {
                let thread = match (thread, title) {
                    (Some(thread), _) => thread,
                    (None, title) => {
                        let request = ThreadCreate {
                            title: title.unwrap_or_default(),
                            participants: Vec::new(),
                        };
                        a.thread_create(&who, &request)?.thread.id
                    }
                };
                a.thread_post(&who, &ThreadPost { thread, body, key })
            })
            .await?;
        Ok(bounded::one(Item::new(
            format!("atelier://threads/{}", posted.message.thread),
            posted,
        )))
    }

    #[tool(
        description = "Read a thread's messages in order: by default those after your cursor (what you acknowledged), or after a given seq. Give ack to first mark everything up to that seq as handled. Subscribe to atelier://threads/ID to be told when new messages arrive.",
        icons = icons::inline(include_str!("icons/thread_read.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Read a thread",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn thread_read(
        &self,
        Parameters(args): Parameters<ThreadReadArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = principal_of(&context);
        let thread = args.thread;
        let request = ThreadRead {
            thread,
            after: args.after,
            limit: Some(bounded::PAGE as u32),
        };
        let ack = args.ack;
        let page = self
            .call(move |a| {
                if let Some(seq) = ack {
                    a.thread_ack(&who, ThreadAck { thread, seq })?;
                }
                a.thread_read(&who, &request)
            })
            .await?;
        Ok(bounded::one(Item::new(
            format!("atelier://threads/{thread}"),
            page,
        )))
    }

    #[tool(
        description = "Create a task, optionally under a parent and waiting on other tasks, with its subtasks (which may wait on earlier subtasks) in the same call: all are created or none. Needs the tasks_write grant.",
        icons = icons::inline(include_str!("icons/tasks_create.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Create a task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn tasks_create(
        &self,
        Parameters(new): Parameters<NewTask>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = principal_of(&context);
        let created = self
            .call(move |a| a.task_create_with_subtasks(&who, new))
            .await?;
        bounded::page(created.iter().map(task_item).collect(), None)
    }

    #[tool(
        description = "Change a task's title, description or priority, and/or move it through its life (activate, start, block, unblock, complete, fail, reset, cancel). Needs the tasks_write grant.",
        icons = icons::inline(include_str!("icons/tasks_update.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Update or move a task",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn tasks_update(
        &self,
        Parameters(args): Parameters<TasksUpdateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let action = args
            .action
            .as_deref()
            .map(|a| choice("action", a, ACTIONS))
            .transpose()?;
        let edits = args.title.is_some() || args.description.is_some() || args.priority.is_some();
        if !edits && action.is_none() {
            return Err(refusal::bad_arguments(
                "tasks_update",
                &["name a field to change or an action".to_owned()],
            ));
        }
        let edit = TaskEdit {
            id: args.id,
            title: args.title,
            description: args.description,
            priority: args.priority,
            ..TaskEdit::default()
        };
        let id = args.id;
        let reason = args.reason;
        let who = principal_of(&context);
        let task = self
            .call(move |a| {
                // A move the task's state does not allow is refused before the fields change;
                // the edit goes first so a refused edit leaves the state alone too.
                let mut task = a.task_show(&who, id)?.task;
                if let Some(action) = action
                    && !TaskAction::allowed_from(task.state).contains(&action)
                {
                    return a.task_transition(&who, TaskTransition { id, action, reason });
                }
                if edits {
                    task = a.task_edit(&who, edit)?;
                }
                if let Some(action) = action {
                    task = a.task_transition(&who, TaskTransition { id, action, reason })?;
                }
                Ok(task)
            })
            .await?;
        Ok(bounded::one(task_item(&task)))
    }

    #[tool(
        description = "The plays (reusable multi-step recipes for the model) the vault holds, with their parameters. Paged.",
        icons = icons::inline(include_str!("icons/plays_list.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "List plays",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn plays_list(
        &self,
        Parameters(args): Parameters<PageArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = principal_of(&context);
        let plays = self.call(move |a| a.plays_list(&who)).await?;
        let items = plays
            .iter()
            .map(|p| {
                Item::new(
                    format!("atelier://plays/{}", p.name),
                    serde_json::json!({
                        "name": p.name, "title": p.title, "description": p.description,
                        "domain": p.domain, "version": p.version, "parameters": p.parameters,
                        "steps": p.steps.len(),
                    }),
                )
            })
            .collect();
        bounded::page(items, args.cursor.as_deref())
    }

    #[tool(
        description = "Run a play with its parameters through the user's own models and wait for it; progress is sent as it goes. Answers the run (its status and usage); a passed run's output is banked as an asset by the play's approval rule. Needs the run_plays grant.",
        icons = icons::inline(include_str!("icons/play_run.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Run a play",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn play_run(
        &self,
        Parameters(args): Parameters<PlayRunArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = RunRequest {
            play: args.play,
            params: args.params,
            task: args.task,
            idempotency_key: None,
            adhoc: None,
            model: args.model,
        };
        let who = principal_of(&context);
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
        let token = context.meta.get_progress_token();
        let peer = context.peer.clone();
        let forwarder = tokio::spawn(async move {
            let mut step = 0.0;
            while let Some(message) = receiver.recv().await {
                let Some(token) = token.clone() else { continue };
                step += 1.0;
                let note = ProgressNotificationParam::new(token, step).with_message(message);
                if peer.notify_progress(note).await.is_err() {
                    break;
                }
            }
        });
        let run = self
            .call(move |a| {
                a.run_play(&who, &request, &mut |event| {
                    if let Some(message) = progress_message(&event) {
                        let _ = sender.send(message);
                    }
                })
            })
            .await;
        // Every progress note goes out before the answer (the sender is gone with the call).
        let _ = forwarder.await;
        let run = run?;
        Ok(bounded::one(Item::new(
            format!("atelier://runs/{}", run.id),
            run,
        )))
    }

    #[tool(
        description = "Bank a passed run's output as an asset (or as the next version of one), ready for the user's review. Needs the bank_assets grant.",
        icons = icons::inline(include_str!("icons/asset_bank.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "Bank an asset",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn asset_bank(
        &self,
        Parameters(args): Parameters<AssetBankArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = BankRequest {
            run: args.run,
            into: args.into,
            title: args.title,
        };
        let who = principal_of(&context);
        let asset = self.call(move |a| a.asset_bank(&who, &request)).await?;
        Ok(bounded::one(Item::new(
            format!("atelier://assets/{}", asset.id),
            asset,
        )))
    }

    #[tool(
        description = "List the assets (banked outputs), newest first, optionally by state or task. Paged.",
        icons = icons::inline(include_str!("icons/assets_list.svg")),
        output_schema = bounded::output_schema(),
        annotations(
            title = "List assets",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn assets_list(
        &self,
        Parameters(args): Parameters<AssetsListArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = AssetFilter {
            state: args
                .state
                .as_deref()
                .map(|s| choice("state", s, "draft, in_review, approved, rejected"))
                .transpose()?,
            task: args.task,
        };
        let who = principal_of(&context);
        let assets = self.call(move |a| a.assets_list(&who, &filter)).await?;
        let items = assets
            .iter()
            .map(|asset| Item::new(format!("atelier://assets/{}", asset.id), asset))
            .collect();
        bounded::page(items, args.cursor.as_deref())
    }
}

/// A search hit as a model reads it best: where it is, and its snippet with the matched words
/// in Markdown bold (the ranks and the kind stay out: they cost tokens and say little).
/// A hit as a host reads it: one document's best passage, the lines of its other matching
/// passages, and the explanation only when asked (it is most of a hit's size).
fn compact_hit(hit: atelier_core::documents::search::SearchHit, explain: bool) -> Value {
    let snippet = hit.marked_snippet("**", "**");
    let source = hit.source;
    let mut value = serde_json::json!({
        "document": source.document,
        "project": source.project,
        "path": source.path,
        "title": source.title,
        "heading": source.heading,
        "lines": source.lines,
        "snippet": snippet,
        "score": hit.score,
    });
    if !hit.others.is_empty() {
        value["also"] = hit
            .others
            .iter()
            .map(|o| serde_json::json!(o.lines))
            .collect();
    }
    if explain {
        value["explain"] = serde_json::json!(hit.explain);
    }
    value
}

/// `text` split into bounded parts, the first carrying `head` (what the text belongs to).
fn text_parts(source: &str, text: &str, head: Value) -> Vec<Item> {
    let parts = bounded::parts(text);
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| {
            let mut value = serde_json::json!({ "part": index + 1, "of": count, "text": part });
            if index == 0 {
                value["about"] = head.clone();
            }
            Item {
                source: source.to_owned(),
                value,
            }
        })
        .collect()
}

/// A line for the host's progress display; streamed text is not repeated there.
fn progress_message(event: &RunEvent) -> Option<String> {
    match event {
        RunEvent::Started { run } => Some(format!("run {run} started")),
        RunEvent::StepStarted { step, model, .. } => Some(format!("step {step} on {model}")),
        RunEvent::Retry { step, model, .. } => {
            Some(format!("step {step}: {model} failed, retrying"))
        }
        RunEvent::StepFinished { step, status, .. } => Some(format!("step {step} {status}")),
        RunEvent::Banked { asset, .. } => Some(format!("banked as asset {asset}")),
        RunEvent::Finished { status, .. } => Some(format!("run {status}")),
        RunEvent::Text { .. } => None,
    }
}
