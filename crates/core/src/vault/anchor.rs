//! The thread that writes the audit head to the OS keychain, so a commit does not wait for the
//! keychain: a Secret Service round trip costs milliseconds (D-Bus, and the keyring's file
//! rewritten), more than the change it anchors. A burst of commits asks for many anchors; the
//! thread writes the newest head asked for, one keychain write at a time, and skips the ones a
//! newer head replaced. Dropping the writer (the vault handle closing: a command's end, the app
//! quitting) waits for the last head asked for, and so does `audit verify` ([`AnchorWriter::flush`]).

use crate::access::audit::Anchor;
use crate::secrets::{Keychain, Secret};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long closing or `flush` waits for the keychain; a Secret Service that hangs must not
/// hang the process with it (the anchor then stays behind, as when the keychain is missing).
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// The keychain reference the audit head is anchored under; the `.` keeps it apart from
/// every key name (`check_name` allows none).
pub(crate) const AUDIT_ANCHOR: &str = "atelier.audit-anchor";

/// The writer of one open vault; its thread starts with the first anchor asked for.
#[derive(Debug, Default)]
pub(crate) struct AnchorWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    /// The newest head asked for and not yet taken by the thread.
    next: Option<(Keychain, Anchor)>,
    /// How many anchors were asked for, and how many of those the thread has dealt with
    /// (written, failed or replaced by a newer one).
    asked: u64,
    done: u64,
    closing: bool,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // The pending head is replaced whole, so a panic elsewhere leaves it sound.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AnchorWriter {
    /// Asks for `head` to be written to `keychain`; returns at once.
    pub(crate) fn anchor(&self, keychain: Keychain, head: Anchor) {
        {
            let mut pending = self.shared.pending();
            pending.next = Some((keychain, head));
            pending.asked += 1;
        }
        self.shared.changed.notify_all();
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.is_none() {
            let shared = self.shared.clone();
            match std::thread::Builder::new()
                .name("atelier-anchor".to_owned())
                .spawn(move || write_anchors(&shared))
            {
                Ok(handle) => *thread = Some(handle),
                Err(e) => {
                    // Without the thread, write here: slower, never unanchored.
                    tracing::warn!(error = %e, "could not start the audit anchor thread");
                    let taken = self.shared.pending().next.take();
                    if let Some((keychain, head)) = taken {
                        write_one(&keychain, &head);
                    }
                    let mut pending = self.shared.pending();
                    pending.done = pending.asked;
                }
            }
        }
    }

    /// Waits until every anchor asked for so far is written (or failed), at most [`FLUSH_WAIT`].
    pub(crate) fn flush(&self) {
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut pending = self.shared.pending();
        let target = pending.asked;
        while pending.done < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("the keychain did not take the audit anchor in time");
                return;
            }
            pending = self
                .shared
                .changed
                .wait_timeout(pending, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for AnchorWriter {
    fn drop(&mut self) {
        self.flush();
        self.shared.pending().closing = true;
        self.shared.changed.notify_all();
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // After a flush that timed out the thread may still be inside the keychain: it is left
        // to finish on its own rather than waited for.
        let caught_up = {
            let pending = self.shared.pending();
            pending.done == pending.asked
        };
        if let Some(handle) = thread
            && caught_up
        {
            let _ = handle.join();
        }
    }
}

fn write_anchors(shared: &Shared) {
    loop {
        let (keychain, head, asked) = {
            let mut pending = shared.pending();
            loop {
                if let Some((keychain, head)) = pending.next.take() {
                    break (keychain, head, pending.asked);
                }
                if pending.closing {
                    return;
                }
                pending = shared
                    .changed
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        write_one(&keychain, &head);
        shared.pending().done = asked;
        shared.changed.notify_all();
    }
}

fn write_one(keychain: &Keychain, head: &Anchor) {
    if let Err(e) = keychain.set(AUDIT_ANCHOR, &Secret::new(head.encode())) {
        tracing::warn!(error = %e, seq = head.seq, "could not anchor the audit head in the keychain");
    }
}
