//! Keys, providers and routing. The key commands are write-only: a key goes in through
//! `key_set` and out only as a header of a provider request; nothing here returns one.

use super::store::{self, key_view, providers_in, routes_in};
pub use super::store::{KeyView, ProviderView, Route};
use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::error::{Error, Result};
use crate::providers::routing::ModelRef;
use crate::providers::transport::{self, Endpoint, Limits};
use crate::providers::{self, BUILTIN, ProviderError, WireFormat};
use crate::secrets::{Keychain, KeychainError, Secret};
use crate::vault::{Atelier, OpenVault, keychain_error, lock};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

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

impl Atelier {
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
            store::set_key_ref(ctx.tx, name, ctx.now)?;
            let view = key_view(ctx.tx, name)?;
            Ok((
                view,
                Entry {
                    action: "key.set",
                    target: Target::Key(name.to_string()),
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
                target: Target::Key(name.to_string()),
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
                target: Target::Key(name.to_string()),
                summary: format!("the keychain refused to {verb} the key {name}; nothing changed"),
            },
        );
    }

    /// Deletes the key `name` from the keychain and its reference. Needs `manage_keys`.
    pub fn key_remove(&self, who: &Principal, name: &str) -> Result<()> {
        check_name("name", name)?;
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::ManageKeys)?;
        if !store::key_ref_exists(&lock(&open.db), name)? {
            return Err(Error::not_found("key", name));
        }
        let keychain = self.keychain(open)?;
        let before = self.key_change_intent(who, &keychain, name, "remove")?;
        keychain.delete(name).map_err(|e| {
            self.key_change_failed(who, name, "remove");
            keychain_error(e)
        })?;
        let confirmed = self.write(who, Capability::ManageKeys, |ctx| {
            store::remove_key_ref(ctx.tx, name)?;
            Ok((
                (),
                Entry {
                    action: "key.remove",
                    target: Target::Key(name.to_string()),
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
            store::key_names(db)?
                .iter()
                .map(|n| key_view(db, n))
                .collect()
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
            store::mark_key_tested(ctx.tx, name, ctx.now, check.passed)?;
            Ok((
                (),
                Entry {
                    action: "key.test",
                    target: Target::Key(name.to_string()),
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
            store::set_provider(
                ctx.tx,
                &add.name,
                add.format,
                &base_url,
                add.key_ref.as_deref(),
                ctx.now,
            )?;
            let view = providers_in(ctx.tx)?
                .into_iter()
                .find(|p| p.name == add.name)
                .ok_or_else(|| Error::not_found("provider", &add.name))?;
            Ok((
                view,
                Entry {
                    action: "provider.add",
                    target: Target::Provider(add.name.to_string()),
                    summary: format!(
                        "set provider {} ({}, {base_url})",
                        add.name,
                        add.format.name()
                    ),
                },
            ))
        })
    }

    /// Removes an added provider (a replaced built-in returns to its default). Needs
    /// `manage_keys`.
    pub fn provider_remove(&self, who: &Principal, name: &str) -> Result<()> {
        check_name("name", name)?;
        self.write(who, Capability::ManageKeys, |ctx| {
            if !store::remove_provider(ctx.tx, name)? {
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
                    target: Target::Provider(name.to_string()),
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
                    target: Target::Provider(provider.name.to_string()),
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
    pub(crate) fn provider_key(
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
            store::set_route(ctx.tx, class, &route.models)?;
            Ok((
                Route {
                    task_class: class.to_owned(),
                    models: route.models.iter().map(|m| m.trim().to_owned()).collect(),
                },
                Entry {
                    action: "route.set",
                    target: Target::Route(class.to_string()),
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
