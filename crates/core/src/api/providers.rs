//! Keys, providers and routing. The key commands are write-only: a key goes in through
//! `key_set` and out only as a header of a provider request; nothing here returns one.

use super::{Atelier, OpenVault, lock};
use crate::audit::Entry;
use crate::auth::{Capability, Principal};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::providers::routing::ModelRef;
use crate::providers::transport::{self, Endpoint, Limits};
use crate::providers::{self, BUILTIN, ProviderError, WireFormat};
use crate::secrets::{Keychain, KeychainError, Secret};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A key reference (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeyView {
    /// The reference's name.
    pub name: String,
    /// When it was first set.
    pub created_at: Millis,
    /// When it was last set.
    pub updated_at: Millis,
    /// When it was last tested.
    pub tested_at: Option<Millis>,
    /// Whether the provider accepted it then.
    pub test_passed: Option<bool>,
    /// The providers that read it.
    pub used_by: Vec<String>,
}

/// A provider: built in, added, or a built-in replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProviderView {
    /// Its name, the `provider` of `provider:model`.
    pub name: String,
    /// Its wire format.
    pub format: WireFormat,
    /// Its base URL.
    pub base_url: String,
    /// The key reference it reads, if any.
    pub key_ref: Option<String>,
    /// Whether a key is set under that reference.
    pub key_set: bool,
    /// Built in (and not replaced).
    pub builtin: bool,
}

/// A provider to add or replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProviderAdd {
    /// Its name: lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// Its wire format.
    pub format: WireFormat,
    /// Its base URL.
    pub base_url: String,
    /// The key reference it reads; none for a local server without keys.
    #[serde(default)]
    pub key_ref: Option<String>,
}

/// The outcome of testing a provider (and its key) with an authenticated read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProviderCheck {
    /// The provider tested.
    pub provider: String,
    /// Whether it answered and accepted the key.
    pub passed: bool,
    /// How many models it lists, when it answered.
    pub models: Option<u32>,
    /// Why not, when it did not.
    pub error: Option<ProviderError>,
    /// How long it took.
    pub latency_ms: u32,
}

/// A task class's ordered models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `llm.planner`, `llm.creator`, `llm.judge`, …
    pub task_class: String,
    /// `provider:model`, tried in order.
    pub models: Vec<String>,
}

/// The name of a key reference or provider: short, plain, safe in a keychain and a URL.
fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "use 1 to 64 lowercase letters, digits, `-` or `_`",
        ))
    }
}

/// Longest key accepted: provider keys are under 200 characters; a megabyte pasted by mistake
/// is not a key.
const MAX_KEY: usize = 4096;

fn check_key(key: &Secret) -> Result<()> {
    let text = key.expose();
    if text.trim().is_empty() {
        return Err(Error::invalid("key", "is empty"));
    }
    if text.len() > MAX_KEY {
        return Err(Error::invalid("key", "is longer than 4096 characters"));
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "key",
            "contains spaces or control characters (a trailing newline?)",
        ));
    }
    Ok(())
}

/// Puts back the key that was under `name` before a change whose confirmation failed (none:
/// removes it), so the keychain again matches the log. Best effort: the audited intent says a
/// change was attempted either way.
fn restore_key(keychain: &Keychain, name: &str, before: Option<&Secret>) {
    let _ = match before {
        Some(secret) => keychain.set(name, secret),
        None => keychain.delete(name),
    };
}

fn keychain_error(e: KeychainError) -> Error {
    match e {
        KeychainError::Missing => Error::invalid("key", "no key is set under that name"),
        other => Error::KeychainUnavailable {
            reason: other.to_string(),
        },
    }
}

/// How long a keychain that failed its round trip is believed before it is asked again: a
/// keyring that was locked at first use and is unlocked later is found within this long, and
/// a missing one is not probed on every call.
pub const KEYCHAIN_RETRY_MS: Millis = 5_000;

/// The keychain as this process last found it.
#[derive(Debug, Default)]
pub(super) enum KeychainProbe {
    /// Not asked yet.
    #[default]
    Unchecked,
    /// It passed its round trip.
    Ready(Keychain),
    /// It failed, at this time.
    Failed {
        /// Why.
        error: KeychainError,
        /// When, on the vault's clock.
        at: Millis,
    },
}

impl KeychainProbe {
    /// Whether to probe now: never asked, or failed at least [`KEYCHAIN_RETRY_MS`] ago (or
    /// at a time after `now`, a clock set back).
    pub(super) fn due(&self, now: Millis) -> bool {
        match self {
            KeychainProbe::Unchecked => true,
            KeychainProbe::Ready(_) => false,
            KeychainProbe::Failed { at, .. } => {
                now < *at || now.saturating_sub(*at) >= KEYCHAIN_RETRY_MS
            }
        }
    }

    /// For `status`.
    pub(super) fn describe(&self) -> String {
        match self {
            KeychainProbe::Unchecked => "not checked yet".to_owned(),
            KeychainProbe::Ready(_) => "available".to_owned(),
            KeychainProbe::Failed { error, .. } => error.to_string(),
        }
    }
}

impl Atelier {
    /// The vault's keychain, after a write-read-delete round trip. Without a working keychain
    /// the core stays sealed for provider use: there is no plaintext fallback. A failure is
    /// remembered for [`KEYCHAIN_RETRY_MS`], then the keychain is asked again.
    pub(super) fn keychain(&self, open: &OpenVault) -> Result<Keychain> {
        let now = self.now();
        let mut probe = lock(&open.keychain);
        if probe.due(now) {
            *probe = match self.probe_keychain(open) {
                Ok(keychain) => KeychainProbe::Ready(keychain),
                Err(error) => KeychainProbe::Failed { error, at: now },
            };
        }
        match &*probe {
            KeychainProbe::Ready(keychain) => Ok(keychain.clone()),
            KeychainProbe::Failed { error, .. } => Err(keychain_error(error.clone())),
            KeychainProbe::Unchecked => Err(keychain_error(KeychainError::Unreachable(
                "not checked".to_owned(),
            ))),
        }
    }

    fn probe_keychain(&self, open: &OpenVault) -> std::result::Result<Keychain, KeychainError> {
        let id: std::result::Result<String, _> = lock(&open.db).query_row(
            "SELECT value FROM vault_meta WHERE key = 'vault_id'",
            [],
            |r| r.get(0),
        );
        let id = id.map_err(|_| KeychainError::Refused("the vault has no id".to_owned()))?;
        let keychain = Keychain::for_vault(&id);
        keychain.round_trip(&format!("probe-{}", self.now()))?;
        Ok(keychain)
    }

    /// Whether the keychain works, and why not: for `status`.
    pub fn keychain_status(&self) -> std::result::Result<(), String> {
        let open = self.open_vault().map_err(|e| e.to_string())?;
        self.keychain(open).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Stores `key` in the keychain under `name`. Needs `manage_keys`. The database records
    /// only the name.
    pub fn key_set(&self, who: &Principal, name: &str, key: Secret) -> Result<KeyView> {
        check_name("name", name)?;
        check_key(&key)?;
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::ManageKeys)?;
        let keychain = self.keychain(open)?;
        let before = self.key_change_intent(who, &keychain, name, "set")?;
        keychain.set(name, &key).map_err(|e| {
            self.key_change_failed(who, name, "set");
            keychain_error(e)
        })?;
        let confirmed = self.write(who, Capability::ManageKeys, |ctx| {
            ctx.tx.execute(
                "INSERT INTO key_refs (name, created_at, updated_at) VALUES (?1, ?2, ?2)
                 ON CONFLICT (name) DO UPDATE SET updated_at = ?2, tested_at = NULL, test_passed = NULL",
                params![name, ctx.now],
            )?;
            let view = key_view(ctx.tx, name)?;
            Ok((
                view,
                Entry {
                    action: "key.set",
                    target: format!("key:{name}"),
                    summary: format!("set the key {name}"),
                },
            ))
        });
        if confirmed.is_err() {
            restore_key(&keychain, name, before.as_ref());
        }
        confirmed
    }

    /// The first of a keychain change's three steps (intent, change, confirm): the intent is
    /// audited before the keychain is touched, so no change happens that the log does not
    /// name; answers the key there now, so a change whose confirmation fails can be put back.
    fn key_change_intent(
        &self,
        who: &Principal,
        keychain: &Keychain,
        name: &str,
        verb: &str,
    ) -> Result<Option<Secret>> {
        let before = match keychain.get(name) {
            Ok(secret) => Some(secret),
            Err(KeychainError::Missing) => None,
            Err(other) => return Err(keychain_error(other)),
        };
        self.record(
            who,
            &Entry {
                action: "key.intent",
                target: format!("key:{name}"),
                summary: format!("about to {verb} the key {name} in the keychain"),
            },
        )?;
        Ok(before)
    }

    /// Best effort: the log says the keychain refused the change its intent announced.
    fn key_change_failed(&self, who: &Principal, name: &str, verb: &str) {
        let _ = self.record(
            who,
            &Entry {
                action: "key.failed",
                target: format!("key:{name}"),
                summary: format!("the keychain refused to {verb} the key {name}; nothing changed"),
            },
        );
    }

    /// Deletes the key `name` from the keychain and its reference. Needs `manage_keys`.
    pub fn key_remove(&self, who: &Principal, name: &str) -> Result<()> {
        check_name("name", name)?;
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::ManageKeys)?;
        let known: bool = lock(&open.db)
            .query_row("SELECT 1 FROM key_refs WHERE name = ?1", [name], |_| {
                Ok(true)
            })
            .optional()?
            .unwrap_or(false);
        if !known {
            return Err(Error::not_found("key", name));
        }
        let keychain = self.keychain(open)?;
        let before = self.key_change_intent(who, &keychain, name, "remove")?;
        keychain.delete(name).map_err(|e| {
            self.key_change_failed(who, name, "remove");
            keychain_error(e)
        })?;
        let confirmed = self.write(who, Capability::ManageKeys, |ctx| {
            ctx.tx
                .execute("DELETE FROM key_refs WHERE name = ?1", [name])?;
            Ok((
                (),
                Entry {
                    action: "key.remove",
                    target: format!("key:{name}"),
                    summary: format!("removed the key {name}"),
                },
            ))
        });
        if confirmed.is_err() {
            restore_key(&keychain, name, before.as_ref());
        }
        confirmed
    }

    /// The key references. Needs `manage_keys`.
    pub fn keys_list(&self, who: &Principal) -> Result<Vec<KeyView>> {
        self.read(who, Capability::ManageKeys, |db, _| {
            let names: Vec<String> = db
                .prepare("SELECT name FROM key_refs ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            names.iter().map(|n| key_view(db, n)).collect()
        })
    }

    /// Tests the key `name` against the first provider that reads it, and records the result.
    /// Needs `manage_keys`.
    pub fn key_test(&self, who: &Principal, name: &str) -> Result<ProviderCheck> {
        check_name("name", name)?;
        let provider = self
            .providers_list(who)?
            .into_iter()
            .find(|p| p.key_ref.as_deref() == Some(name))
            .ok_or_else(|| {
                Error::invalid(
                    "name",
                    format!(
                        "no provider reads the key {name}; add one with `atelier providers add`"
                    ),
                )
            })?;
        let check = self.provider_test(who, &provider.name)?;
        self.write(who, Capability::ManageKeys, |ctx| {
            ctx.tx.execute(
                "UPDATE key_refs SET tested_at = ?2, test_passed = ?3 WHERE name = ?1",
                params![name, ctx.now, check.passed],
            )?;
            Ok((
                (),
                Entry {
                    action: "key.test",
                    target: format!("key:{name}"),
                    summary: format!(
                        "tested the key {name} with {}: {}",
                        provider.name,
                        if check.passed {
                            "accepted"
                        } else {
                            "not accepted"
                        }
                    ),
                },
            ))
        })?;
        Ok(check)
    }

    /// Every provider: built-ins, with the vault's additions and replacements. Needs
    /// `vault_read`.
    pub fn providers_list(&self, who: &Principal) -> Result<Vec<ProviderView>> {
        self.read(who, Capability::VaultRead, |db, _| providers_in(db))
    }

    /// Adds a provider, or replaces one of the same name. Needs `manage_keys`.
    pub fn provider_add(&self, who: &Principal, add: ProviderAdd) -> Result<ProviderView> {
        check_name("name", &add.name)?;
        if let Some(problem) = providers::base_url_problem(&add.base_url) {
            return Err(Error::invalid("base_url", problem));
        }
        if let Some(key) = &add.key_ref {
            check_name("key_ref", key)?;
        }
        let base_url = add.base_url.trim_end_matches('/').to_owned();
        self.write(who, Capability::ManageKeys, |ctx| {
            ctx.tx.execute(
                "INSERT INTO providers (name, format, base_url, key_ref, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (name) DO UPDATE SET format = ?2, base_url = ?3, key_ref = ?4, updated_at = ?5",
                params![add.name, add.format.name(), base_url, add.key_ref, ctx.now],
            )?;
            let view = providers_in(ctx.tx)?
                .into_iter()
                .find(|p| p.name == add.name)
                .ok_or_else(|| Error::not_found("provider", &add.name))?;
            Ok((
                view,
                Entry {
                    action: "provider.add",
                    target: format!("provider:{}", add.name),
                    summary: format!("set provider {} ({}, {base_url})", add.name, add.format.name()),
                },
            ))
        })
    }

    /// Removes an added provider (a replaced built-in returns to its default). Needs
    /// `manage_keys`.
    pub fn provider_remove(&self, who: &Principal, name: &str) -> Result<()> {
        check_name("name", name)?;
        self.write(who, Capability::ManageKeys, |ctx| {
            let n = ctx
                .tx
                .execute("DELETE FROM providers WHERE name = ?1", [name])?;
            if n == 0 {
                return Err(if BUILTIN.iter().any(|b| b.name == name) {
                    Error::invalid(
                        "name",
                        format!("{name} is built in and has not been replaced"),
                    )
                } else {
                    Error::not_found("provider", name)
                });
            }
            Ok((
                (),
                Entry {
                    action: "provider.remove",
                    target: format!("provider:{name}"),
                    summary: format!("removed provider {name}"),
                },
            ))
        })
    }

    /// Asks the provider for its model list with its key: it answers, and accepts the key.
    /// Needs `manage_keys`.
    pub fn provider_test(&self, who: &Principal, name: &str) -> Result<ProviderCheck> {
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::ManageKeys)?;
        self.refuse_when_switched_off(open)?;
        let provider = providers_in(&lock(&open.db))?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::not_found("provider", name))?;
        let key = self.provider_key(open, &provider)?;
        if let Some(reference) = &provider.key_ref {
            // The key leaves the machine: audited first, or it is not sent.
            self.record(
                who,
                &Entry {
                    action: "provider.test",
                    target: format!("provider:{}", provider.name),
                    summary: format!(
                        "sent the key {reference} to {} ({}) to list its models",
                        provider.name, provider.base_url
                    ),
                },
            )?;
        }
        let endpoint = Endpoint {
            format: provider.format,
            base_url: provider.base_url.clone(),
        };
        let limits = Limits {
            first_byte: Duration::from_secs(20),
            total: Duration::from_secs(30),
            ..Limits::default()
        };
        let started = Instant::now();
        let cancel = self.run_cancel_token();
        let answer = transport::list_models(&endpoint, key.as_ref(), &limits, &cancel);
        let latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        Ok(match answer {
            Ok(list) => ProviderCheck {
                provider: provider.name,
                passed: true,
                models: Some(model_count(&list)),
                error: None,
                latency_ms,
            },
            Err(error) => ProviderCheck {
                provider: provider.name,
                passed: false,
                models: None,
                error: Some(error),
                latency_ms,
            },
        })
    }

    /// The key a provider reads, from the keychain; `None` for keyless providers.
    pub(super) fn provider_key(
        &self,
        open: &OpenVault,
        provider: &ProviderView,
    ) -> Result<Option<Secret>> {
        let Some(reference) = &provider.key_ref else {
            return Ok(None);
        };
        match self.keychain(open)?.get(reference) {
            Ok(secret) => Ok(Some(secret)),
            Err(KeychainError::Missing) => Err(Error::invalid(
                "key",
                format!(
                    "provider {} reads the key {reference}, which is not set; set it with `atelier keys set {reference}`",
                    provider.name
                ),
            )),
            Err(other) => Err(keychain_error(other)),
        }
    }

    /// The routing table. Needs `vault_read`.
    pub fn routes_list(&self, who: &Principal) -> Result<Vec<Route>> {
        self.read(who, Capability::VaultRead, |db, _| routes_in(db))
    }

    /// Sets a task class's models (an empty list removes the class). Needs `manage_keys`.
    pub fn route_set(&self, who: &Principal, route: Route) -> Result<Route> {
        let class = route.task_class.trim();
        if !class.starts_with("llm.") || class.len() > 64 || class.len() < 5 {
            return Err(Error::invalid(
                "task_class",
                "write it `llm.<name>` (llm.planner, llm.creator, llm.judge, …)",
            ));
        }
        if route.models.len() > 16 {
            return Err(Error::invalid("models", "at most 16 models per class"));
        }
        for m in &route.models {
            if ModelRef::parse(m).is_none() {
                return Err(Error::invalid(
                    "models",
                    format!("`{m}` should be written `provider:model`"),
                ));
            }
        }
        self.write(who, Capability::ManageKeys, |ctx| {
            ctx.tx
                .execute("DELETE FROM routes WHERE task_class = ?1", [class])?;
            for (i, m) in route.models.iter().enumerate() {
                ctx.tx.execute(
                    "INSERT INTO routes (task_class, position, model) VALUES (?1, ?2, ?3)",
                    params![class, i64::try_from(i).unwrap_or(0), m.trim()],
                )?;
            }
            Ok((
                Route {
                    task_class: class.to_owned(),
                    models: route.models.iter().map(|m| m.trim().to_owned()).collect(),
                },
                Entry {
                    action: "route.set",
                    target: format!("route:{class}"),
                    summary: format!("routed {class} to {}", route.models.join(", ")),
                },
            ))
        })
    }
}

fn model_count(list: &serde_json::Value) -> u32 {
    let n = list
        .get("data")
        .or_else(|| list.get("models"))
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn key_view(db: &Connection, name: &str) -> Result<KeyView> {
    let (created_at, updated_at, tested_at, test_passed): (
        Millis,
        Millis,
        Option<Millis>,
        Option<bool>,
    ) = db
        .query_row(
            "SELECT created_at, updated_at, tested_at, test_passed FROM key_refs WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| Error::not_found("key", name))?;
    let used_by = providers_in(db)?
        .into_iter()
        .filter(|p| p.key_ref.as_deref() == Some(name))
        .map(|p| p.name)
        .collect();
    Ok(KeyView {
        name: name.to_owned(),
        created_at,
        updated_at,
        tested_at,
        test_passed,
        used_by,
    })
}

/// Built-ins overlaid with the vault's rows, by name.
pub(super) fn providers_in(db: &Connection) -> Result<Vec<ProviderView>> {
    let keys: Vec<String> = db
        .prepare("SELECT name FROM key_refs")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out: Vec<ProviderView> = BUILTIN
        .iter()
        .map(|b| ProviderView {
            name: b.name.to_owned(),
            format: b.format,
            base_url: b.base_url.to_owned(),
            key_ref: b.key_ref.map(str::to_owned),
            key_set: false,
            builtin: true,
        })
        .collect();
    let mut stmt =
        db.prepare("SELECT name, format, base_url, key_ref FROM providers ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    for row in rows {
        let (name, format, base_url, key_ref) = row?;
        let view = ProviderView {
            format: WireFormat::parse(&format).unwrap_or(WireFormat::OpenAi),
            name: name.clone(),
            base_url,
            key_ref,
            key_set: false,
            builtin: false,
        };
        match out.iter_mut().find(|p| p.name == name) {
            Some(slot) => *slot = view,
            None => out.push(view),
        }
    }
    for p in &mut out {
        p.key_set = p.key_ref.as_ref().is_some_and(|k| keys.contains(k));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(super) fn routes_in(db: &Connection) -> Result<Vec<Route>> {
    let mut stmt =
        db.prepare("SELECT task_class, model FROM routes ORDER BY task_class, position")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out: Vec<Route> = Vec::new();
    for row in rows {
        let (class, model) = row?;
        match out.last_mut() {
            Some(last) if last.task_class == class => last.models.push(model),
            _ => out.push(Route {
                task_class: class,
                models: vec![model],
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keychain failure at first use is not believed forever (it was cached until the
    /// process restarted, even after the keyring was unlocked): it is asked again once the
    /// bound has passed, and not on every call before that.
    #[test]
    fn a_failed_keychain_is_asked_again_after_the_bound() {
        let failed = KeychainProbe::Failed {
            error: KeychainError::Refused("locked".to_owned()),
            at: 1_000,
        };
        assert!(KeychainProbe::Unchecked.due(0));
        assert!(!failed.due(1_000));
        assert!(!failed.due(1_000 + KEYCHAIN_RETRY_MS - 1));
        assert!(failed.due(1_000 + KEYCHAIN_RETRY_MS));
        assert!(
            failed.due(999),
            "a clock set back does not freeze the failure"
        );
        assert!(!KeychainProbe::Ready(Keychain::for_vault("v")).due(i64::MAX));
        assert_eq!(failed.describe(), "the OS keychain refused access (locked)");
    }
}
