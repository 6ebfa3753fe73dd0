//! Keys, providers, routes and the kill switch from the command line. A key is read from
//! standard input (echo off on a terminal) or from a named environment variable, never from an
//! argument, so it stays out of shell history and the process list.

use crate::args::*;
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{KeyView, ProviderAdd, ProviderCheck, ProviderView, Route};
use atelier_core::secrets::Secret;
use std::fmt::Write as _;
use std::io::BufRead;

pub fn keys(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: KeyCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        KeyCommand::Set { name, from_env } => {
            let key = match from_env {
                Some(var) => std::env::var(&var).map_err(|_| {
                    out.fail(&Error::invalid("from_env", format!("${var} is not set")))
                })?,
                None => read_key(&name).map_err(|e| out.fail(&e))?,
            };
            let view = atelier
                .key_set(who, &name, Secret::new(key))
                .map_err(fail)?;
            out.show(&view, |k| {
                format!(
                    "Stored the key {} in the OS keychain.{}",
                    k.name,
                    if k.used_by.is_empty() {
                        format!(
                            "\nNo provider reads it yet: atelier providers add NAME --format … --base-url … --key {}",
                            k.name
                        )
                    } else {
                        format!("\nRead by {}. Check it: atelier keys test {}", k.used_by.join(", "), k.name)
                    }
                )
            });
        }
        KeyCommand::Rm { name } => {
            atelier.key_remove(who, &name).map_err(fail)?;
            out.show(&serde_json::json!({"removed": name}), |_| {
                format!("Deleted the key {name} from the keychain.")
            });
        }
        KeyCommand::Test { name } => {
            let check = atelier.key_test(who, &name).map_err(fail)?;
            out.show(&check, render_check);
            if !check.passed {
                return Err(Failure::CheckFailed);
            }
        }
        KeyCommand::Ls => {
            let keys = atelier.keys_list(who).map_err(fail)?;
            out.show(&keys, |k| key_table(k));
        }
    }
    Ok(())
}

/// Reads one line from standard input, without echo when it is a terminal.
fn read_key(name: &str) -> Result<String, Error> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        render::error(&format!("Key for {name} (input hidden), then Enter:"));
    }
    let echo = if terminal { hide_input() } else { None };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(restore) = echo {
        restore();
        render::error("");
    }
    read.map_err(|e| Error::invalid("key", format!("could not be read ({})", e.kind())))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Turns terminal echo off; the returned closure turns it back on.
fn hide_input() -> Option<impl FnOnce()> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let before = tcgetattr(&stdin).ok()?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).ok()?;
    Some(move || {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &before);
    })
}

pub fn providers(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: ProviderCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        ProviderCommand::Ls => {
            let list = atelier.providers_list(who).map_err(fail)?;
            out.show(&list, |l| provider_table(l));
        }
        ProviderCommand::Add {
            name,
            format,
            base_url,
            key_ref,
        } => {
            let view = atelier
                .provider_add(
                    who,
                    ProviderAdd {
                        name,
                        format,
                        base_url,
                        key_ref,
                    },
                )
                .map_err(fail)?;
            out.show(&view, |p| {
                format!(
                    "Provider {} ({}, {}) is set. Check it: atelier providers test {}",
                    p.name,
                    p.format.name(),
                    p.base_url,
                    p.name
                )
            });
        }
        ProviderCommand::Rm { name } => {
            atelier.provider_remove(who, &name).map_err(fail)?;
            out.show(&serde_json::json!({"removed": name}), |_| {
                format!("Removed provider {name}.")
            });
        }
        ProviderCommand::Test { name } => {
            let check = atelier.provider_test(who, &name).map_err(fail)?;
            out.show(&check, render_check);
            if !check.passed {
                return Err(Failure::CheckFailed);
            }
        }
    }
    Ok(())
}

pub fn routes(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: RouteCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        RouteCommand::Ls => {
            let routes = atelier.routes_list(who).map_err(fail)?;
            out.show(&routes, |r| {
                if r.is_empty() {
                    "No routes. A step uses its role's models, else a route, else a local Ollama.\nSet one: atelier routes set llm.creator PROVIDER:MODEL …".to_owned()
                } else {
                    r.iter().map(|r| format!("{:<16} {}", r.task_class, r.models.join(" → "))).collect::<Vec<_>>().join("\n")
                }
            });
        }
        RouteCommand::Set { task_class, models } => {
            let route = atelier
                .route_set(who, Route { task_class, models })
                .map_err(fail)?;
            out.show(&route, |r| {
                if r.models.is_empty() {
                    format!("Removed the route for {}.", r.task_class)
                } else {
                    format!("{} tries {}.", r.task_class, r.models.join(", then "))
                }
            });
        }
    }
    Ok(())
}

pub fn halt(out: &Out, atelier: &dyn Api, who: &Principal, reason: &str) -> Result<(), Failure> {
    let state = atelier.halt(who, reason).map_err(|e| out.fail(&e))?;
    out.show(&state, |_| "The kill switch is on: every run and provider call stopped, and none starts until `atelier resume`.".to_owned());
    Ok(())
}

pub fn resume(out: &Out, atelier: &dyn Api, who: &Principal) -> Result<(), Failure> {
    atelier.resume(who).map_err(|e| out.fail(&e))?;
    out.show(&serde_json::json!({"kill_switch": "off"}), |_| {
        "The kill switch is off; runs may start again.".to_owned()
    });
    Ok(())
}

fn render_check(c: &ProviderCheck) -> String {
    match &c.error {
        None => format!(
            "{}: answered in {} ms and accepted the key ({} models listed).",
            c.provider,
            c.latency_ms,
            c.models.unwrap_or(0)
        ),
        Some(e) => format!("{}: {e}", c.provider),
    }
}

fn key_table(keys: &[KeyView]) -> String {
    if keys.is_empty() {
        return "No keys. Store one: atelier keys set NAME".to_owned();
    }
    let mut s = format!(
        "{:<16} {:<10} {:<12} {}",
        "NAME", "TESTED", "RESULT", "READ BY"
    );
    for k in keys {
        let _ = write!(
            s,
            "\n{:<16} {:<10} {:<12} {}",
            k.name,
            if k.tested_at.is_some() {
                "yes"
            } else {
                "never"
            },
            match k.test_passed {
                Some(true) => "accepted",
                Some(false) => "refused",
                None => "-",
            },
            if k.used_by.is_empty() {
                "-".to_owned()
            } else {
                k.used_by.join(", ")
            }
        );
    }
    s
}

fn provider_table(list: &[ProviderView]) -> String {
    let mut s = format!(
        "{:<12} {:<10} {:<44} {}",
        "NAME", "FORMAT", "BASE URL", "KEY"
    );
    for p in list {
        let key = match (&p.key_ref, p.key_set) {
            (None, _) => "none needed".to_owned(),
            (Some(k), true) => format!("{k} (set)"),
            (Some(k), false) => format!("{k} (not set)"),
        };
        let _ = write!(
            s,
            "\n{:<12} {:<10} {:<44} {}{}",
            p.name,
            p.format.name(),
            p.base_url,
            key,
            if p.builtin { "" } else { "  [yours]" }
        );
    }
    s
}
