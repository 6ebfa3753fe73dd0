//! Dispatches parsed arguments: finds the vault (opened here or reached through its owner) and
//! hands each command to its area's handler. No product logic here.

use crate::access::{grants, roles_check};
use crate::args::*;
use crate::catalog::{canon, shapes};
use crate::out::{Failure, Out};
use crate::render;
use crate::tasks::tasks;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::orchestration::workers::Workers;
use atelier_core::{Atelier, Error, OpenOptions, SealReason, clock, logfile, vault};
use std::sync::Arc;

pub fn run(cli: Cli) -> Result<(), Failure> {
    let out = Out { json: cli.json };
    let Some(dir) = vault::locate(cli.vault.as_deref(), &vault::process_env) else {
        return Err(out.usage(
            "vault",
            "no vault location: pass --vault DIR or set ATELIER_HOME",
        ));
    };
    let who: Principal =
        cli.acting_as
            .parse()
            .map_err(|e: atelier_core::access::auth::PrincipalParseError| {
                out.usage("--as", &e.to_string())
            })?;
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
        Command::Docs(DocCommand::Text { document }) => {
            let text = atelier.document_text(who, &document).map_err(fail)?;
            out.show(&text, crate::docs::render_text);
        }
        Command::Eval(EvalCommand::Search { labels, project }) => {
            crate::docs::eval_search(out, atelier, who, &labels, project)?;
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
        Command::Halt { reason } => crate::providers::halt(out, atelier, who, &reason)?,
        Command::Resume => crate::providers::resume(out, atelier, who)?,
        Command::Plays(command) => crate::plays::plays(out, atelier, who, command, dir)?,
        Command::Run(args) => crate::plays::run(out, atelier, who, args)?,
        Command::Runs(command) => crate::plays::runs(out, atelier, who, command)?,
        Command::Threads(command) => crate::threads::threads(out, atelier, who, command)?,
        Command::Assets(command) => crate::assets::assets(out, atelier, who, command)?,
        Command::Init { .. } | Command::Demo | Command::Mcp { .. } | Command::Serve => {}
    }
    Ok(())
}
