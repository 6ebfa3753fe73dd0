//! Who is calling: the host's `clientInfo.name` from `initialize`, as `mcp:<name>`.

use atelier_core::access::auth::Principal;
use rmcp::RoleServer;
use rmcp::service::Peer;

/// The longest client name kept.
const MAX_NAME: usize = 64;

/// The principal of the client on the other end: `mcp:<clientInfo.name>`, lower-cased, with
/// anything but ASCII letters, digits, `-`, `_` and `.` turned into `-` (so "Claude Desktop"
/// is `mcp:claude-desktop`, the name a person types in `atelier grants add`).
pub fn principal_of(peer: &Peer<RoleServer>) -> Principal {
    let name = peer
        .peer_info()
        .map(|info| info.client_info.name.clone())
        .unwrap_or_default();
    Principal::Mcp(clean(&name))
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
