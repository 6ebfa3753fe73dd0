//! Provider keys: held only by the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows, through `keyring`), named in the database by a reference.
//!
//! A [`Secret`] has no `Display`, a `Debug` that prints nothing of it, and is read only by the
//! provider transport; no error built here contains one (keyring's errors can carry the stored
//! bytes, so they are turned into fixed sentences).

use crate::clock::Millis;

/// A key read from the keychain.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Wraps a key typed by the user.
    pub fn new(key: String) -> Secret {
        Secret(key)
    }

    /// The key itself, for the one header that carries it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The shortest run of a key that is removed when it appears in provider text. Providers echo
/// refused keys masked to a prefix and a suffix (`sk-proj-…abcd`); eight characters of a
/// random key identify it.
const SCRUB_RUN: usize = 8;

/// `text` with every run of at least eight characters of `secret` replaced by `[key]`.
pub fn scrub(text: &str, secret: &Secret) -> String {
    let key: Vec<char> = secret.0.chars().collect();
    if key.len() < SCRUB_RUN {
        return if secret.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&secret.0, "[key]")
        };
    }
    let mut out = text.to_owned();
    // Longest runs first, so a whole key becomes one marker rather than several.
    for len in (SCRUB_RUN..=key.len()).rev() {
        for start in 0..=key.len() - len {
            let run: String = key[start..start + len].iter().collect();
            if out.contains(&run) {
                out = out.replace(&run, "[key]");
            }
        }
    }
    out
}

/// Why the keychain cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    /// No keychain service answers (no Secret Service on the session bus, or none at all).
    #[error("no OS keychain is reachable ({0})")]
    Unreachable(String),
    /// The keychain answered but refused (locked, access denied).
    #[error("the OS keychain refused access ({0})")]
    Refused(String),
    /// No key is stored under the reference.
    #[error("no key is stored under that reference")]
    Missing,
}

/// The keychain, for one vault: entries are `(service, reference)` pairs.
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

impl Keychain {
    /// Entries of the vault whose id is `vault_id`, so two vaults never share a key by accident.
    pub fn for_vault(vault_id: &str) -> Keychain {
        Keychain {
            service: format!("atelier:{vault_id}"),
        }
    }

    fn entry(&self, reference: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, reference).map_err(|e| classify(&e))
    }

    /// Stores `secret` under `reference`, replacing what was there.
    pub fn set(&self, reference: &str, secret: &Secret) -> Result<(), KeychainError> {
        self.entry(reference)?
            .set_password(secret.expose())
            .map_err(|e| classify(&e))
    }

    /// Reads the key under `reference`.
    pub fn get(&self, reference: &str) -> Result<Secret, KeychainError> {
        self.entry(reference)?
            .get_password()
            .map(Secret)
            .map_err(|e| classify(&e))
    }

    /// Deletes the key under `reference`; a missing one is not an error.
    pub fn delete(&self, reference: &str) -> Result<(), KeychainError> {
        match self.entry(reference)?.delete_credential() {
            Ok(()) => Ok(()),
            Err(e) => match classify(&e) {
                KeychainError::Missing => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Writes, reads back and deletes a probe entry: the keychain works end to end.
    pub fn round_trip(&self, probe: &str) -> Result<(), KeychainError> {
        let reference = "atelier-probe";
        let secret = Secret(probe.to_owned());
        self.set(reference, &secret)?;
        let read = self.get(reference);
        let deleted = self.delete(reference);
        if read? != secret {
            return Err(KeychainError::Refused(
                "the probe read back differs from what was written".to_owned(),
            ));
        }
        deleted
    }
}

/// A fixed sentence per failure; keyring's own values may hold secret bytes.
fn classify(error: &keyring::Error) -> KeychainError {
    use keyring::Error as K;
    match error {
        K::NoEntry => KeychainError::Missing,
        K::NoDefaultStore => KeychainError::Unreachable("no credential store on this system".to_owned()),
        K::NoStorageAccess(_) => {
            KeychainError::Refused("the keychain is locked or access was denied".to_owned())
        }
        K::PlatformFailure(_) => KeychainError::Unreachable(
            "the credential service did not answer; on Linux a Secret Service (GNOME Keyring, KWallet) must run in the session".to_owned(),
        ),
        K::BadEncoding(_) | K::BadDataFormat(..) => {
            KeychainError::Refused("the stored key is not text".to_owned())
        }
        K::Ambiguous(_) => KeychainError::Refused("more than one key matches the reference".to_owned()),
        K::TooLong(..) | K::Invalid(..) => KeychainError::Refused("the reference is not accepted".to_owned()),
        _ => KeychainError::Refused("the keychain failed".to_owned()),
    }
}

/// How long a keychain that failed its round trip is believed before it is asked again: a
/// keyring that was locked at first use and is unlocked later is found within this long, and
/// a missing one is not probed on every call.
pub const KEYCHAIN_RETRY_MS: Millis = 5_000;

/// The keychain as this process last found it.
#[derive(Debug, Default)]
pub(crate) enum KeychainProbe {
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
    pub(crate) fn due(&self, now: Millis) -> bool {
        match self {
            KeychainProbe::Unchecked => true,
            KeychainProbe::Ready(_) => false,
            KeychainProbe::Failed { at, .. } => {
                now < *at || now.saturating_sub(*at) >= KEYCHAIN_RETRY_MS
            }
        }
    }

    /// For `status`.
    pub(crate) fn describe(&self) -> String {
        match self {
            KeychainProbe::Unchecked => "not checked yet".to_owned(),
            KeychainProbe::Ready(_) => "available".to_owned(),
            KeychainProbe::Failed { error, .. } => error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_nothing_of_a_secret() {
        let s = Secret::new("sk-canary-0123456789".to_owned());
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }

    #[test]
    fn scrub_removes_whole_keys_and_echoed_runs() {
        let s = Secret::new("sk-proj-ABCDEFGHIJKLMNOP".to_owned());
        assert_eq!(
            scrub("bad key sk-proj-ABCDEFGHIJKLMNOP!", &s),
            "bad key [key]!"
        );
        assert_eq!(
            scrub("Incorrect API key provided: sk-proj-A********MNOP", &s),
            "Incorrect API key provided: [key]********MNOP"
        );
        assert_eq!(scrub("…IJKLMNOP", &s), "…[key]");
        assert_eq!(scrub("nothing here", &s), "nothing here");
    }

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
