//! Principals, the closed set of capabilities, grants, and `authorize`: deny by default.

use crate::clock::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who is acting. Serialized as its text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
pub enum Principal {
    /// The desktop user; holds every capability.
    Owner,
    /// A chat host connected through the MCP sidecar, named by its client name.
    Mcp(String),
    /// An agent acting inside a run under a role.
    Role(String),
}

impl Principal {
    /// The stable text form: `owner`, `mcp:<client>`, `role:<name>`.
    pub fn as_text(&self) -> String {
        match self {
            Principal::Owner => "owner".to_owned(),
            Principal::Mcp(client) => format!("mcp:{client}"),
            Principal::Role(name) => format!("role:{name}"),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

/// Why a principal's text form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a principal is `owner`, `mcp:<client>` or `role:<name>` (names use letters, digits, `-`, `_`, `.`; at most 64)"
)]
pub struct PrincipalParseError;

fn valid_principal_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl FromStr for Principal {
    type Err = PrincipalParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "owner" {
            return Ok(Principal::Owner);
        }
        let (kind, name) = text.split_once(':').ok_or(PrincipalParseError)?;
        if !valid_principal_name(name) {
            return Err(PrincipalParseError);
        }
        match kind {
            "mcp" => Ok(Principal::Mcp(name.to_owned())),
            "role" => Ok(Principal::Role(name.to_owned())),
            _ => Err(PrincipalParseError),
        }
    }
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a principal may do. A closed set: anything else is refused where it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read anything in the vault.
    VaultRead,
    /// Change canon blocks, shapes and other vault content.
    VaultWrite,
    /// Create and change tasks.
    TasksWrite,
    /// Create subtasks from inside a run.
    SpawnTasks,
    /// Start plays.
    RunPlays,
    /// Bank run outputs as assets.
    BankAssets,
    /// Approve or reject assets.
    ApproveAssets,
    /// Read files in a project (scoped by glob).
    FileRead,
    /// Write files in a project (scoped by glob).
    FileWrite,
    /// Run code.
    CodeExecution,
    /// Set and remove provider keys.
    ManageKeys,
    /// Give and take capabilities.
    ManageGrants,
    /// Read the audit log.
    ReadAudit,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 13] = [
        Capability::VaultRead,
        Capability::VaultWrite,
        Capability::TasksWrite,
        Capability::SpawnTasks,
        Capability::RunPlays,
        Capability::BankAssets,
        Capability::ApproveAssets,
        Capability::FileRead,
        Capability::FileWrite,
        Capability::CodeExecution,
        Capability::ManageKeys,
        Capability::ManageGrants,
        Capability::ReadAudit,
    ];

    /// The stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Capability::VaultRead => "vault_read",
            Capability::VaultWrite => "vault_write",
            Capability::TasksWrite => "tasks_write",
            Capability::SpawnTasks => "spawn_tasks",
            Capability::RunPlays => "run_plays",
            Capability::BankAssets => "bank_assets",
            Capability::ApproveAssets => "approve_assets",
            Capability::FileRead => "file_read",
            Capability::FileWrite => "file_write",
            Capability::CodeExecution => "code_execution",
            Capability::ManageKeys => "manage_keys",
            Capability::ManageGrants => "manage_grants",
            Capability::ReadAudit => "read_audit",
        }
    }

    /// Whether grants of this capability may carry a file-glob scope.
    pub fn is_scopable(self) -> bool {
        matches!(self, Capability::FileRead | Capability::FileWrite)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Capability {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == text)
            .ok_or(())
    }
}

/// One capability given to one principal, optionally scoped to a file glob, until an expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Grant {
    /// Row id.
    pub id: i64,
    /// Who holds it.
    pub principal: Principal,
    /// What it allows.
    pub capability: Capability,
    /// A glob over project-relative paths; `None` allows every target.
    pub scope: Option<String>,
    /// When it stops counting; `None` means until revoked.
    pub expires_at: Option<Millis>,
    /// When it was given.
    pub created_at: Millis,
    /// When it was taken back, if it was.
    pub revoked_at: Option<Millis>,
}

impl Grant {
    /// Whether the grant counts at `now`: not revoked, not expired (expiry is exclusive).
    pub fn is_live(&self, now: Millis) -> bool {
        self.revoked_at.is_none_or(|revoked| now < revoked)
            && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// What is being asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The capability needed.
    pub capability: Capability,
    /// For scoped capabilities, the project-relative path acted on.
    pub target: Option<&'a str>,
}

/// Why `authorize` said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The capability that was missing.
    pub capability: Capability,
}

/// Decides whether `principal` may make `request` at `now` given its `grants`.
///
/// Deny by default. The owner holds everything. Anyone else needs a live grant of exactly the
/// capability for exactly that principal; a scoped grant only covers a target its glob matches,
/// and a target that climbs out of its root (`..`) or is absolute is never covered by one.
pub fn authorize(
    principal: &Principal,
    request: Request<'_>,
    grants: &[Grant],
    now: Millis,
) -> Result<(), Denial> {
    if *principal == Principal::Owner {
        return Ok(());
    }
    let covered = grants.iter().any(|grant| {
        grant.principal == *principal
            && grant.capability == request.capability
            && grant.is_live(now)
            && match (&grant.scope, request.target) {
                (None, _) => true,
                (Some(glob), Some(target)) => scope_covers(glob, target),
                (Some(_), None) => false,
            }
    });
    if covered {
        Ok(())
    } else {
        Err(Denial {
            capability: request.capability,
        })
    }
}

/// Whether a scope glob covers a project-relative target path.
fn scope_covers(glob: &str, target: &str) -> bool {
    if !is_contained_relative_path(target) {
        return false;
    }
    globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher().is_match(target))
        .unwrap_or(false)
}

/// A relative path with no `..`, no root, no backslash and no NUL: it cannot leave its root.
pub fn is_contained_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|part| part != "..")
}

/// Checks that a scope glob compiles; used when a grant is given.
pub fn scope_is_valid(glob: &str) -> bool {
    !glob.is_empty()
        && !glob.contains('\0')
        && globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_round_trip_and_refuse_malformed_text() {
        for text in ["owner", "mcp:claude-desktop", "role:writer"] {
            let parsed: Principal = text.parse().expect("valid");
            assert_eq!(parsed.as_text(), text);
        }
        for bad in [
            "",
            "Owner",
            "mcp:",
            "mcp",
            "user:x",
            "role:a b",
            "mcp:\0",
            "role:../x",
        ] {
            assert!(bad.parse::<Principal>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capabilities_round_trip_by_name() {
        for cap in Capability::ALL {
            assert_eq!(cap.name().parse::<Capability>(), Ok(cap));
        }
        assert!("root".parse::<Capability>().is_err());
    }
}
