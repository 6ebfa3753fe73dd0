//! The vault's `config.yaml`: a few settings, strictly parsed.

use crate::access::auth::Capability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file name inside the vault.
pub const FILE_NAME: &str = "config.yaml";

/// Vault settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How deep task trees may nest (a root task is depth 1).
    #[serde(default = "default_depth_limit")]
    pub task_depth_limit: usize,
    /// Project files larger than this many bytes are skipped by ingest (and counted).
    #[serde(default = "default_max_file_bytes")]
    pub ingest_max_file_bytes: u64,
    /// Attachments read as bytes (images, audio, video, PDFs) larger than this are skipped by
    /// ingest (and counted).
    #[serde(default = "default_max_attachment_bytes")]
    pub ingest_max_attachment_bytes: u64,
    /// What every MCP client (`mcp:<name>`) may do without a grant of its own.
    #[serde(default = "default_mcp_capabilities")]
    pub mcp_default_capabilities: Vec<Capability>,
    /// How the scheduler works through task trees.
    #[serde(default)]
    pub orchestration: Orchestration,
}

/// The scheduler's limits and guards (`orchestration:` in `config.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Orchestration {
    /// Tasks run at once, across all orchestrations.
    pub concurrency: u32,
    /// Calls in flight at once per provider, by provider name; providers not listed are
    /// bounded only by `concurrency`.
    pub provider_limits: BTreeMap<String, u32>,
    /// Tries of one task before it fails (a provider error is retried with backoff).
    pub attempts: u32,
    /// Subtasks one decomposition may create.
    pub max_spawned_per_task: u32,
    /// Subtasks all decompositions of one orchestration may create.
    pub max_spawned_per_orchestration: u32,
    /// Runs the scheduler starts per minute, across all orchestrations.
    pub max_runs_per_minute: u32,
}

impl Default for Orchestration {
    fn default() -> Self {
        Orchestration {
            concurrency: 2,
            provider_limits: BTreeMap::new(),
            attempts: 3,
            max_spawned_per_task: 12,
            max_spawned_per_orchestration: 60,
            max_runs_per_minute: 60,
        }
    }
}

impl Orchestration {
    fn check(&self) -> Result<(), String> {
        let positive = [
            ("concurrency", self.concurrency),
            ("attempts", self.attempts),
            ("max_runs_per_minute", self.max_runs_per_minute),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("orchestration.{name} must be at least 1"));
        }
        if self.concurrency > 64 {
            return Err("orchestration.concurrency must be at most 64".to_owned());
        }
        if let Some((name, _)) = self.provider_limits.iter().find(|(_, v)| **v == 0) {
            return Err(format!(
                "orchestration.provider_limits.{name} must be at least 1 (remove the provider to leave it unbounded)"
            ));
        }
        Ok(())
    }
}

/// Hosts read the vault and the text of its project files by default: the reading a chat
/// host is for. Taking `file_read` out (and granting it scoped) limits a host to some files.
fn default_mcp_capabilities() -> Vec<Capability> {
    vec![Capability::VaultRead, Capability::FileRead]
}

fn default_depth_limit() -> usize {
    10
}

fn default_max_file_bytes() -> u64 {
    4 * 1024 * 1024
}

/// Large enough for photographs, scanned PDFs and short recordings; a long video is only
/// hashed and probed, but its bytes are read whole.
fn default_max_attachment_bytes() -> u64 {
    64 * 1024 * 1024
}

/// The most a user may set the depth limit to.
pub const MAX_DEPTH_LIMIT: usize = 100;

impl Default for Config {
    fn default() -> Self {
        Config {
            task_depth_limit: default_depth_limit(),
            ingest_max_file_bytes: default_max_file_bytes(),
            ingest_max_attachment_bytes: default_max_attachment_bytes(),
            mcp_default_capabilities: default_mcp_capabilities(),
            orchestration: Orchestration::default(),
        }
    }
}

impl Config {
    /// The text `init` writes: the defaults, explained.
    pub fn default_text() -> String {
        let orchestration = Orchestration::default();
        format!(
            "# Atelier vault settings. Unknown keys are refused, so typos do not pass silently.\n\
             \n\
             # How deep task trees may nest (a root task is depth 1), 1 to {MAX_DEPTH_LIMIT}.\n\
             task_depth_limit: {}\n\
             \n\
             # Project files larger than this (bytes) are skipped by ingest, and counted.\n\
             ingest_max_file_bytes: {}\n\
             # The same for attachments read as bytes: images, audio, video and PDFs.\n\
             ingest_max_attachment_bytes: {}\n\
             \n\
             # What every MCP client (a chat host, `mcp:<name>`) may do without a grant of its\n\
             # own. `[]` makes hosts ask for everything; grants add more per host.\n\
             mcp_default_capabilities: [{}]\n\
             \n\
             # The scheduler (`atelier tasks run`): tasks at once, calls in flight per provider\n\
             # (e.g. `provider_limits: {{openai: 2}}`), tries per task, and the guards against\n\
             # runaway decomposition: subtasks per decomposition and per orchestration, and\n\
             # runs started per minute.\n\
             orchestration:\n\
             \x20 concurrency: {}\n\
             \x20 provider_limits: {{}}\n\
             \x20 attempts: {}\n\
             \x20 max_spawned_per_task: {}\n\
             \x20 max_spawned_per_orchestration: {}\n\
             \x20 max_runs_per_minute: {}\n",
            default_depth_limit(),
            default_max_file_bytes(),
            default_max_attachment_bytes(),
            default_mcp_capabilities()
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", "),
            orchestration.concurrency,
            orchestration.attempts,
            orchestration.max_spawned_per_task,
            orchestration.max_spawned_per_orchestration,
            orchestration.max_runs_per_minute,
        )
    }

    /// Reads and checks `config.yaml` in `vault`. `Err` is a message for people.
    pub fn load(vault: &Path) -> Result<Config, String> {
        let path = vault.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(
                    "missing; restore it, or write the defaults with `atelier init --repair`"
                        .to_owned(),
                );
            }
            Err(e) => return Err(format!("cannot be read ({})", e.kind())),
        };
        Self::parse(&text)
    }

    /// Parses and checks config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        if !(1..=MAX_DEPTH_LIMIT).contains(&config.task_depth_limit) {
            return Err(format!(
                "task_depth_limit must be between 1 and {MAX_DEPTH_LIMIT}, not {}",
                config.task_depth_limit
            ));
        }
        config.orchestration.check()?;
        if config.ingest_max_file_bytes == 0 {
            return Err("ingest_max_file_bytes must be at least 1".to_owned());
        }
        if config.ingest_max_attachment_bytes == 0 {
            return Err("ingest_max_attachment_bytes must be at least 1".to_owned());
        }
        // A host holding these by default could give itself anything, or reach the keys.
        if let Some(c) = config
            .mcp_default_capabilities
            .iter()
            .find(|c| matches!(c, Capability::ManageGrants | Capability::ManageKeys))
        {
            return Err(format!(
                "mcp_default_capabilities cannot hold {c}: grant it to one host with `atelier grants add` instead"
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_bad_values_are_refused() {
        assert_eq!(
            Config::parse(&Config::default_text()),
            Ok(Config::default())
        );
        assert!(Config::parse("task_depth_limit: 0").is_err());
        assert!(Config::parse("task_depth_limit: -3").is_err());
        assert!(Config::parse("task_depth_limt: 5").is_err());
        assert!(Config::parse("task_depth_limit: [").is_err());
        assert_eq!(
            Config::parse("mcp_default_capabilities: []").map(|c| c.mcp_default_capabilities),
            Ok(vec![])
        );
        assert!(Config::parse("mcp_default_capabilities: [root]").is_err());
        assert!(Config::parse("mcp_default_capabilities: [vault_read, manage_grants]").is_err());
        assert_eq!(
            Config::parse("orchestration: {concurrency: 4, provider_limits: {stub: 1}}")
                .map(|c| (c.orchestration.concurrency, c.orchestration.provider_limits)),
            Ok((4, BTreeMap::from([("stub".to_owned(), 1)])))
        );
        assert!(Config::parse("orchestration: {concurrency: 0}").is_err());
        assert!(Config::parse("orchestration: {provider_limits: {stub: 0}}").is_err());
        assert!(Config::parse("orchestration: {paralel: 3}").is_err());
    }
}
