//! Watching project folders: one OS watcher (notify) over every watched project, debounced
//! so a burst of writes or a rename arrives as one batch per project. Symbolic links are
//! never followed, so nothing outside a project root is watched or opened. When the OS watch
//! limit is exhausted the watcher says so once and falls back to rescanning on a timer.

use crate::documents::walk;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer_opt};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// A project folder to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedProject {
    /// Its name.
    pub name: String,
    /// Its root, canonical.
    pub root: PathBuf,
}

/// What the watcher saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchSignal {
    /// Paths (relative to the root) changed, were created, removed or renamed.
    Changed {
        /// The project.
        project: String,
        /// The paths, sorted, each once.
        paths: Vec<String>,
    },
    /// Time for a periodic rescan of a project the OS cannot watch.
    Rescan {
        /// The project.
        project: String,
    },
    /// Something to tell the user once.
    Notice(String),
}

/// Watches projects until dropped.
pub struct ProjectWatcher {
    projects: Vec<WatchedProject>,
    debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    events: Receiver<DebounceEventResult>,
    /// Projects on periodic rescans, with when each is next due.
    polling: BTreeMap<String, Instant>,
    rescan_every: Duration,
    pending: Vec<WatchSignal>,
    limit_reported: bool,
}

impl std::fmt::Debug for ProjectWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectWatcher")
            .field("projects", &self.projects)
            .field("polling", &self.polling.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ProjectWatcher {
    /// Starts watching `projects`, coalescing events within `debounce`. A project that cannot
    /// be watched (the OS limit, or `force_polling`) is rescanned every `rescan_every`.
    pub fn start(
        projects: Vec<WatchedProject>,
        debounce: Duration,
        rescan_every: Duration,
        force_polling: bool,
    ) -> ProjectWatcher {
        let (tx, events) = channel();
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut watcher = ProjectWatcher {
            projects,
            debouncer: None,
            events,
            polling: BTreeMap::new(),
            rescan_every,
            pending: Vec::new(),
            limit_reported: false,
        };
        let debouncer = if force_polling {
            None
        } else {
            match new_debouncer_opt(debounce, None, tx, RecommendedCache::new(), config) {
                Ok(d) => Some(d),
                Err(e) => {
                    watcher.pending.push(WatchSignal::Notice(format!(
                        "the OS file watcher is unavailable ({e}); rescanning every {}s instead",
                        rescan_every.as_secs()
                    )));
                    None
                }
            }
        };
        watcher.debouncer = debouncer;
        for project in watcher.projects.clone() {
            let watched = match watcher.debouncer.as_mut() {
                Some(d) => d.watch(&project.root, RecursiveMode::Recursive),
                None => Err(notify::Error::generic("polling")),
            };
            if let Err(e) = watched {
                if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    watcher.report_limit();
                }
                watcher.poll(&project.name);
            }
        }
        watcher
    }

    fn report_limit(&mut self) {
        if !self.limit_reported {
            self.limit_reported = true;
            self.pending.push(WatchSignal::Notice(format!(
                "the OS limit on watched folders is exhausted (raise fs.inotify.max_user_watches); \
                 rescanning every {}s instead",
                self.rescan_every.as_secs()
            )));
        }
    }

    fn poll(&mut self, project: &str) {
        self.polling
            .entry(project.to_owned())
            .or_insert_with(|| Instant::now() + self.rescan_every);
    }

    /// Whether `project` is on periodic rescans.
    pub fn is_polling(&self, project: &str) -> bool {
        self.polling.contains_key(project)
    }

    /// Waits up to `timeout` for what happened next; empty when nothing did.
    pub fn next(&mut self, timeout: Duration) -> Vec<WatchSignal> {
        let mut out = std::mem::take(&mut self.pending);
        let deadline = Instant::now() + timeout;
        let mut changed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        loop {
            let now = Instant::now();
            for (project, due) in &mut self.polling {
                if *due <= now {
                    out.push(WatchSignal::Rescan {
                        project: project.clone(),
                    });
                    *due = now + self.rescan_every;
                }
            }
            if !out.is_empty() || !changed.is_empty() {
                // Drain what is already queued without waiting, then answer.
                while let Ok(result) = self.events.try_recv() {
                    self.absorb(result, &mut changed);
                }
                break;
            }
            let wait = deadline
                .saturating_duration_since(now)
                .min(Duration::from_millis(250));
            match self.events.recv_timeout(wait) {
                Ok(result) => self.absorb(result, &mut changed),
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        out.extend(
            changed
                .into_iter()
                .map(|(project, paths)| WatchSignal::Changed {
                    project,
                    paths: paths.into_iter().collect(),
                }),
        );
        out.append(&mut self.pending);
        out
    }

    fn absorb(
        &mut self,
        result: DebounceEventResult,
        changed: &mut BTreeMap<String, BTreeSet<String>>,
    ) {
        match result {
            Ok(events) => {
                for event in events {
                    for path in &event.paths {
                        if let Some((project, relative)) = self.locate(path) {
                            changed.entry(project).or_default().insert(relative);
                        }
                    }
                }
            }
            Err(errors) => {
                for error in errors {
                    if matches!(error.kind, notify::ErrorKind::MaxFilesWatch) {
                        self.report_limit();
                        let names: Vec<String> = error
                            .paths
                            .iter()
                            .filter_map(|p| self.locate(p).map(|(n, _)| n))
                            .collect();
                        let names = if names.is_empty() {
                            self.projects.iter().map(|p| p.name.clone()).collect()
                        } else {
                            names
                        };
                        for name in names {
                            self.poll(&name);
                        }
                    }
                }
            }
        }
    }

    /// The project a path is in and its path relative to the root; hidden entries (other
    /// than the ignore files, which change what is ingested) are left out.
    fn locate(&self, path: &std::path::Path) -> Option<(String, String)> {
        let project = self.projects.iter().find(|p| path.starts_with(&p.root))?;
        let relative = walk::relative(&project.root, path)?;
        if relative.is_empty() {
            return None;
        }
        let hidden = relative
            .split('/')
            .any(|part| part.starts_with('.') && part != ".gitignore" && part != walk::IGNORE_FILE);
        (!hidden).then(|| (project.name.clone(), relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Watch-limit fallback: a project that cannot be watched is rescanned on a timer.
    #[test]
    fn a_polling_project_is_rescanned_on_its_timer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut watcher = ProjectWatcher::start(
            vec![WatchedProject {
                name: "p".into(),
                root: dir.path().canonicalize().expect("canonical"),
            }],
            Duration::from_millis(50),
            Duration::from_millis(100),
            true,
        );
        assert!(watcher.is_polling("p"));
        let mut seen = Vec::new();
        let started = Instant::now();
        while seen.is_empty() && started.elapsed() < Duration::from_secs(5) {
            seen = watcher.next(Duration::from_millis(200));
        }
        assert!(
            seen.contains(&WatchSignal::Rescan {
                project: "p".into()
            }),
            "{seen:?}"
        );
    }
}
