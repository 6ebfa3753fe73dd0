//! `atelier grants` and `atelier roles check`: who may do what.

use crate::args::GrantCommand;
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::{Capability, Principal};
use atelier_core::api::GrantAdd;
use atelier_core::api::wire::Api;
use atelier_core::clock;
use std::path::PathBuf;

pub fn roles_check(out: &Out, dir: PathBuf) -> Result<(), Failure> {
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

pub fn grants(
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
            let principal: Principal = principal.parse().map_err(
                |e: atelier_core::access::auth::PrincipalParseError| {
                    out.usage("principal", &e.to_string())
                },
            )?;
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
