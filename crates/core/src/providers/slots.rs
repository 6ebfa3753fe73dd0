//! Per-provider limits on calls in flight (`orchestration.provider_limits`): a counting
//! semaphore per provider name, shared by every run of the process, so parallel tasks never
//! send a provider more calls at once than the user allowed.

use super::transport::Cancel;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The limits and the calls in flight, by provider name.
#[derive(Debug, Default)]
pub struct ProviderSlots {
    limits: BTreeMap<String, u32>,
    busy: Mutex<BTreeMap<String, u32>>,
    freed: Condvar,
}

/// A call in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot<'a> {
    slots: &'a ProviderSlots,
    provider: Option<String>,
}

impl ProviderSlots {
    /// Slots for these limits; providers not named are unbounded.
    pub fn new(limits: BTreeMap<String, u32>) -> Self {
        ProviderSlots {
            limits,
            busy: Mutex::new(BTreeMap::new()),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot of `provider`; `None` if `cancel` fires first.
    pub fn take(&self, provider: &str, cancel: &Cancel) -> Option<Slot<'_>> {
        let Some(limit) = self.limits.get(provider).copied() else {
            return Some(Slot {
                slots: self,
                provider: None,
            });
        };
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if cancel.is_cancelled() {
                return None;
            }
            let used = busy.entry(provider.to_owned()).or_insert(0);
            if *used < limit {
                *used += 1;
                return Some(Slot {
                    slots: self,
                    provider: Some(provider.to_owned()),
                });
            }
            // Wake now and then to see a cancel; a freed slot wakes at once.
            busy = self
                .freed
                .wait_timeout(busy, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(provider) = &self.provider {
            let mut busy = self
                .slots
                .busy
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(used) = busy.get_mut(provider) {
                *used = used.saturating_sub(1);
            }
            self.slots.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn no_more_than_the_limit_at_once_and_unlisted_providers_are_free() {
        let slots = Arc::new(ProviderSlots::new(BTreeMap::from([("a".to_owned(), 2)])));
        let inside = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (slots, inside, peak) = (slots.clone(), inside.clone(), peak.clone());
                std::thread::spawn(move || {
                    let _slot = slots.take("a", &Cancel::default()).expect("slot");
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        let free: Vec<_> = (0..5)
            .map(|_| slots.take("b", &Cancel::default()).expect("unbounded"))
            .collect();
        assert_eq!(free.len(), 5);
        let _held = (
            slots.take("a", &Cancel::default()),
            slots.take("a", &Cancel::default()),
        );
        let cancel = Cancel::default();
        cancel.cancel();
        assert!(slots.take("a", &cancel).is_none(), "a cancel ends the wait");
    }
}
