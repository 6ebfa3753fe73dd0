//! Assets from the command line: list, show, bank, the approval moves, lineage, promotion and
//! export. An export that would replace a file asks first on a terminal.

use crate::args::*;
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{
    AssetDetail, AssetExport, AssetFilter, AssetLineage, AssetOrigin, AssetReviewRequest,
    AssetView, BankRequest, Exported, Promotion,
};
use atelier_core::assets::{AssetState, ReviewAction};
use atelier_core::catalog::Tier;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal};

pub fn assets(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: AssetCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        AssetCommand::Ls { state, task, from } => {
            let list = match from {
                Some(origin) => {
                    let origin = parse_origin(&origin).map_err(fail)?;
                    atelier.assets_from(who, origin).map_err(fail)?
                }
                None => atelier
                    .assets_list(who, &AssetFilter { state, task })
                    .map_err(fail)?,
            };
            out.show(&list, |l| asset_table(l));
        }
        AssetCommand::Show {
            id,
            version,
            content,
        } => {
            let detail = atelier.asset_show(who, id, version).map_err(fail)?;
            if content && !out.json {
                render::line(detail.content.trim_end());
            } else {
                out.show(&detail, render_detail);
            }
        }
        AssetCommand::Bank { run, into, title } => {
            let view = atelier
                .asset_bank(who, &BankRequest { run, into, title })
                .map_err(fail)?;
            out.show(&view, |a| {
                format!(
                    "Banked run {run} as asset {} version {} ({}). {}",
                    a.id,
                    a.version,
                    a.state.name(),
                    next_step(a)
                )
            });
        }
        AssetCommand::Submit { id, note } => {
            review(out, atelier, who, id, ReviewAction::Submit, note)?
        }
        AssetCommand::Approve { id, note } => {
            review(out, atelier, who, id, ReviewAction::Approve, note)?;
        }
        AssetCommand::Reject { id, note } => {
            review(out, atelier, who, id, ReviewAction::Reject, note)?
        }
        AssetCommand::Promote {
            id,
            tags,
            secondary,
        } => {
            let block = atelier
                .asset_promote(
                    who,
                    &Promotion {
                        asset: id,
                        tags,
                        tier: Some(if secondary {
                            Tier::Secondary
                        } else {
                            Tier::Canon
                        }),
                    },
                )
                .map_err(fail)?;
            out.show(&block, |b| {
                format!(
                    "Asset {id} is now canon block {} \"{}\" ({}).",
                    b.id,
                    b.title,
                    b.tier.name()
                )
            });
        }
        AssetCommand::Export {
            id,
            project,
            path,
            overwrite,
        } => {
            let mut export = AssetExport {
                asset: id,
                project,
                path,
                overwrite,
            };
            let exported = match atelier.asset_export(who, &export) {
                Err(e @ Error::FileExists { .. })
                    if !out.json && std::io::stdin().is_terminal() =>
                {
                    if ask(&format!("{e}\nReplace it? [y/N] ")) {
                        export.overwrite = true;
                        atelier.asset_export(who, &export).map_err(fail)?
                    } else {
                        render::error("Nothing was written.");
                        return Err(Failure::Refused);
                    }
                }
                other => other.map_err(fail)?,
            };
            out.show(&exported, render_exported);
        }
        AssetCommand::Lineage { id } => {
            let lineage = atelier.asset_lineage(who, id).map_err(fail)?;
            out.show(&lineage, render_lineage);
        }
    }
    Ok(())
}

fn review(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    asset: i64,
    action: ReviewAction,
    note: String,
) -> Result<(), Failure> {
    let view = atelier
        .asset_review(
            who,
            &AssetReviewRequest {
                asset,
                action,
                note,
            },
        )
        .map_err(|e| out.fail(&e))?;
    out.show(&view, |a| {
        format!(
            "Asset {} version {} is {}. {}",
            a.id,
            a.version,
            a.state.name(),
            next_step(a)
        )
    });
    Ok(())
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
fn ask(question: &str) -> bool {
    render::question(question);
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn parse_origin(text: &str) -> Result<AssetOrigin, Error> {
    let problem = || {
        Error::invalid(
            "from",
            format!("`{text}` should be canon:ID, document:ID, task:ID or run:ID"),
        )
    };
    let (kind, id) = text.split_once(':').ok_or_else(problem)?;
    let id: i64 = id.trim().parse().map_err(|_| problem())?;
    Ok(match kind.trim() {
        "canon" => AssetOrigin::Canon(id),
        "document" => AssetOrigin::Document(id),
        "task" => AssetOrigin::Task(id),
        "run" => AssetOrigin::Run(id),
        _ => return Err(problem()),
    })
}

/// What the person can do next with an asset in its state.
fn next_step(a: &AssetView) -> String {
    match a.state {
        AssetState::Draft => format!("Send it for review: atelier assets submit {}", a.id),
        AssetState::InReview => format!(
            "Read it: atelier assets show {0}; then atelier assets approve {0} (or reject {0} --note …)",
            a.id
        ),
        AssetState::Approved => format!(
            "Promote it to canon (atelier assets promote {0}) or export it (atelier assets export {0} --project P --to PATH)",
            a.id
        ),
        AssetState::Rejected => format!(
            "Bank a better run into it: atelier assets bank RUN --into {}",
            a.id
        ),
    }
}

fn asset_table(list: &[AssetView]) -> String {
    if list.is_empty() {
        return "No assets. A passed run banks one: atelier run PLAY -p name=value".to_owned();
    }
    list.iter()
        .map(|a| {
            format!(
                "{:>5}  {:<10} v{:<3} {:<17} {}{}",
                a.id,
                a.state.name(),
                a.version,
                a.media_type.name(),
                a.title,
                a.canon
                    .map_or_else(String::new, |c| format!("  (canon {c})"))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_detail(d: &AssetDetail) -> String {
    let a = &d.asset;
    let mut s = format!(
        "Asset {} — {}\n  state {}, {} version(s), {}",
        a.id,
        a.title,
        a.state.name(),
        d.versions.len(),
        a.media_type.name()
    );
    if let Some(task) = a.task {
        let _ = write!(s, ", for task {task}");
    }
    if let Some(canon) = a.canon {
        let _ = write!(s, ", promoted to canon block {canon}");
    }
    s.push_str("\nVersions:");
    for v in &d.versions {
        let _ = write!(
            s,
            "\n  v{:<3} {} bytes  blob {}  {}",
            v.version,
            v.size,
            &v.blob[..v.blob.len().min(12)],
            v.run.map_or_else(String::new, |r| format!(
                "from run {r} step {}",
                v.step.clone().unwrap_or_default()
            ))
        );
    }
    if !d.reviews.is_empty() {
        s.push_str("\nReviews:");
        for r in &d.reviews {
            let _ = write!(
                s,
                "\n  v{} {} → {} by {}{}",
                r.version,
                r.from,
                r.to,
                r.principal,
                if r.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.note)
                }
            );
        }
    }
    if !d.sources.is_empty() {
        let sources: Vec<String> = d
            .sources
            .iter()
            .filter(|s| s.version == d.shown_version)
            .map(|s| format!("{}:{}", s.kind, s.id))
            .collect();
        let _ = write!(
            s,
            "\nSources of v{}: {}",
            d.shown_version,
            sources.join(", ")
        );
    }
    let _ = write!(s, "\n\n── v{}\n{}", d.shown_version, d.content.trim_end());
    let _ = write!(s, "\n\n{}", next_step(a));
    s
}

fn render_exported(e: &Exported) -> String {
    format!(
        "{} {}/{} ({} bytes, asset {} version {}).",
        if e.replaced { "Replaced" } else { "Wrote" },
        e.project,
        e.path,
        e.bytes,
        e.asset,
        e.version
    )
}

fn render_lineage(l: &AssetLineage) -> String {
    let ids = |v: &[i64]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let runs: Vec<String> = l
        .runs
        .iter()
        .map(|r| format!("run {} ({})", r.run, r.play))
        .collect();
    format!(
        "Asset {}\n  produced by: {}\n  for task:    {}\n  canon:       {}\n  documents:   {}\n  promoted to: {}\n  built on assets:        {}\n  built upon by assets:   {}",
        l.asset,
        if runs.is_empty() {
            "none".to_owned()
        } else {
            runs.join(", ")
        },
        l.task.map_or_else(|| "none".to_owned(), |t| t.to_string()),
        ids(&l.canon),
        ids(&l.documents),
        l.promoted_to
            .map_or_else(|| "none".to_owned(), |c| format!("canon block {c}")),
        ids(&l.built_on),
        ids(&l.built_upon_by)
    )
}
