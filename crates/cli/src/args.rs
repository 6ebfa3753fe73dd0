//! The command line, as clap types. Help text here is what users read first.

use atelier_core::assets::AssetState;
use atelier_core::catalog::{ShapeKind, Tier};
use atelier_core::documents::DocumentKind;
use atelier_core::documents::projects::HookAction;
use atelier_core::documents::search::SearchMode;
use atelier_core::names::Named;
use atelier_core::providers::WireFormat;
use atelier_core::tasks::TaskState;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsStr;
use std::marker::PhantomData;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
The vault is --vault, else $ATELIER_HOME, else the OS data directory
(~/.local/share/atelier on Linux).

Exit codes: 0 done; 1 internal failure; 2 refused (fix the input and retry);
3 vault unavailable (not initialized, sealed, or owned by another process);
4 a check found problems (audit verify).

Start with:  atelier init  →  atelier tasks add \"Write the pilot\"  →  atelier tasks tree";

/// Atelier: a local-first workbench for making things with AI.
#[derive(Debug, Parser)]
#[command(name = "atelier", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The vault directory (default: $ATELIER_HOME, else the OS data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub vault: Option<PathBuf>,
    /// Print machine-readable JSON instead of text (errors too, as {"error": …}).
    #[arg(long, global = true)]
    pub json: bool,
    /// Act as another principal (`mcp:<client>` or `role:<name>`) to see what its grants allow.
    #[arg(
        id = "acting_as",
        long = "as",
        global = true,
        value_name = "PRINCIPAL",
        default_value = "owner"
    )]
    pub acting_as: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a vault (directories, database, config.yaml).
    Init {
        /// On an existing vault, restore a missing config.yaml and directories; data is untouched.
        #[arg(long)]
        repair: bool,
    },
    /// Show whether the vault is open, and why not if it is sealed.
    Status,
    /// Create a vault if needed and fill it with a small example project, then show it.
    Demo,
    /// Tasks: a hierarchy with dependencies and a state machine.
    #[command(subcommand)]
    Tasks(TaskCommand),
    /// Threads: messages in order, through which hosts, roles and people coordinate.
    #[command(subcommand)]
    Threads(ThreadCommand),
    /// Roles: personas with capabilities, from roles/*.yaml.
    #[command(subcommand)]
    Roles(RoleCommand),
    /// Canon blocks: curated knowledge (the Sources of ASSET).
    #[command(subcommand)]
    Canon(CanonCommand),
    /// Shapes: output templates (Markdown sections or JSON Schema).
    #[command(subcommand)]
    Shapes(ShapeCommand),
    /// Grants: capabilities given to MCP clients and roles.
    #[command(subcommand)]
    Grants(GrantCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rebuild the graph and the vector index from the database alone (no re-embedding).
    Reindex,
    /// Project folders: the notes, drafts and code Atelier reads.
    #[command(subcommand)]
    Projects(ProjectCommand),
    /// Read a project's files: only what changed since the last ingest.
    #[command(after_help = "Example: atelier projects add ~/novel && atelier ingest novel")]
    Ingest {
        /// Project name (all projects when omitted).
        project: Option<String>,
    },
    /// Find passages by words, by meaning, or both.
    #[command(
        after_help = "Examples:\n  atelier search \"why does the keeper climb the tower at dawn\"\n  atelier search keeper --mode text --project novel --tag draft --path 'chapters/**'\n  atelier search '\"storm at sea\" harbour' --mode text --all-words --explain"
    )]
    Search(SearchArgs),
    /// Documents: metadata, links and backlinks.
    #[command(subcommand)]
    Docs(DocCommand),
    /// Judge Atelier by numbers: search quality on labelled questions, beside naive baselines.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Documents related to one, and why (links, backlinks, meaning, tags).
    Related {
        /// Document id, PROJECT:PATH, or a path.
        document: String,
        /// How many (1–100).
        #[arg(short = 'n', long, default_value_t = 10)]
        limit: u32,
    },
    /// Keep projects in sync while running (Ctrl-C stops): ingest changes, run hook rules.
    Watch {
        /// Projects to watch (default: those with watching on).
        projects: Vec<String>,
        /// Rescan every this many seconds instead of using OS file events.
        #[arg(long, value_name = "SECONDS")]
        poll: Option<u64>,
    },
    /// Hook rules: what a watched change does (ingest, or create a task).
    #[command(subcommand)]
    Hooks(HookCommand),
    /// Provider keys, kept only in the OS keychain (write-only: nothing prints a key).
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Model providers: built-in APIs and local servers, or your own base URL.
    #[command(subcommand)]
    Providers(ProviderCommand),
    /// Routing: which models a task class (llm.planner, llm.creator, llm.judge, …) tries.
    #[command(subcommand)]
    Routes(RouteCommand),
    /// Plays: workflows of model calls (character bible, scene outline, …).
    #[command(subcommand)]
    Plays(PlayCommand),
    /// Run a play: assemble each step, call the model (streamed), check its gates.
    #[command(
        after_help = "Examples:\n  atelier run scene_outline -p scene='Mara keeps the light' -p point_of_view=Mara --dry-run\n  atelier run character_bible -p character=Mara --model anthropic:claude-sonnet-4-5"
    )]
    Run(RunArgs),
    /// Runs: what was sent, what came back, and the gates.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Assets: banked outputs, their approval, lineage, promotion to canon and export.
    #[command(subcommand)]
    Assets(AssetCommand),
    /// Serve the vault to a chat host (Claude Desktop, Cursor, Claude Code) over stdio, as
    /// the MCP principal `mcp:<client name>`. The host starts this; stdout carries protocol
    /// bytes only, messages go to stderr. `atelier mcp install` sets a host up.
    Mcp {
        #[command(subcommand)]
        action: Option<McpCommand>,
    },
    /// Own the vault without the desktop app and serve it to other processes on its socket
    /// (`atelier.sock` in the vault, this user only), so `atelier mcp` works beside it. Ctrl-C
    /// stops.
    Serve,
    /// The kill switch: stop every run and provider call now, and refuse new ones.
    #[command(alias = "seal")]
    Halt {
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Turn the kill switch off (the owner only).
    #[command(alias = "unseal")]
    Resume,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Store a key in the OS keychain under NAME. Reads it from standard input (or from the
    /// environment variable given with --from-env); never from the command line.
    #[command(
        after_help = "Examples:\n  atelier keys set openai            (type or paste the key, then Enter)\n  atelier keys set anthropic --from-env ANTHROPIC_API_KEY"
    )]
    Set {
        /// The key's name (the providers that read it name it as their key reference).
        name: String,
        /// Read the key from this environment variable.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
    /// Delete a key from the keychain.
    Rm {
        /// The key's name.
        name: String,
    },
    /// Check a key with the provider that reads it (lists its models; generates nothing).
    Test {
        /// The key's name.
        name: String,
    },
    /// List key names, when each was set and tested (never the keys).
    Ls,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// List providers, their formats, URLs and whether their key is set.
    Ls,
    /// Add a provider, or replace a built-in one (same name) with another URL or key.
    #[command(
        after_help = "Examples:\n  atelier providers add lan-llama --format openai --base-url http://192.168.1.20:8080/v1\n  atelier providers add work-openai --format openai --base-url https://api.openai.com/v1 --key work-openai"
    )]
    Add {
        /// Its name, used as `NAME:model`.
        name: String,
        /// Its wire format.
        #[arg(long, value_parser = named::<WireFormat>())]
        format: WireFormat,
        /// Its base URL.
        #[arg(long)]
        base_url: String,
        /// The name of the key it reads (`atelier keys set NAME`); none for local servers.
        #[arg(long = "key", value_name = "KEY_NAME")]
        key_ref: Option<String>,
    },
    /// Remove an added provider (a replaced built-in returns to its default).
    Rm {
        /// Its name.
        name: String,
    },
    /// Check that a provider answers and accepts its key.
    Test {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// The routing table.
    Ls,
    /// Set the models a task class tries, in order (none removes the class).
    #[command(
        after_help = "Example: atelier routes set llm.creator anthropic:claude-sonnet-4-5 openai:gpt-4o"
    )]
    Set {
        /// `llm.<class>`.
        task_class: String,
        /// `provider:model`, in order.
        models: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlayCommand {
    /// List plays.
    Ls,
    /// A play's parameters, steps, gates and version.
    Show {
        /// Its name.
        name: String,
    },
    /// Check the plays in a directory (default: the vault's plays/).
    Check {
        /// The directory.
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The play's name.
    pub play: String,
    /// A parameter, `name=value` (repeat for each).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Show each step's prompt and models without calling any model.
    #[arg(long)]
    pub dry_run: bool,
    /// Use this `provider:model` for every step.
    #[arg(long)]
    pub model: Option<String>,
    /// The task this run is for.
    #[arg(long)]
    pub task: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Assets, newest first.
    Ls {
        /// Only in this state.
        #[arg(long, value_parser = named::<AssetState>())]
        state: Option<AssetState>,
        /// Only for this task.
        #[arg(long)]
        task: Option<i64>,
        /// Only those derived from or made by this: canon:ID, document:ID, task:ID or run:ID
        /// (from the lineage graph).
        #[arg(long, value_name = "KIND:ID")]
        from: Option<String>,
    },
    /// One asset: versions, reviews, sources, and the text of a version.
    Show {
        /// Asset id.
        id: i64,
        /// Which version (default: the latest).
        #[arg(long)]
        version: Option<i64>,
        /// Print only the text of the version, nothing else.
        #[arg(long)]
        content: bool,
    },
    /// Bank a passed run's output as a new asset, or as a new version of one.
    Bank {
        /// Run id.
        run: i64,
        /// Add it as a new version of this asset.
        #[arg(long)]
        into: Option<i64>,
        /// Title of a new asset.
        #[arg(long)]
        title: Option<String>,
    },
    /// Send a draft for review.
    Submit {
        /// Asset id.
        id: i64,
        /// A note for the reviewer.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Approve an asset in review (needs approve_assets; the owner's by default).
    Approve {
        /// Asset id.
        id: i64,
        /// A note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reject an asset in review, saying why.
    Reject {
        /// Asset id.
        id: i64,
        /// Why (required).
        #[arg(long)]
        note: String,
    },
    /// Make an approved asset a canon block.
    Promote {
        /// Asset id.
        id: i64,
        /// A tag for the canon block (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Make it a secondary block instead of canon.
        #[arg(long)]
        secondary: bool,
    },
    /// Write an approved asset into a project folder (needs file_write for the path).
    #[command(
        after_help = "An existing file is never replaced silently: on a terminal you are asked; otherwise pass --overwrite.\n\nExample:\n  atelier assets export 3 --project novel --to notes/mara.md"
    )]
    Export {
        /// Asset id.
        id: i64,
        /// The project's name.
        #[arg(long)]
        project: String,
        /// Where, relative to the project folder.
        #[arg(long = "to", value_name = "PATH")]
        path: String,
        /// Replace a file already there without asking.
        #[arg(long)]
        overwrite: bool,
    },
    /// Where an asset came from (runs, task, canon, documents) and what was built on it.
    Lineage {
        /// Asset id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Runs, newest first.
    Ls {
        /// How many (1–500).
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: u32,
    },
    /// One run: each step's prompt, model, output, gates, tokens and cost.
    Show {
        /// Run id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Add Atelier to a chat host's MCP servers (its own configuration file; everything else
    /// in it is kept, a backup is made, and nothing changes when it is already there).
    #[command(after_help = "Example: atelier mcp install --host claude-desktop --dry-run")]
    Install {
        /// The host.
        #[arg(long, value_enum)]
        host: McpHost,
        /// Show the file it would write, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The chat hosts `atelier mcp install` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum McpHost {
    /// Claude Desktop.
    ClaudeDesktop,
    /// Cursor.
    Cursor,
    /// Claude Code (user scope).
    ClaudeCode,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Add a folder as a project (then run `atelier ingest NAME`).
    Add {
        /// The folder.
        path: PathBuf,
        /// Its name in the vault (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// Also turn watching on.
        #[arg(long)]
        watch: bool,
    },
    /// List projects.
    Ls,
    /// Remove a project from the vault (its files are never touched).
    Rm {
        /// Project name.
        name: String,
    },
    /// Turn watching on or off for a project.
    Watch {
        /// Project name.
        name: String,
        /// on or off.
        #[arg(value_enum)]
        state: OnOff,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for.
    pub query: String,
    /// text (any of the words, BM25 over title, aliases, headings, path, tags and body;
    /// "quoted phrases" whole), vector (meaning) or hybrid (both, fused).
    #[arg(long, value_parser = named::<SearchMode>(), default_value = "hybrid")]
    pub mode: SearchMode,
    /// Every word and phrase must occur (words are otherwise any-of).
    #[arg(long)]
    pub all_words: bool,
    /// One result per passage (default: one per document, its other passages beneath).
    #[arg(long)]
    pub passages: bool,
    /// Show why each result ranks where it does: by words, meaning, fusion, and by field.
    #[arg(long)]
    pub explain: bool,
    /// Only this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only paths matching this glob.
    #[arg(long)]
    pub path: Option<String>,
    /// Only documents with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only documents of this kind.
    #[arg(long, value_parser = named::<DocumentKind>())]
    pub kind: Option<DocumentKind>,
    /// How many results (1–100).
    #[arg(short = 'n', long, default_value_t = 10)]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// recall@1, recall@5 and MRR@10 of each search mode and of three naive baselines (FTS5 with
    /// OR, MiniLM cosine, the two fused by RRF) on labelled questions over ingested documents.
    #[command(
        after_help = "LABELS is a text file: one question per line, a tab, then the paths (relative to the\nproject root) of the pages that answer it, separated by spaces; `#` starts a comment line.\n\nExample: atelier eval search labels.tsv --project docs"
    )]
    Search {
        /// The labelled questions.
        labels: PathBuf,
        /// The project they are about (all projects when omitted).
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DocCommand {
    /// A document's title, tags, frontmatter, links and backlinks (and an attachment's media
    /// type, size, dimensions, duration or pages).
    Show {
        /// Document id, PROJECT:PATH, or a path.
        document: String,
    },
    /// A document's text as the vault holds it, passage by passage (a PDF's, page by page).
    Text {
        /// Document id, PROJECT:PATH, or a path.
        document: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Add a rule: on a change to a matching path, ingest it or create a task.
    #[command(
        after_help = "Examples:\n  atelier hooks add novel 'drafts/**' ingest\n  atelier hooks add novel 'inbox/*.md' task --template 'Triage {name}'"
    )]
    Add {
        /// Project name.
        project: String,
        /// Paths, as a glob relative to the project root.
        glob: String,
        /// ingest or task.
        #[arg(value_parser = named::<HookAction>())]
        action: HookAction,
        /// For task: the title; {path} and {name} are filled in.
        #[arg(long)]
        template: Option<String>,
    },
    /// List rules.
    Ls {
        /// Only this project's.
        project: Option<String>,
    },
    /// Remove a rule.
    Rm {
        /// Rule id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ThreadCommand {
    /// Start a thread.
    #[command(
        after_help = "Example: atelier threads new \"Pilot episode\" --with mcp:claude-desktop"
    )]
    New {
        /// What it is about.
        title: String,
        /// Who else takes part (mcp:<client>, role:<name>, owner); repeatable.
        #[arg(long = "with")]
        with: Vec<String>,
    },
    /// Post a message (give --key to make a retry safe: the same key answers the first post).
    Post {
        /// The thread id.
        thread: i64,
        /// The message.
        body: String,
        /// An idempotency key of your choosing.
        #[arg(long)]
        key: Option<String>,
    },
    /// Messages after a seq (by default after your cursor), oldest first.
    Read {
        /// The thread id.
        thread: i64,
        /// Only messages after this seq.
        #[arg(long)]
        after: Option<i64>,
        /// At most this many (1-500).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Mark everything up to SEQ as handled (your cursor only moves forward).
    Ack {
        /// The thread id.
        thread: i64,
        /// The last seq handled.
        seq: i64,
    },
    /// Threads, newest first, with participants and your unread count.
    Ls,
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task.
    #[command(
        after_help = "Example: atelier tasks add \"Outline chapter 3\" --parent 1 --role writer --depends-on 2"
    )]
    Add(TaskAddArgs),
    /// List tasks.
    Ls(TaskLsArgs),
    /// Show the task tree (all of it, or under ROOT).
    Tree {
        /// Show only this task and its subtree.
        root: Option<i64>,
    },
    /// Show the plan under ROOT: its tasks by step, what waits on what, and the critical
    /// path (the chain of work that decides when ROOT can finish).
    Plan {
        /// The plan's root task.
        root: i64,
    },
    /// Show one task with its dependencies, dependents and blockers.
    Show {
        /// Task id.
        id: i64,
    },
    /// Change a task's title, description, role, play or priority.
    Edit(TaskEditArgs),
    /// Move a task (and its subtree) under another task, or to the top level.
    Move {
        /// Task id.
        id: i64,
        /// The new parent.
        #[arg(long, conflicts_with = "top", required_unless_present = "top")]
        under: Option<i64>,
        /// Make it a top-level task.
        #[arg(long)]
        top: bool,
    },
    /// Add or remove a dependency.
    #[command(subcommand)]
    Dep(DepCommand),
    /// pending → active.
    Activate(TransitionArgs),
    /// active → in_progress (every dependency must be completed).
    Start(TransitionArgs),
    /// in_progress → completed (every subtask must be completed or cancelled).
    Complete(TransitionArgs),
    /// in_progress → failed.
    Fail(TransitionArgs),
    /// in_progress → blocked.
    Block(TransitionArgs),
    /// blocked → in_progress.
    Unblock(TransitionArgs),
    /// failed → pending.
    Reset(TransitionArgs),
    /// Any open state → cancelled.
    Cancel(TransitionArgs),
    /// Tasks ready to start: pending or active with every dependency completed.
    Next,
    /// Work through ROOT's subtree with the scheduler: each ready task runs its play (or, with
    /// only a role, an ad-hoc request from its title and description) as its role, several at
    /// once; a failure blocks what depends on it; outputs that need approval wait for it. Follows
    /// it until nothing more can move without a person.
    #[command(after_help = "Example: atelier tasks run 1 --concurrency 3

If the app or `atelier serve` holds the vault, its workers do the work and this follows it.")]
    Run {
        /// The root task.
        root: i64,
        /// Tasks at once when this process does the work (default: orchestration.concurrency
        /// in config.yaml).
        #[arg(long)]
        concurrency: Option<u32>,
    },
    /// Orchestrations, newest first, with where their tasks are.
    Orchestrations,
    /// Stop an orchestration: nothing new starts; runs going finish.
    Stop {
        /// The orchestration id.
        orchestration: i64,
    },
}

#[derive(Debug, Args)]
pub struct TaskAddArgs {
    /// One line, up to 200 characters.
    pub title: String,
    /// Longer text.
    #[arg(long, short = 'd', default_value = "")]
    pub description: String,
    /// Parent task id.
    #[arg(long)]
    pub parent: Option<i64>,
    /// Role to assign (see `atelier roles ls`).
    #[arg(long)]
    pub role: Option<String>,
    /// Play to run.
    #[arg(long)]
    pub play: Option<String>,
    /// 0 (lowest) to 100.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i64,
    /// A task this one waits on (repeatable).
    #[arg(long = "depends-on", value_name = "ID")]
    pub depends_on: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct TaskLsArgs {
    /// Only tasks in this state (repeatable).
    #[arg(long = "state", value_parser = named::<TaskState>())]
    pub states: Vec<TaskState>,
    /// Only children of this task.
    #[arg(long)]
    pub parent: Option<i64>,
    /// Only top-level tasks.
    #[arg(long)]
    pub roots: bool,
    /// Only tasks assigned to this role.
    #[arg(long)]
    pub role: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskEditArgs {
    /// Task id.
    pub id: i64,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New description.
    #[arg(long, short = 'd')]
    pub description: Option<String>,
    /// New role.
    #[arg(long, conflicts_with = "no_role")]
    pub role: Option<String>,
    /// Remove the role.
    #[arg(long)]
    pub no_role: bool,
    /// New play.
    #[arg(long, conflicts_with = "no_play")]
    pub play: Option<String>,
    /// Remove the play.
    #[arg(long)]
    pub no_play: bool,
    /// New priority, 0 to 100.
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum DepCommand {
    /// Make ID wait on ON.
    Add {
        /// The waiting task.
        id: i64,
        /// The task it waits on.
        on: i64,
    },
    /// Stop ID waiting on ON.
    Rm {
        /// The waiting task.
        id: i64,
        /// The task it waited on.
        on: i64,
    },
}

#[derive(Debug, Args)]
pub struct TransitionArgs {
    /// Task id.
    pub id: i64,
    /// Why (kept for block, fail and cancel).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List roles as a hierarchy.
    Ls,
    /// Show one role, with inherited fields marked.
    Show {
        /// Role name.
        name: String,
    },
    /// Validate a directory of role files (default: the vault's roles/) over the shipped roles.
    Check {
        /// Directory of *.yaml role files.
        dir: Option<PathBuf>,
    },
}

/// Where a body comes from.
#[derive(Debug, Args)]
pub struct BodyArgs {
    /// The text itself.
    #[arg(long, conflicts_with = "file")]
    pub body: Option<String>,
    /// Read the text from this file (`-` for standard input).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CanonCommand {
    /// Create a canon block.
    Add {
        /// Title.
        title: String,
        #[command(flatten)]
        body: BodyArgs,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// canon (authoritative, default) or secondary.
        #[arg(long, value_parser = named::<Tier>(), default_value = "canon")]
        tier: Tier,
    },
    /// List canon blocks.
    Ls {
        /// Only blocks with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only blocks of this tier.
        #[arg(long, value_parser = named::<Tier>())]
        tier: Option<Tier>,
    },
    /// Show one canon block.
    Show {
        /// Block id.
        id: i64,
    },
    /// Change a canon block.
    Edit {
        /// Block id.
        id: i64,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        body: BodyArgs,
        /// Replace the tags with these (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Remove every tag.
        #[arg(long, conflicts_with = "tags")]
        no_tags: bool,
        /// New tier.
        #[arg(long, value_parser = named::<Tier>())]
        tier: Option<Tier>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShapeCommand {
    /// Create a shape.
    #[command(
        after_help = "Example: atelier shapes add scene-outline --kind markdown --file outline.md"
    )]
    Add {
        /// Name: lowercase letters, digits, `_`, `-`.
        name: String,
        /// markdown (its `## ` headings are required sections) or json_schema.
        #[arg(long, value_parser = named::<ShapeKind>())]
        kind: ShapeKind,
        #[command(flatten)]
        body: BodyArgs,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List shapes.
    Ls,
    /// Show one shape.
    Show {
        /// Shape name.
        name: String,
    },
    /// Change a shape.
    Edit {
        /// Shape name.
        name: String,
        /// New kind.
        #[arg(long, value_parser = named::<ShapeKind>())]
        kind: Option<ShapeKind>,
        #[command(flatten)]
        body: BodyArgs,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Give a principal a capability.
    #[command(
        after_help = "Example: atelier grants add mcp:claude-desktop tasks_write --for 7d\n\
Capabilities: vault_read vault_write tasks_write spawn_tasks run_plays bank_assets\n\
approve_assets file_read file_write code_execution manage_keys manage_grants read_audit"
    )]
    Add {
        /// `mcp:<client>` or `role:<name>`.
        principal: String,
        /// The capability.
        capability: String,
        /// A file glob (file_read and file_write only), e.g. `drafts/**/*.md`.
        #[arg(long)]
        scope: Option<String>,
        /// How long it lasts: 90s, 15m, 12h, 7d, 2w (default: until revoked).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
    },
    /// List grants, newest first, with whether each counts now.
    Ls,
    /// Take a grant back.
    Revoke {
        /// Grant id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest events, newest first.
    Tail {
        /// How many (1–1000).
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: u32,
    },
    /// Recompute the hash chain; names the first bad event if any.
    Verify,
}

/// Parses a core enum by its names (the ones files, JSON and the database use) and offers
/// them in help; `-` is taken for `_`, so `in-progress` and `json-schema` still work.
fn named<T: Named + Clone + Send + Sync>() -> NamedParser<T> {
    NamedParser(PhantomData)
}

/// The parser [`named`] makes.
#[derive(Clone)]
struct NamedParser<T>(PhantomData<T>);

impl<T: Named + Clone + Send + Sync> TypedValueParser for NamedParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        if let Some(found) = value
            .to_str()
            .and_then(|text| T::from_name(&text.replace('-', "_")))
        {
            return Ok(found);
        }
        // clap's own refusal, naming the possible values.
        let names = PossibleValuesParser::new(T::ALL.iter().map(|v| PossibleValue::new(v.name())));
        match names.parse_ref(cmd, arg, value) {
            Err(e) => Err(e),
            Ok(_) => Err(clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd)),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::ALL.iter().map(|v| PossibleValue::new(v.name())),
        ))
    }
}
