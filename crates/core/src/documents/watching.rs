//! The watch loop shared by `atelier watch` and the desktop app: watch the projects, and turn
//! each debounced batch of changes into hook tasks and an incremental ingest.

use super::projects::{IngestProgress, IngestReport};
use crate::access::auth::Principal;
use crate::documents::watch::{ProjectWatcher, WatchSignal, WatchedProject};
use crate::error::{Error, Result};
use crate::vault::Atelier;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How the watch loop behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchOptions {
    /// Events closer together than this are one batch.
    pub debounce: Duration,
    /// How often a project the OS cannot watch is rescanned.
    pub rescan_every: Duration,
    /// Rescan on the timer only, as if the OS watch limit were exhausted.
    pub force_polling: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(500),
            rescan_every: Duration::from_secs(30),
            force_polling: false,
        }
    }
}

/// One thing the watch loop did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchOutcome {
    /// Watching started on these projects.
    Started(Vec<String>),
    /// Something to tell the user.
    Notice(String),
    /// A project was brought up to date.
    Synced {
        /// The project.
        project: String,
        /// The changed paths that triggered it (empty for a rescan).
        paths: Vec<String>,
        /// Tasks created by hook rules.
        tasks: Vec<i64>,
        /// The ingest, when one ran.
        report: Option<IngestReport>,
    },
    /// Syncing a project failed; the loop goes on.
    Failed {
        /// The project.
        project: String,
        /// Why.
        error: Error,
    },
}

impl Atelier {
    /// Watches `projects` (all projects with watching on when empty) until `stop` is set:
    /// first an ingest of each to catch up, then one sync per debounced batch of changes.
    pub fn watch(
        &self,
        who: &Principal,
        projects: &[String],
        options: WatchOptions,
        stop: &AtomicBool,
        on: &mut dyn FnMut(WatchOutcome),
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<()> {
        let all = self.project_list(who)?;
        let chosen: Vec<_> = if projects.is_empty() {
            all.into_iter().filter(|p| p.watch).collect()
        } else {
            projects
                .iter()
                .map(|name| {
                    all.iter()
                        .find(|p| &p.name == name)
                        .cloned()
                        .ok_or_else(|| Error::not_found("project", name))
                })
                .collect::<Result<_>>()?
        };
        if chosen.is_empty() {
            return Err(Error::invalid(
                "projects",
                "no project to watch: name one, or turn watching on for some",
            ));
        }
        let mut watcher = ProjectWatcher::start(
            chosen
                .iter()
                .map(|p| WatchedProject {
                    name: p.name.clone(),
                    root: PathBuf::from(&p.root),
                })
                .collect(),
            options.debounce,
            options.rescan_every,
            options.force_polling,
        );
        on(WatchOutcome::Started(
            chosen.iter().map(|p| p.name.clone()).collect(),
        ));
        for project in &chosen {
            self.sync_project(who, &project.name, Vec::new(), on, progress);
        }
        while !stop.load(Ordering::Relaxed) {
            for signal in watcher.next(Duration::from_millis(250)) {
                match signal {
                    WatchSignal::Notice(text) => on(WatchOutcome::Notice(text)),
                    WatchSignal::Rescan { project } => {
                        self.sync_project(who, &project, Vec::new(), on, progress);
                    }
                    WatchSignal::Changed { project, paths } => {
                        self.sync_project(who, &project, paths, on, progress);
                    }
                }
            }
        }
        Ok(())
    }

    fn sync_project(
        &self,
        who: &Principal,
        project: &str,
        paths: Vec<String>,
        on: &mut dyn FnMut(WatchOutcome),
        progress: &mut dyn FnMut(&IngestProgress),
    ) {
        let outcome = if paths.is_empty() {
            self.ingest(who, project, progress)
                .map(|r| (Vec::new(), Some(r)))
        } else {
            self.apply_changes(who, project, &paths, progress)
        };
        on(match outcome {
            Ok((tasks, report)) => WatchOutcome::Synced {
                project: project.to_owned(),
                paths,
                tasks,
                report,
            },
            Err(error) => WatchOutcome::Failed {
                project: project.to_owned(),
                error,
            },
        });
    }
}
