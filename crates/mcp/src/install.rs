//! `atelier mcp install`: pointing a chat host at this binary by adding an `atelier` server to
//! the host's own configuration file, keeping everything else in it as it was (entries, their
//! order, the indentation), with a backup, and doing nothing when it is already there.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The hosts `install` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Claude Desktop: `claude_desktop_config.json` in its settings directory.
    ClaudeDesktop,
    /// Cursor: `~/.cursor/mcp.json` (every project).
    Cursor,
    /// Claude Code: `~/.claude.json` (the user scope).
    ClaudeCode,
}

impl Host {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Host::ClaudeDesktop => "claude-desktop",
            Host::Cursor => "cursor",
            Host::ClaudeCode => "claude-code",
        }
    }

    /// Its name for people.
    pub fn title(self) -> &'static str {
        match self {
            Host::ClaudeDesktop => "Claude Desktop",
            Host::Cursor => "Cursor",
            Host::ClaudeCode => "Claude Code",
        }
    }

    /// The host named `name`.
    pub fn from_name(name: &str) -> Option<Host> {
        [Host::ClaudeDesktop, Host::Cursor, Host::ClaudeCode]
            .into_iter()
            .find(|h| h.name() == name)
    }
}

/// The operating systems whose settings directories differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and other Unix.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The one this binary was built for.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(target_os = "windows") {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// Where `host` keeps its MCP servers on `os`, from the environment `env` (`HOME`, `APPDATA`,
/// `XDG_CONFIG_HOME`, `USERPROFILE`); `None` when the environment does not say.
pub fn config_path(host: Host, os: Os, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = || match os {
        Os::Windows => var("USERPROFILE").or_else(|| var("HOME")),
        _ => var("HOME"),
    };
    match host {
        Host::ClaudeDesktop => match os {
            Os::MacOs => home().map(|h| h.join("Library/Application Support/Claude")),
            Os::Windows => var("APPDATA").map(|a| a.join("Claude")),
            Os::Linux => var("XDG_CONFIG_HOME")
                .or_else(|| home().map(|h| h.join(".config")))
                .map(|c| c.join("Claude")),
        }
        .map(|dir| dir.join("claude_desktop_config.json")),
        Host::Cursor => home().map(|h| h.join(".cursor/mcp.json")),
        Host::ClaudeCode => home().map(|h| h.join(".claude.json")),
    }
}

/// The server entry: how the host starts `atelier mcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The `atelier` binary, absolute.
    pub command: String,
    /// Its arguments (`mcp`, and `--vault DIR` when one was named).
    pub args: Vec<String>,
}

impl Entry {
    fn to_json(&self, host: Host) -> Value {
        let mut entry = Map::new();
        if host == Host::ClaudeCode {
            entry.insert("type".to_owned(), Value::from("stdio"));
        }
        entry.insert("command".to_owned(), Value::from(self.command.clone()));
        entry.insert("args".to_owned(), Value::from(self.args.clone()));
        Value::Object(entry)
    }
}

/// Why a configuration file was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallError {
    /// The file is not JSON (or not an object at the top); `what` says where.
    NotJson { what: String },
    /// `mcpServers` is there but is not an object.
    ServersNotObject,
}

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstallError::NotJson { what } => write!(f, "it is not a JSON object ({what})"),
            InstallError::ServersNotObject => write!(f, "its `mcpServers` is not an object"),
        }
    }
}

/// The name of our entry under `mcpServers`.
pub const SERVER_NAME: &str = "atelier";

/// The file's text with our entry set, or `None` when it already holds exactly that entry.
/// `existing` is the file's text, `None` when there is no file.
pub fn merged(
    existing: Option<&str>,
    host: Host,
    entry: &Entry,
) -> Result<Option<String>, InstallError> {
    let text = existing.unwrap_or("").trim();
    let mut root: Map<String, Value> = if text.is_empty() {
        Map::new()
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(InstallError::NotJson {
                    what: "the top level is not an object".to_owned(),
                });
            }
            Err(e) => {
                return Err(InstallError::NotJson {
                    what: format!("line {}, column {}", e.line(), e.column()),
                });
            }
        }
    };
    let servers = root
        .entry("mcpServers".to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        return Err(InstallError::ServersNotObject);
    };
    let wanted = entry.to_json(host);
    if servers.get(SERVER_NAME) == Some(&wanted) {
        return Ok(None);
    }
    servers.insert(SERVER_NAME.to_owned(), wanted);
    let indent = existing.map_or_else(|| "  ".to_owned(), indent_of);
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&Value::Object(root), &mut serializer).map_err(|e| {
        InstallError::NotJson {
            what: e.to_string(),
        }
    })?;
    let mut text = String::from_utf8(out).unwrap_or_default();
    text.push('\n');
    Ok(Some(text))
}

/// The indentation of the first indented line of `text` (two spaces when there is none).
fn indent_of(text: &str) -> String {
    text.lines()
        .skip(1)
        .map(|line| {
            line.chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect::<String>()
        })
        .find(|indent| !indent.is_empty())
        .unwrap_or_else(|| "  ".to_owned())
}

/// The backup's path for `path` at `stamp` (a timestamp, for a name that does not clash).
pub fn backup_path(path: &Path, stamp: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}.atelier-backup-{stamp}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            command: "/opt/atelier/bin/atelier".to_owned(),
            args: vec!["mcp".to_owned()],
        }
    }

    #[test]
    fn each_host_has_its_file_on_each_os() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/mara".to_owned()),
            "APPDATA" => Some("C:\\\\Users\\\\mara\\\\AppData\\\\Roaming".to_owned()),
            "USERPROFILE" => Some("C:\\\\Users\\\\mara".to_owned()),
            _ => None,
        };
        assert_eq!(
            config_path(Host::ClaudeDesktop, Os::Linux, &env),
            Some(PathBuf::from(
                "/home/mara/.config/Claude/claude_desktop_config.json"
            ))
        );
        assert_eq!(
            config_path(Host::ClaudeDesktop, Os::MacOs, &env),
            Some(PathBuf::from(
                "/home/mara/Library/Application Support/Claude/claude_desktop_config.json"
            ))
        );
        assert!(
            config_path(Host::ClaudeDesktop, Os::Windows, &env)
                .is_some_and(|p| p.ends_with("claude_desktop_config.json"))
        );
        assert_eq!(
            config_path(Host::Cursor, Os::Linux, &env),
            Some(PathBuf::from("/home/mara/.cursor/mcp.json"))
        );
        assert_eq!(
            config_path(Host::ClaudeCode, Os::Linux, &env),
            Some(PathBuf::from("/home/mara/.claude.json"))
        );
        assert_eq!(config_path(Host::Cursor, Os::Linux, &|_| None), None);
    }

    #[test]
    fn the_entry_is_added_with_everything_else_kept_and_only_once() {
        let existing = "{\n    \"theme\": \"dark\",\n    \"mcpServers\": {\n        \"zeta\": {\"command\": \"z\"},\n        \"alpha\": {\"command\": \"a\"}\n    }\n}\n";
        let text = merged(Some(existing), Host::ClaudeDesktop, &entry())
            .expect("merge")
            .expect("changed");
        assert!(text.starts_with("{\n    \"theme\": \"dark\""), "{text}");
        let zeta = text.find("\"zeta\"").expect("zeta");
        let alpha = text.find("\"alpha\"").expect("alpha");
        let ours = text.find("\"atelier\"").expect("ours");
        assert!(zeta < alpha && alpha < ours, "order kept: {text}");
        assert_eq!(merged(Some(&text), Host::ClaudeDesktop, &entry()), Ok(None));
        let code = merged(None, Host::ClaudeCode, &entry())
            .expect("merge")
            .expect("new");
        assert!(code.contains("\"type\": \"stdio\""), "{code}");
    }

    #[test]
    fn files_that_are_not_json_objects_are_refused() {
        assert!(matches!(
            merged(Some("{ not json"), Host::Cursor, &entry()),
            Err(InstallError::NotJson { .. })
        ));
        assert!(matches!(
            merged(Some("[1, 2]"), Host::Cursor, &entry()),
            Err(InstallError::NotJson { .. })
        ));
        assert_eq!(
            merged(Some("{\"mcpServers\": []}"), Host::Cursor, &entry()),
            Err(InstallError::ServersNotObject)
        );
    }
}
