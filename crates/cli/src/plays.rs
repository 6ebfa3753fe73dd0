//! Plays, runs and their output from the command line: `run` streams the model's text as it
//! arrives and ends with the gate results.

use crate::args::*;
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{RunEvent, RunPreview, RunRequest, RunView};
use atelier_core::plays::Play;
use serde_json::{Map, Value};
use std::fmt::Write as _;

pub fn plays(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: PlayCommand,
    vault: &std::path::Path,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        PlayCommand::Ls => {
            let list = atelier.plays_list(who).map_err(fail)?;
            out.show(&list, |l| {
                l.iter()
                    .map(|p| format!("{:<22} {:<12} {}", p.name, p.domain, p.title))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        PlayCommand::Show { name } => {
            let play = atelier.play_show(who, &name).map_err(fail)?;
            out.show(&play, render_play);
        }
        PlayCommand::Check { dir } => {
            let dir = dir.unwrap_or_else(|| vault.join("plays"));
            match atelier_core::plays::PlaySet::load(Some(&dir)) {
                Ok(set) => {
                    let names: Vec<String> = set.iter().map(|p| p.play.name.clone()).collect();
                    out.show(&names, |n| {
                        format!("{} plays are valid: {}", n.len(), n.join(", "))
                    });
                }
                Err(problems) => {
                    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    out.show(&lines, |l| l.join("\n"));
                    return Err(Failure::CheckFailed);
                }
            }
        }
    }
    Ok(())
}

/// `name=value` pairs as parameters (values stay text; the core converts them to each
/// parameter's type).
fn parse_params(pairs: &[String]) -> Result<Map<String, Value>, Error> {
    let mut params = Map::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| {
            Error::invalid("param", format!("`{pair}` should be written name=value"))
        })?;
        params.insert(name.trim().to_owned(), Value::String(value.to_owned()));
    }
    Ok(params)
}

pub fn run(out: &Out, atelier: &dyn Api, who: &Principal, args: RunArgs) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    let request = RunRequest {
        play: args.play,
        params: parse_params(&args.params).map_err(fail)?,
        model: args.model,
        task: args.task,
        idempotency_key: None,
        adhoc: None,
    };
    if args.dry_run {
        let preview = atelier.run_preview(who, &request).map_err(fail)?;
        out.show(&preview, render_preview);
        return Ok(());
    }
    let json = out.json;
    let run = atelier
        .run_play(who, &request, &mut |event| {
            if json {
                return;
            }
            match event {
                RunEvent::Started { run } => render::error(&format!("run {run} started")),
                RunEvent::StepStarted { step, model, .. } => {
                    render::streamed(&format!("\n── {step} ({model})\n"));
                }
                RunEvent::Text { text, .. } => {
                    render::streamed(&text);
                }
                RunEvent::Retry {
                    model,
                    error,
                    wait_ms,
                    ..
                } => {
                    if wait_ms > 0 {
                        render::error(&format!(
                            "\n{model}: {error}; trying again in {:.1} s",
                            wait_ms as f64 / 1000.0
                        ));
                    } else {
                        render::error(&format!("\n{model}: {error}; trying the next model"));
                    }
                }
                RunEvent::StepFinished { step, gates, .. } => {
                    let mut text = String::from("\n");
                    for g in gates {
                        text.push_str(&format!(
                            "  {} {} — {}\n",
                            if g.passed { "✓" } else { "✗" },
                            g.expectation,
                            g.detail
                        ));
                    }
                    render::streamed(&text);
                    let _ = step;
                }
                RunEvent::Banked {
                    asset,
                    version,
                    state,
                    ..
                } => render::error(&format!(
                    "banked as asset {asset} version {version} ({}); see it: atelier assets show {asset}",
                    state.name()
                )),
                RunEvent::Finished { .. } => {}
            }
        })
        .map_err(fail)?;
    out.show(&run, render_run_summary);
    if run.status == "passed" {
        Ok(())
    } else {
        Err(Failure::CheckFailed)
    }
}

pub fn runs(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: RunsCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        RunsCommand::Ls { limit } => {
            let list = atelier.runs_list(who, limit).map_err(fail)?;
            out.show(&list, |l| {
                if l.is_empty() {
                    return "No runs yet. Start one: atelier run PLAY -p name=value".to_owned();
                }
                l.iter()
                    .map(|r| {
                        format!(
                            "{:>5}  {:<10} {:<22} {}",
                            r.id,
                            r.status,
                            r.play,
                            r.reason.clone().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        RunsCommand::Show { id } => {
            let run = atelier.run_show(who, id).map_err(fail)?;
            out.show(&run, render_run);
        }
    }
    Ok(())
}

fn dollars(micros: i64) -> String {
    format!("${:.4}", micros as f64 / 1_000_000.0)
}

fn render_run_summary(r: &RunView) -> String {
    format!(
        "\nRun {} {}{} — {} tokens in, {} out, {}. Details: atelier runs show {}",
        r.id,
        r.status,
        r.message
            .as_ref()
            .map_or_else(String::new, |m| format!(" ({m})")),
        r.input_tokens,
        r.output_tokens,
        dollars(r.cost_micros),
        r.id
    )
}

fn render_run(r: &RunView) -> String {
    let mut s = format!(
        "Run {} — {} {}",
        r.id,
        r.play,
        &r.play_version[..r.play_version.len().min(12)]
    );
    let _ = write!(
        s,
        "\nstatus {}{}",
        r.status,
        r.reason
            .as_ref()
            .map_or_else(String::new, |x| format!(" ({x})"))
    );
    let _ = write!(s, "\nparams {}", r.params);
    for step in &r.steps {
        let _ = write!(
            s,
            "\n\n── {} [{}] role {} model {} — {} in / {} out, {}, {} ms",
            step.step,
            step.status,
            step.role,
            step.model.as_deref().unwrap_or("-"),
            step.input_tokens,
            step.output_tokens,
            dollars(step.cost_micros),
            step.latency_ms.unwrap_or(0)
        );
        for a in &step.attempts {
            let _ = write!(s, "\n  call {}: {}", a.model, a.outcome);
        }
        if let Some(output) = &step.output {
            let _ = write!(s, "\n{output}");
        }
        for g in &step.gates {
            let _ = write!(
                s,
                "\n  {} {} — {}",
                if g.passed { "✓" } else { "✗" },
                g.expectation,
                g.detail
            );
        }
    }
    s
}

fn render_preview(p: &RunPreview) -> String {
    let mut s = format!(
        "Dry run of {} ({}): nothing is sent.",
        p.play,
        &p.play_version[..12]
    );
    for step in &p.steps {
        let models: Vec<String> = step
            .candidates
            .iter()
            .map(|c| c.model.to_string())
            .collect();
        let _ = write!(
            s,
            "\n\n══ step {} (role {}) — would try: {}",
            step.step,
            step.role,
            if models.is_empty() {
                "no model configured".to_owned()
            } else {
                models.join(", ")
            }
        );
        for section in &step.assembled.sections {
            let _ = write!(
                s,
                "\n── {} (≈{} tokens)\n{}",
                section.name, section.tokens, section.text
            );
        }
        if !step.assembled.cut.is_empty() {
            let _ = write!(
                s,
                "\n── cut to fit {} tokens:",
                step.assembled.budget_tokens
            );
            for c in &step.assembled.cut {
                let _ = write!(s, "\n  {} ({}, ≈{} tokens)", c.title, c.reference, c.tokens);
            }
        }
        let _ = write!(s, "\n── total ≈{} tokens", step.assembled.total_tokens);
    }
    s
}

fn render_play(p: &Play) -> String {
    let mut s = format!(
        "{} — {}\n{}\nversion {}",
        p.name, p.title, p.description, p.version
    );
    s.push_str("\n\nParameters:");
    for param in &p.parameters {
        let _ = write!(
            s,
            "\n  {} ({:?}{}) {}",
            param.name,
            param.kind,
            if param.required && param.default.is_none() {
                ", required"
            } else {
                ""
            },
            param.description
        );
    }
    s.push_str("\n\nSteps:");
    for step in &p.steps {
        let _ = write!(
            s,
            "\n  {} — role {}, {}{}; {} gates",
            step.id,
            step.role,
            step.task_class,
            if step.needs.is_empty() {
                String::new()
            } else {
                format!(", after {}", step.needs.join(", "))
            },
            step.expectations.len()
        );
    }
    let _ = write!(s, "\n\nApproval: {:?}", p.approval);
    s
}
