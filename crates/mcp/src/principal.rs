//! Who is calling: the host's `clientInfo.name`, as `mcp:<name>`. On protocol 2025-11-25 the
//! name comes once, with `initialize`; from 2026-07-28 on every request carries it in `_meta`.

use atelier_core::access::auth::Principal;
use rmcp::RoleServer;
use rmcp::model::Implementation;
use rmcp::service::{Peer, RequestContext};

/// The longest client name kept.
const MAX_NAME: usize = 64;

/// The principal of the client that sent this request: the name in the request's own `_meta`
/// (2026-07-28), else the one its session's `initialize` gave (2025-11-25).
pub fn principal_of(context: &RequestContext<RoleServer>) -> Principal {
    named(context.client_info().as_ref())
}

/// The principal of a session that began with `initialize`, for what the server sends it
/// unasked (list changes, resource updates).
pub fn principal_of_session(peer: &Peer<RoleServer>) -> Principal {
    named(peer.peer_info().as_ref().map(|info| &info.client_info))
}

/// `mcp:<name>`, lower-cased, with anything but ASCII letters, digits, `-`, `_` and `.` turned
/// into `-` (so "Claude Desktop" is `mcp:claude-desktop`, the name a person types in
/// `atelier grants add`); `mcp:unknown` for a client that gave no name.
fn named(info: Option<&Implementation>) -> Principal {
    Principal::Mcp(clean(info.map_or("", |info| info.name.as_str())))
}

/// `name` made safe as a principal name; `unknown` when nothing is left.
pub fn clean(name: &str) -> String {
    let clean: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(MAX_NAME)
        .collect();
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn client_names_become_principal_names() {
        assert_eq!(clean("Claude Desktop"), "claude-desktop");
        assert_eq!(clean("cursor-vscode"), "cursor-vscode");
        assert_eq!(clean(""), "unknown");
        assert_eq!(clean("a:b/c"), "a-b-c");
        assert_eq!(clean(&"x".repeat(200)).len(), 64);
    }
}
