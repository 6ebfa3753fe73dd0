//! Turns parsed arguments into `api` calls and prints the results. No product logic here.

use crate::args::*;
use crate::render;
use atelier_core::api::wire::Api;
use atelier_core::api::{
    CanonEdit, CanonFilter, GrantAdd, NewCanon, NewShape, NewTask, ShapeEdit, TaskDependency,
    TaskEdit, TaskMove, TaskTransition,
};
use atelier_core::auth::{Capability, Principal};
use atelier_core::catalog::{ShapeKind, Tier};
use atelier_core::tasks::{TaskAction, TaskFilter, TaskState};
use atelier_core::workers::Workers;
use atelier_core::{Atelier, Error, ErrorKind, OpenOptions, SealReason, clock, logfile, vault};
use serde::Serialize;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Why the command did not succeed; decides the exit code. The message is already printed.
#[derive(Debug)]
pub enum Failure {
    /// Internal failure (exit 1).
    Internal,
    /// The request was refused (exit 2).
    Refused,
    /// The vault is unavailable (exit 3).
    Unavailable,
    /// A check found problems (exit 4).
    CheckFailed,
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Internal => 1,
            Failure::Refused => 2,
            Failure::Unavailable => 3,
            Failure::CheckFailed => 4,
        })
    }
}

/// Output settings shared by every command.
#[derive(Debug)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or with `human` as text.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            render::json(value);
        } else {
            render::line(&human(value));
        }
    }

    /// Prints an error (JSON on stdout with --json, text on stderr otherwise) and classifies it.
    pub fn fail(&self, error: &Error) -> Failure {
        if self.json {
            // The error serializes as {"code", "details"}; the message is added beside them.
            let mut body = serde_json::to_value(error).unwrap_or_default();
            if let Some(fields) = body.as_object_mut() {
                fields.insert("message".to_owned(), error.to_string().into());
            }
            render::json(&serde_json::json!({ "error": body }));
        } else {
            render::error(&format!("error[{}]: {error}", error.code()));
        }
        match error.kind() {
            ErrorKind::Refused => Failure::Refused,
            ErrorKind::Unavailable => Failure::Unavailable,
            ErrorKind::Internal => Failure::Internal,
        }
    }

    fn usage(&self, field: &str, problem: &str) -> Failure {
        self.fail(&Error::invalid(field, problem))
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let out = Out { json: cli.json };
    let Some(dir) = vault::locate(cli.vault.as_deref(), &vault::process_env) else {
        return Err(out.usage(
            "vault",
            "no vault location: pass --vault DIR or set ATELIER_HOME",
        ));
    };
    let who: Principal = cli
        .acting_as
        .parse()
        .map_err(|e: atelier_core::auth::PrincipalParseError| out.usage("--as", &e.to_string()))?;
    match cli.command {
        Command::Init { repair } => {
            let report =
                Atelier::init(&dir, &clock::SystemClock, repair).map_err(|e| out.fail(&e))?;
            out.show(&report, render::init);
            Ok(())
        }
        Command::Demo => crate::demo::run(&out, &dir),
        Command::Mcp { action: None } => {
            logfile::install(&dir, "mcp");
            crate::mcp::serve(&dir)
        }
        Command::Serve => {
            logfile::install(&dir, "serve");
            crate::mcp::own(&dir)
        }
        Command::Mcp {
            action: Some(McpCommand::Install { host, dry_run }),
        } => crate::mcp::install(&out, host, dry_run, cli.vault.as_deref()),
        Command::Roles(RoleCommand::Check { dir: Some(check) }) => roles_check(&out, check),
        command => match reach(&dir) {
            Reached::Owner(owner) => dispatch(&out, &owner, &who, command, &dir),
            Reached::Here(atelier) => {
                // A command that runs a while holds the vault all that time; meanwhile it
                // serves the vault's socket, so other commands and chat hosts reach it here.
                let runs_long = matches!(
                    command,
                    Command::Watch { .. }
                        | Command::Ingest { .. }
                        | Command::Run(_)
                        | Command::Tasks(TaskCommand::Run { .. })
                );
                if runs_long {
                    logfile::install(&dir, "cli");
                }
                let _serving = (runs_long && atelier.status().sealed.is_none())
                    .then(|| crate::mcp::serve_meanwhile(Arc::clone(&atelier), &dir));
                // `tasks run` does the work here when this process holds the vault.
                let _workers = match &command {
                    Command::Tasks(TaskCommand::Run { concurrency, .. })
                        if atelier.status().sealed.is_none() =>
                    {
                        let count = concurrency.unwrap_or_else(|| atelier.concurrency());
                        Some(Workers::start(
                            Arc::clone(&atelier),
                            count,
                            Arc::new(|_| {}),
                        ))
                    }
                    _ => None,
                };
                dispatch(&out, atelier.as_ref(), &who, command, &dir)
            }
        },
    }
}

/// Where a command's calls go.
enum Reached {
    /// This process opened the vault (or found it sealed, and answers with why).
    Here(Arc<Atelier>),
    /// Another process holds the vault (the app, `atelier serve`, a sidecar) and serves it.
    Owner(atelier_core::remote::Remote),
}

/// The vault at `dir`: opened here, or its owner through the vault's socket. A vault that is
/// held and not served stays sealed here, so commands answer `VAULT_BUSY` as before.
fn reach(dir: &std::path::Path) -> Reached {
    let atelier = Atelier::open(OpenOptions::new(dir.to_path_buf()));
    if let Some(SealReason::VaultBusy { .. }) = atelier.status().sealed
        && let Some(owner) = atelier_core::remote::Remote::reach(dir)
    {
        return Reached::Owner(owner);
    }
    Reached::Here(Arc::new(atelier))
}

fn dispatch(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: Command,
    dir: &std::path::Path,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        Command::Status => {
            let status = atelier.status();
            out.show(&status, render::status);
            if status.sealed.is_some() {
                return Err(Failure::Unavailable);
            }
        }
        Command::Tasks(command) => tasks(out, atelier, who, command)?,
        Command::Roles(RoleCommand::Ls) => {
            let roles = atelier.role_list(who).map_err(fail)?;
            out.show(&roles, |r| render::role_tree(r));
        }
        Command::Roles(RoleCommand::Show { name }) => {
            let role = atelier.role_show(who, &name).map_err(fail)?;
            out.show(&role, render::role);
        }
        Command::Roles(RoleCommand::Check { dir: _ }) => {
            roles_check(out, dir.join(vault::ROLES_DIR))?;
        }
        Command::Canon(command) => canon(out, atelier, who, command)?,
        Command::Shapes(command) => shapes(out, atelier, who, command)?,
        Command::Grants(command) => grants(out, atelier, who, command)?,
        Command::Audit(AuditCommand::Tail { limit }) => {
            let events = atelier.audit_tail(who, limit).map_err(fail)?;
            out.show(&events, |e| render::audit(e));
        }
        Command::Audit(AuditCommand::Verify) => {
            let verification = atelier.audit_verify(who).map_err(fail)?;
            out.show(&verification, render::verification);
            if !verification.is_intact() {
                return Err(Failure::CheckFailed);
            }
        }
        Command::Reindex => {
            let report = atelier.reindex(who).map_err(fail)?;
            out.show(&report, |r| {
                format!(
                    "Rebuilt the graph from the database: {} tasks, {} dependencies, {} documents.\n\
                     Rebuilt the vector index: {} vectors (nothing re-embedded).",
                    r.tasks, r.dependencies, r.documents, r.vectors
                )
            });
        }
        Command::Projects(command) => crate::docs::projects(out, atelier, who, command)?,
        Command::Ingest { project } => crate::docs::ingest(out, atelier, who, project)?,
        Command::Search(args) => crate::docs::search(out, atelier, who, args)?,
        Command::Docs(DocCommand::Show { document }) => {
            let view = atelier.document_show(who, &document).map_err(fail)?;
            out.show(&view, crate::docs::render_document);
        }
        Command::Related { document, limit } => {
            let related = atelier.related(who, &document, limit).map_err(fail)?;
            out.show(&related, |r| crate::docs::render_related(r));
        }
        Command::Watch { projects, poll } => {
            crate::docs::watch(out, atelier, who, &projects, poll)?
        }
        Command::Hooks(command) => crate::docs::hooks(out, atelier, who, command)?,
        Command::Keys(command) => crate::providers::keys(out, atelier, who, command)?,
        Command::Providers(command) => crate::providers::providers(out, atelier, who, command)?,
        Command::Routes(command) => crate::providers::routes(out, atelier, who, command)?,
        Command::Seal { reason } => crate::providers::seal(out, atelier, who, &reason)?,
        Command::Unseal => crate::providers::unseal(out, atelier, who)?,
        Command::Plays(command) => crate::plays::plays(out, atelier, who, command, dir)?,
        Command::Run(args) => crate::plays::run(out, atelier, who, args)?,
        Command::Runs(command) => crate::plays::runs(out, atelier, who, command)?,
        Command::Threads(command) => crate::threads::threads(out, atelier, who, command)?,
        Command::Assets(command) => crate::assets::assets(out, atelier, who, command)?,
        Command::Init { .. } | Command::Demo | Command::Mcp { .. } | Command::Serve => {}
    }
    Ok(())
}

fn roles_check(out: &Out, dir: PathBuf) -> Result<(), Failure> {
    match atelier_core::api::roles_check(&dir) {
        Ok(roles) => {
            let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
            out.show(&serde_json::json!({ "ok": true, "roles": names }), |_| {
                format!("{} roles are valid: {}", names.len(), names.join(", "))
            });
            Ok(())
        }
        Err(problems) => {
            out.show(
                &serde_json::json!({ "ok": false, "problems": problems }),
                |_| {
                    problems
                        .iter()
                        .map(|p| format!("{}: {p}", dir.display()))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
            Err(Failure::Refused)
        }
    }
}

fn state(arg: StateArg) -> TaskState {
    match arg {
        StateArg::Pending => TaskState::Pending,
        StateArg::Active => TaskState::Active,
        StateArg::InProgress => TaskState::InProgress,
        StateArg::Blocked => TaskState::Blocked,
        StateArg::Completed => TaskState::Completed,
        StateArg::Failed => TaskState::Failed,
        StateArg::Cancelled => TaskState::Cancelled,
    }
}

fn tasks(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: TaskCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    let transition = |action: TaskAction, args: TransitionArgs| -> Result<(), Failure> {
        let task = atelier
            .task_transition(
                who,
                TaskTransition {
                    id: args.id,
                    action,
                    reason: args.reason,
                },
            )
            .map_err(fail)?;
        out.show(&task, |t| format!("Task {} is now {}.", t.id, t.state));
        Ok(())
    };
    match command {
        TaskCommand::Add(a) => {
            let task = atelier
                .task_create(
                    who,
                    NewTask {
                        title: a.title,
                        description: a.description,
                        parent: a.parent,
                        role: a.role,
                        play: a.play,
                        priority: a.priority,
                        depends_on: a.depends_on,
                    },
                )
                .map_err(fail)?;
            out.show(&task, |t| format!("Created task {}: {}", t.id, t.title));
        }
        TaskCommand::Ls(a) => {
            let filter = TaskFilter {
                states: a.states.into_iter().map(state).collect(),
                parent: a.parent,
                roots_only: a.roots,
                role: a.role,
            };
            let list = atelier.task_list(who, &filter).map_err(fail)?;
            out.show(&list, |l| render::task_table(l));
        }
        TaskCommand::Tree { root } => {
            let tree = atelier.task_tree(who, root).map_err(fail)?;
            out.show(&tree, |t| render::task_tree(t));
        }
        TaskCommand::Plan { root } => {
            let plan = atelier.task_plan(who, root).map_err(fail)?;
            out.show(&plan, render::task_plan);
        }
        TaskCommand::Show { id } => {
            let detail = atelier.task_show(who, id).map_err(fail)?;
            out.show(&detail, render::task_detail);
        }
        TaskCommand::Edit(a) => {
            let task = atelier
                .task_edit(
                    who,
                    TaskEdit {
                        id: a.id,
                        title: a.title,
                        description: a.description,
                        role: a.role,
                        clear_role: a.no_role,
                        play: a.play,
                        clear_play: a.no_play,
                        priority: a.priority,
                    },
                )
                .map_err(fail)?;
            out.show(&task, |t| format!("Updated task {}: {}", t.id, t.title));
        }
        TaskCommand::Move { id, under, top: _ } => {
            let task = atelier
                .task_move(who, TaskMove { id, parent: under })
                .map_err(fail)?;
            out.show(&task, |t| match t.parent_id {
                Some(p) => format!("Task {} is now under task {p}.", t.id),
                None => format!("Task {} is now a top-level task.", t.id),
            });
        }
        TaskCommand::Dep(DepCommand::Add { id, on }) => {
            let detail = atelier
                .task_dependency_add(who, TaskDependency { id, depends_on: on })
                .map_err(fail)?;
            out.show(&detail, |d| {
                format!("Task {} now waits on {:?}.", d.task.id, d.depends_on)
            });
        }
        TaskCommand::Dep(DepCommand::Rm { id, on }) => {
            let detail = atelier
                .task_dependency_remove(who, TaskDependency { id, depends_on: on })
                .map_err(fail)?;
            out.show(&detail, |d| {
                format!("Task {} now waits on {:?}.", d.task.id, d.depends_on)
            });
        }
        TaskCommand::Activate(a) => transition(TaskAction::Activate, a)?,
        TaskCommand::Start(a) => transition(TaskAction::Start, a)?,
        TaskCommand::Complete(a) => transition(TaskAction::Complete, a)?,
        TaskCommand::Fail(a) => transition(TaskAction::Fail, a)?,
        TaskCommand::Block(a) => transition(TaskAction::Block, a)?,
        TaskCommand::Unblock(a) => transition(TaskAction::Unblock, a)?,
        TaskCommand::Reset(a) => transition(TaskAction::Reset, a)?,
        TaskCommand::Cancel(a) => transition(TaskAction::Cancel, a)?,
        TaskCommand::Run { root, .. } => crate::orchestrate::run(out, atelier, who, root)?,
        TaskCommand::Orchestrations => crate::orchestrate::list(out, atelier, who)?,
        TaskCommand::Stop { orchestration } => {
            crate::orchestrate::stop(out, atelier, who, orchestration)?
        }
        TaskCommand::Next => {
            let ready = atelier.task_next(who).map_err(fail)?;
            out.show(&ready, |l| {
                if l.is_empty() {
                    "Nothing is ready: every open task waits on something.".to_owned()
                } else {
                    render::task_table(l)
                }
            });
        }
    }
    Ok(())
}

/// Reads a body from --body, --file PATH or --file - (standard input).
fn body(out: &Out, args: BodyArgs) -> Result<Option<String>, Failure> {
    match (args.body, args.file) {
        (Some(text), _) => Ok(Some(text)),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|_| out.usage("--file", "standard input is not readable UTF-8 text"))?;
            Ok(Some(text))
        }
        (None, Some(path)) => std::fs::read_to_string(&path).map(Some).map_err(|e| {
            out.usage(
                "--file",
                &format!("cannot read {}: {}", path.display(), e.kind()),
            )
        }),
        (None, None) => Ok(None),
    }
}

fn tier(arg: TierArg) -> Tier {
    match arg {
        TierArg::Canon => Tier::Canon,
        TierArg::Secondary => Tier::Secondary,
    }
}

fn canon(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: CanonCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        CanonCommand::Add {
            title,
            body: b,
            tags,
            tier: t,
        } => {
            let text = body(out, b)?
                .ok_or_else(|| out.usage("body", "give --body TEXT or --file PATH"))?;
            let block = atelier
                .canon_create(
                    who,
                    NewCanon {
                        title,
                        body: text,
                        tags,
                        tier: tier(t),
                    },
                )
                .map_err(fail)?;
            out.show(&block, |b| {
                format!("Created canon block {}: {}", b.id, b.title)
            });
        }
        CanonCommand::Ls { tag, tier: t } => {
            let list = atelier
                .canon_list(
                    who,
                    &CanonFilter {
                        tag,
                        tier: t.map(tier),
                    },
                )
                .map_err(fail)?;
            out.show(&list, |l| render::canon_table(l));
        }
        CanonCommand::Show { id } => {
            let block = atelier.canon_show(who, id).map_err(fail)?;
            out.show(&block, render::canon);
        }
        CanonCommand::Edit {
            id,
            title,
            body: b,
            tags,
            no_tags,
            tier: t,
        } => {
            let tags = if no_tags {
                Some(Vec::new())
            } else if tags.is_empty() {
                None
            } else {
                Some(tags)
            };
            let block = atelier
                .canon_edit(
                    who,
                    CanonEdit {
                        id,
                        title,
                        body: body(out, b)?,
                        tags,
                        tier: t.map(tier),
                    },
                )
                .map_err(fail)?;
            out.show(&block, |b| {
                format!("Updated canon block {}: {}", b.id, b.title)
            });
        }
    }
    Ok(())
}

fn kind(arg: KindArg) -> ShapeKind {
    match arg {
        KindArg::Markdown => ShapeKind::Markdown,
        KindArg::JsonSchema => ShapeKind::JsonSchema,
    }
}

fn shapes(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: ShapeCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        ShapeCommand::Add {
            name,
            kind: k,
            body: b,
            description,
        } => {
            let text = body(out, b)?
                .ok_or_else(|| out.usage("body", "give --body TEXT or --file PATH"))?;
            let shape = atelier
                .shape_create(
                    who,
                    NewShape {
                        name,
                        kind: kind(k),
                        description,
                        body: text,
                    },
                )
                .map_err(fail)?;
            out.show(&shape, |s| {
                format!("Created {} shape {}", s.kind.name(), s.name)
            });
        }
        ShapeCommand::Ls => {
            let list = atelier.shape_list(who).map_err(fail)?;
            out.show(&list, |l| render::shape_table(l));
        }
        ShapeCommand::Show { name } => {
            let shape = atelier.shape_show(who, &name).map_err(fail)?;
            out.show(&shape, render::shape);
        }
        ShapeCommand::Edit {
            name,
            kind: k,
            body: b,
            description,
        } => {
            let shape = atelier
                .shape_edit(
                    who,
                    ShapeEdit {
                        name,
                        kind: k.map(kind),
                        description,
                        body: body(out, b)?,
                    },
                )
                .map_err(fail)?;
            out.show(&shape, |s| format!("Updated shape {}", s.name));
        }
    }
    Ok(())
}

fn grants(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: GrantCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        GrantCommand::Add {
            principal,
            capability,
            scope,
            duration,
        } => {
            let principal: Principal =
                principal
                    .parse()
                    .map_err(|e: atelier_core::auth::PrincipalParseError| {
                        out.usage("principal", &e.to_string())
                    })?;
            let capability: Capability = capability.parse().map_err(|()| {
                out.usage(
                    "capability",
                    &format!(
                        "unknown capability `{capability}` (known: {})",
                        Capability::ALL.map(Capability::name).join(", ")
                    ),
                )
            })?;
            let expires_in = duration
                .map(|d| {
                    clock::parse_duration(&d).ok_or_else(|| {
                        out.usage("--for", "a duration such as 90s, 15m, 12h, 7d or 2w")
                    })
                })
                .transpose()?;
            let grant = atelier
                .grant_add(
                    who,
                    GrantAdd {
                        principal,
                        capability,
                        scope,
                        expires_in,
                    },
                )
                .map_err(fail)?;
            out.show(&grant, |g| {
                format!("Grant {}: {}", g.grant.id, render::grant_line(g))
            });
        }
        GrantCommand::Ls => {
            let list = atelier.grant_list(who).map_err(fail)?;
            out.show(&list, |l| render::grant_table(l));
        }
        GrantCommand::Revoke { id } => {
            let grant = atelier.grant_revoke(who, id).map_err(fail)?;
            out.show(&grant, |g| {
                format!("Revoked grant {}: {}", g.grant.id, render::grant_line(g))
            });
        }
    }
    Ok(())
}
