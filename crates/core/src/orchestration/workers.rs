//! The worker pool of the process that owns the vault: threads that lease task jobs and run
//! them (as many as `orchestration.concurrency`), and a heartbeat that renews their leases.
//! The app, `atelier serve` and `atelier tasks run` start one; a short CLI command does not.

use super::commands::{LEASE_MS, WorkEvent, Worked};
use crate::vault::Atelier;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where a pool's events go.
pub type EventSink = Arc<dyn Fn(WorkEvent) + Send + Sync>;

/// A running pool; dropping it stops it (each worker finishes the run it is in).
pub struct Workers {
    stop: Arc<AtomicBool>,
    atelier: Arc<Atelier>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `count` workers (at least one) and the heartbeat on `atelier`.
    pub fn start(atelier: Arc<Atelier>, count: u32, on_event: EventSink) -> Workers {
        let stop = Arc::new(AtomicBool::new(false));
        // Worker names start with the process and the pool's start, so the heartbeat renews
        // exactly this pool's leases.
        let prefix = format!("{}.{}.", std::process::id(), atelier.now());
        let mut threads = Vec::new();
        for n in 0..count.max(1) {
            let (atelier, stop, on_event) = (atelier.clone(), stop.clone(), on_event.clone());
            let name = format!("{prefix}{n}");
            let spawned = std::thread::Builder::new()
                .name(format!("atelier-worker-{n}"))
                .spawn(move || work(&atelier, &name, &stop, &on_event));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => tracing::error!(error = %e, "could not start a worker thread"),
            }
        }
        let heartbeat = {
            let (atelier, stop) = (atelier.clone(), stop.clone());
            std::thread::Builder::new()
                .name("atelier-heartbeat".to_owned())
                .spawn(move || {
                    let every = Duration::from_millis(u64::try_from(LEASE_MS / 6).unwrap_or(1));
                    while !stop.load(Ordering::SeqCst) {
                        if let Err(e) = atelier.renew_leases(&prefix) {
                            tracing::warn!(error = %e, "could not renew job leases");
                        }
                        sleep_unless(&stop, every);
                    }
                })
        };
        match heartbeat {
            Ok(handle) => threads.push(handle),
            Err(e) => tracing::error!(error = %e, "could not start the lease heartbeat"),
        }
        Workers {
            stop,
            atelier,
            threads,
        }
    }

    /// Stops the pool and waits for its threads.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.atelier.wake_workers();
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.halt();
    }
}

fn work(atelier: &Atelier, name: &str, stop: &AtomicBool, on_event: &EventSink) {
    while !stop.load(Ordering::SeqCst) {
        let mut report = |event: WorkEvent| {
            log(name, &event);
            on_event(event);
        };
        match atelier.work_next(name, &mut report) {
            Ok(Worked::Job) => {}
            Ok(Worked::Idle) => atelier.wait_for_work(Duration::from_millis(250)),
            Err(e) => {
                tracing::warn!(worker = name, error = %e, "a worker step failed");
                atelier.wait_for_work(Duration::from_millis(500));
            }
        }
    }
}

/// Each step of the work goes to the log, as the CLI and the app show it.
fn log(worker: &str, event: &WorkEvent) {
    match event {
        WorkEvent::Started {
            orchestration,
            task,
            title,
        } => tracing::info!(worker, orchestration, task, title, "task started"),
        WorkEvent::Finished {
            orchestration,
            task,
            state,
            run,
            note,
        } => tracing::info!(
            worker,
            orchestration,
            task,
            state = state.name(),
            run,
            note,
            "task moved"
        ),
        WorkEvent::Held { task, reason } => tracing::info!(worker, task, reason, "task held"),
    }
}

fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        slept += step;
    }
}
