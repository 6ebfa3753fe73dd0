//! The kill switch: `halt` cancels every running run and provider call at once and refuses new
//! ones until the owner calls `resume`. The cancel happens before anything is written, so a
//! slow disk cannot delay it; the state and its audit event follow in one transaction. If that
//! transaction fails, what was in flight stays stopped, but the process takes a fresh token, so
//! memory and the database agree that the switch is off (and the caller hears why it is not
//! on): runs are never refused by a switch the database does not have.

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::providers::transport::Cancel;
use crate::vault::{Atelier, OpenVault, lock};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// The kill switch while it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SwitchState {
    /// Who turned it on.
    pub by: String,
    /// Why, in their words.
    pub reason: String,
    /// When.
    pub since: Millis,
}

/// Longest reason kept.
const MAX_REASON: usize = 500;

impl Atelier {
    /// Turns the kill switch on: every run and provider call stops within one poll interval,
    /// and none starts until [`Atelier::resume`]. Any principal that may read the vault may
    /// pull it; only the owner turns it off.
    pub fn halt(&self, who: &Principal, reason: &str) -> Result<SwitchState> {
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::VaultRead)?;
        lock(&open.kill).cancel();
        let reason: String = reason.trim().chars().take(MAX_REASON).collect();
        let recorded = self.write(who, Capability::VaultRead, |ctx| {
            if let Some(state) = switch_state(ctx.tx)? {
                return Ok((
                    state,
                    Entry {
                        action: "switch.on",
                        target: Target::KillSwitch,
                        summary: "pulled the kill switch again (it was on)".to_owned(),
                    },
                ));
            }
            ctx.tx.execute(
                "INSERT INTO kill_switch (id, principal, reason, sealed_at) VALUES (1, ?1, ?2, ?3)",
                params![who.as_text(), reason, ctx.now],
            )?;
            Ok((
                SwitchState {
                    by: who.as_text(),
                    reason: reason.clone(),
                    since: ctx.now,
                },
                Entry {
                    action: "switch.on",
                    target: Target::KillSwitch,
                    summary: if reason.is_empty() {
                        "pulled the kill switch".to_owned()
                    } else {
                        format!("pulled the kill switch: {reason}")
                    },
                },
            ))
        });
        if recorded.is_err() && !matches!(switch_state(&lock(&open.db)), Ok(Some(_))) {
            // Not recorded, so not on: what was running stays cancelled (its tokens are
            // children of the cancelled one), and new work sees the state the database has.
            *lock(&open.kill) = Cancel::default();
        }
        recorded
    }

    /// Turns the kill switch off. The owner's alone.
    pub fn resume(&self, who: &Principal) -> Result<()> {
        if *who != Principal::Owner {
            return Err(Error::Denied {
                principal: who.as_text(),
                capability: Capability::ManageGrants,
            });
        }
        let open = self.open_vault()?;
        self.write(who, Capability::ManageGrants, |ctx| {
            let n = ctx.tx.execute("DELETE FROM kill_switch", [])?;
            if n == 0 {
                return Err(Error::invalid("kill_switch", "is not on"));
            }
            Ok((
                (),
                Entry {
                    action: "switch.off",
                    target: Target::KillSwitch,
                    summary: "turned the kill switch off".to_owned(),
                },
            ))
        })?;
        *lock(&open.kill) = Cancel::default();
        Ok(())
    }

    /// The kill switch, when it is on. Needs `vault_read`.
    pub fn switch_state(&self, who: &Principal) -> Result<Option<SwitchState>> {
        self.read(who, Capability::VaultRead, |db, _| switch_state(db))
    }

    /// `SwitchedOff` while the switch is on.
    pub(crate) fn refuse_when_switched_off(&self, open: &OpenVault) -> Result<()> {
        match switch_state(&lock(&open.db))? {
            Some(state) => Err(Error::SwitchedOff {
                by: state.by,
                since: state.since,
            }),
            None => Ok(()),
        }
    }

    /// A token that the kill switch cancels (already cancelled while it is on).
    pub(crate) fn run_cancel_token(&self) -> Cancel {
        match self.open_vault() {
            Ok(open) => lock(&open.kill).child(),
            Err(_) => {
                let dead = Cancel::default();
                dead.cancel();
                dead
            }
        }
    }
}

pub(crate) fn switch_state(db: &Connection) -> Result<Option<SwitchState>> {
    Ok(db
        .query_row(
            "SELECT principal, reason, sealed_at FROM kill_switch WHERE id = 1",
            [],
            |r| {
                Ok(SwitchState {
                    by: r.get(0)?,
                    reason: r.get(1)?,
                    since: r.get(2)?,
                })
            },
        )
        .optional()?)
}
