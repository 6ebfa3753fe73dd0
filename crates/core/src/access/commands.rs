//! Grants, roles, audit and reindex commands.

use crate::access::audit::{self, Entry, Event, Target, Verification};
use crate::access::auth::{self, Capability, Grant, Principal};
use crate::access::grants;
use crate::access::roles::{Role, RoleProblem, RoleSet};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::vault;
use crate::vault::{Atelier, Projection, authorize_with, effective_grants, graph_error, lock};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A capability to give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct GrantAdd {
    /// Who receives it (not `owner`, who holds everything).
    pub principal: Principal,
    /// What it allows.
    pub capability: Capability,
    /// A file glob, for `file_read` and `file_write` only.
    #[serde(default)]
    pub scope: Option<String>,
    /// How long it lasts, in ms from now; `None` until revoked.
    #[serde(default)]
    pub expires_in: Option<Millis>,
}

/// A grant and whether it counts now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GrantView {
    /// The grant.
    #[serde(flatten)]
    pub grant: Grant,
    /// `live`, `expired` or `revoked`.
    pub status: String,
}

/// What `reindex` rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReindexReport {
    /// Task nodes in the new graph.
    pub tasks: i64,
    /// Dependency edges in the new graph.
    pub dependencies: i64,
    /// Document nodes in the new graph.
    pub documents: i64,
    /// Points in the new vector index.
    pub vectors: i64,
    /// The outbox id it reflects.
    pub applied_through: i64,
}

/// Longest grant, in ms: ten years.
const MAX_GRANT_MS: Millis = 10 * 366 * 86_400_000;

impl Atelier {
    /// Gives `principal` a capability, optionally scoped and expiring. Needs `manage_grants`.
    pub fn grant_add(&self, who: &Principal, add: GrantAdd) -> Result<GrantView> {
        self.write(who, Capability::ManageGrants, |ctx| {
            if add.principal == Principal::Owner {
                return Err(Error::invalid(
                    "principal",
                    "the owner already holds every capability",
                ));
            }
            if let Some(scope) = &add.scope {
                if !add.capability.is_scopable() {
                    return Err(Error::invalid(
                        "scope",
                        format!(
                            "only file_read and file_write take a scope, not {}",
                            add.capability
                        ),
                    ));
                }
                if !auth::scope_is_valid(scope) {
                    return Err(Error::invalid("scope", "not a valid file glob"));
                }
            }
            let expires_at = match add.expires_in {
                None => None,
                Some(ms) if (1..=MAX_GRANT_MS).contains(&ms) => Some(ctx.now + ms),
                Some(_) => {
                    return Err(Error::invalid(
                        "expires_in",
                        "must be between 1 ms and ten years",
                    ));
                }
            };
            let id = grants::insert(
                ctx.tx,
                &add.principal,
                add.capability,
                add.scope.as_deref(),
                expires_at,
                ctx.now,
            )?;
            let grant = grants::get(ctx.tx, id)?;
            let entry = Entry {
                action: "grant.add",
                target: Target::Grant(id),
                summary: format!(
                    "gave {} {}{}{}",
                    add.principal,
                    add.capability,
                    add.scope
                        .as_ref()
                        .map(|s| format!(" on {s}"))
                        .unwrap_or_default(),
                    expires_at
                        .map(|at| format!(" until {}", crate::clock::format_rfc3339(at)))
                        .unwrap_or_default()
                ),
            };
            Ok((view(grant, ctx.now), entry))
        })
    }

    /// Every grant, newest first, with whether it counts now. Needs `manage_grants`.
    pub fn grant_list(&self, who: &Principal) -> Result<Vec<GrantView>> {
        let now = self.now();
        self.read(who, Capability::ManageGrants, |db, _| {
            Ok(grants::all(db)?.into_iter().map(|g| view(g, now)).collect())
        })
    }

    /// Takes a grant back. Needs `manage_grants`.
    pub fn grant_revoke(&self, who: &Principal, id: i64) -> Result<GrantView> {
        self.write(who, Capability::ManageGrants, |ctx| {
            if id <= 0 {
                return Err(Error::invalid(
                    "id",
                    "a grant id is a positive whole number",
                ));
            }
            let grant = grants::get(ctx.tx, id)?;
            if grant.revoked_at.is_some() {
                return Err(Error::invalid(
                    "id",
                    format!("grant {id} is already revoked"),
                ));
            }
            grants::revoke(ctx.tx, id, ctx.now)?;
            let entry = Entry {
                action: "grant.revoke",
                target: Target::Grant(id),
                summary: format!("took {} back from {}", grant.capability, grant.principal),
            };
            Ok((view(grants::get(ctx.tx, id)?, ctx.now), entry))
        })
    }

    /// The capabilities `who` holds now, each counted once; a scoped grant counts (it covers
    /// some paths). Needs nothing: anyone may know what they themselves may do. The MCP server
    /// lists the tools these allow.
    pub fn capabilities(&self, who: &Principal) -> Result<Vec<Capability>> {
        if *who == Principal::Owner {
            return Ok(Capability::ALL.to_vec());
        }
        let open = self.open_vault()?;
        let now = self.now();
        let db = lock(&open.db);
        let grants = effective_grants(&db, open, who)?;
        Ok(Capability::ALL
            .into_iter()
            .filter(|c| grants.iter().any(|g| g.capability == *c && g.is_live(now)))
            .collect())
    }

    /// Records a read a front made for `who` (a chat host's search, read or list), so the audit
    /// log shows what each host looked at, not only what it changed. Needs `vault_read`, which
    /// the read it records needed too; `summary` is cut to 200 characters.
    pub fn audit_read(&self, who: &Principal, target: &str, summary: &str) -> Result<()> {
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::VaultRead)?;
        let summary: String = summary.chars().take(200).collect();
        self.record_read(
            who,
            &Entry {
                action: "vault.read",
                target: Target::Read(target.chars().take(200).collect()),
                summary,
            },
        )
    }

    /// The loaded roles. Needs `vault_read`.
    pub fn role_list(&self, who: &Principal) -> Result<Vec<Role>> {
        self.read(who, Capability::VaultRead, |_, open| {
            Ok(open.roles.iter().cloned().collect())
        })
    }

    /// One role. Needs `vault_read`.
    pub fn role_show(&self, who: &Principal, name: &str) -> Result<Role> {
        self.read(who, Capability::VaultRead, |_, open| {
            open.roles
                .get(name)
                .cloned()
                .ok_or_else(|| Error::not_found("role", name))
        })
    }

    /// The newest `limit` (1–1000) audit events, newest first. Needs `read_audit`.
    pub fn audit_tail(&self, who: &Principal, limit: u32) -> Result<Vec<Event>> {
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 1000"));
        }
        self.read(who, Capability::ReadAudit, |db, _| {
            Ok(audit::tail(db, limit)?)
        })
    }

    /// Recomputes the audit chain and names the first bad seq. Needs `read_audit`.
    /// The chain is also checked against the head anchored in the OS keychain, when there is
    /// one (see [`audit`]): a rewritten or rolled-back log is named.
    pub fn audit_verify(&self, who: &Principal) -> Result<Verification> {
        let verification = self.read(who, Capability::ReadAudit, |db, _| Ok(audit::verify(db)?))?;
        let open = self.open_vault()?;
        let Some(anchor) = self.audit_anchor(open) else {
            return Ok(verification);
        };
        let db = lock(&open.db);
        Ok(audit::check_anchor(&db, verification, &anchor)?)
    }

    /// Rebuilds the graph from SQLite alone. Needs `vault_write`.
    pub fn reindex(&self, who: &Principal) -> Result<ReindexReport> {
        let open = self.open_vault()?;
        let report = {
            let db = lock(&open.db);
            authorize_with(&db, open, who, Capability::VaultWrite, self.now())?;
            let mut slot = lock(&open.graph);
            *slot = None;
            let rebuilt = Projection::rebuild(&db, &self.vault.join(vault::GRAPH_DIR))?;
            let (tasks, dependencies) = rebuilt.graph.counts().map_err(graph_error)?;
            let (documents, _, _) = rebuilt.graph.document_counts().map_err(graph_error)?;
            let applied_through = rebuilt.through;
            let rebuilt_mark = rebuilt.mark;
            *slot = Some(rebuilt);
            let mut vector_slot = lock(&open.vectors);
            *vector_slot = None;
            let vectors = crate::projection::vectors::Vectors::rebuild(
                &db,
                &self.vault.join(vault::VECTORS_DIR),
                rebuilt_mark,
            )?;
            let points = i64::try_from(vectors.count()?).unwrap_or(i64::MAX);
            *vector_slot = Some(vectors);
            ReindexReport {
                tasks,
                dependencies,
                documents,
                vectors: points,
                applied_through,
            }
        };
        // Recorded after the rebuild: the graph is not the truth, so the audit event records
        // that it was rebuilt, in its own transaction.
        self.write(who, Capability::VaultWrite, |_| {
            Ok((
                (),
                Entry {
                    action: "graph.reindex",
                    target: Target::Graph,
                    summary: format!(
                        "rebuilt the graph ({} tasks, {} dependencies, {} documents) and the vector index ({} vectors)",
                        report.tasks, report.dependencies, report.documents, report.vectors
                    ),
                },
            ))
        })?;
        Ok(report)
    }
}

/// Checks a directory of role files as it would overlay the shipped roles. Needs no vault.
pub fn roles_check(dir: &Path) -> std::result::Result<RoleSet, Vec<RoleProblem>> {
    RoleSet::check_dir(dir)
}

fn view(grant: Grant, now: Millis) -> GrantView {
    let status = if grant.revoked_at.is_some() {
        "revoked"
    } else if grant.is_live(now) {
        "live"
    } else {
        "expired"
    };
    GrantView {
        grant,
        status: status.to_owned(),
    }
}
