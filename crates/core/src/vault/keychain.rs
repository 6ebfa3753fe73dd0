//! The vault's OS keychain, found by a write-read-delete round trip and remembered, a failure
//! for a bounded time ([`crate::secrets::KEYCHAIN_RETRY_MS`]); keychain errors as the core's errors.

use super::{Atelier, OpenVault, lock};
use crate::error::{Error, Result};
use crate::secrets::{Keychain, KeychainError, KeychainProbe};

/// A keychain failure as the core's error: a missing entry is bad input, anything else means
/// the keychain cannot be used.
pub(crate) fn keychain_error(e: KeychainError) -> Error {
    match e {
        KeychainError::Missing => Error::invalid("key", "no key is set under that name"),
        other => Error::KeychainUnavailable {
            reason: other.to_string(),
        },
    }
}

impl Atelier {
    /// The vault's keychain, after a write-read-delete round trip. Without a working keychain
    /// the core stays sealed for provider use: there is no plaintext fallback. A failure is
    /// remembered for [`crate::secrets::KEYCHAIN_RETRY_MS`], then the keychain is asked again.
    pub(crate) fn keychain(&self, open: &OpenVault) -> Result<Keychain> {
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
}
