//! Who may do what, asked of the database: stored grants, a role's own capabilities, the
//! capabilities `config.yaml` gives every MCP client, and the `file_read` scopes.

use super::{Atelier, OpenVault, lock};
use crate::access::auth::{self, Capability, Grant, Principal, Request};
use crate::clock::Millis;
use crate::error::{Error, Result};
use rusqlite::Connection;

impl Atelier {
    /// Checks `who` holds `need`, for commands that act outside SQLite before writing.
    pub(crate) fn authorize(
        &self,
        open: &OpenVault,
        who: &Principal,
        need: Capability,
    ) -> Result<()> {
        let db = lock(&open.db);
        authorize_with(&db, open, who, need, self.clock.now())
    }
}

/// The grants that count for `who`: stored grants, plus a role principal's own capabilities,
/// plus the capabilities `config.yaml` gives every MCP client (`mcp_default_capabilities`,
/// `vault_read` unless the owner changed it).
pub(crate) fn effective_grants(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
) -> Result<Vec<Grant>> {
    let mut grants = crate::access::grants::for_principal(conn, who)?;
    let standing: Vec<Capability> = match who {
        Principal::Role(name) => open
            .roles
            .get(name)
            .map(|role| role.capabilities.iter().copied().collect())
            .unwrap_or_default(),
        Principal::Mcp(_) => open.config.mcp_default_capabilities.clone(),
        Principal::Owner => Vec::new(),
    };
    grants.extend(standing.into_iter().map(|capability| Grant {
        id: 0,
        principal: who.clone(),
        capability,
        scope: None,
        expires_at: None,
        created_at: 0,
        revoked_at: None,
    }));
    Ok(grants)
}

pub(crate) fn authorize_with(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    need: Capability,
    now: Millis,
) -> Result<()> {
    authorize_request(conn, open, who, need, None, now)
}

/// Which documents' text `who` may read (`file_read`): `None` for every document (the owner,
/// or an unscoped grant), else the ids whose project-relative path a scoped grant's glob
/// covers. `Denied` without any `file_read`.
pub(crate) fn readable_documents(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    now: Millis,
) -> Result<Option<Vec<i64>>> {
    if authorize_with(conn, open, who, Capability::FileRead, now).is_ok() {
        return Ok(None);
    }
    let grants = effective_grants(conn, open, who)?;
    let scoped = grants
        .iter()
        .any(|g| g.capability == Capability::FileRead && g.scope.is_some() && g.is_live(now));
    if !scoped {
        return Err(Error::Denied {
            principal: who.as_text(),
            capability: Capability::FileRead,
        });
    }
    let documents: Vec<(i64, String)> = conn
        .prepare("SELECT id, path FROM documents ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(
        documents
            .into_iter()
            .filter(|(_, path)| {
                auth::authorize(
                    who,
                    Request {
                        capability: Capability::FileRead,
                        target: Some(path),
                    },
                    &grants,
                    now,
                )
                .is_ok()
            })
            .map(|(id, _)| id)
            .collect(),
    ))
}

/// Checks `who` holds a scoped capability (`file_read`, `file_write`) for a project-relative
/// `target` path: an unscoped grant covers every path, a scoped one only paths its glob matches.
pub(crate) fn authorize_target(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    need: Capability,
    target: &str,
    now: Millis,
) -> Result<()> {
    authorize_request(conn, open, who, need, Some(target), now)
}

pub(crate) fn authorize_request(
    conn: &Connection,
    open: &OpenVault,
    who: &Principal,
    need: Capability,
    target: Option<&str>,
    now: Millis,
) -> Result<()> {
    if *who == Principal::Owner {
        return Ok(());
    }
    let grants = effective_grants(conn, open, who)?;
    auth::authorize(
        who,
        Request {
            capability: need,
            target,
        },
        &grants,
        now,
    )
    .map_err(|denial| Error::Denied {
        principal: who.as_text(),
        capability: denial.capability,
    })
}
