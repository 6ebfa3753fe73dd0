//! Keeps every window current with changes made anywhere: by this app, the CLI or a chat host
//! reaching the vault through its socket, or a role inside a run. The vault's change feed (its
//! audit log, [`atelier_core::api::Change`]) is read once a second and each kind of change is
//! announced with the event its views refresh on.

use crate::events::{AssetsChanged, GrantsChanged, ProjectsChanged, TasksChanged};
use crate::vault::AppVault;
use atelier_core::access::audit::Target;
use atelier_core::access::auth::Principal;
use atelier_core::api::Change;
use std::time::Duration;
use tauri::{AppHandle, Manager};
use tauri_specta::Event as _;

/// How often the feed is read: quick enough that a change made in a terminal shows while the
/// user looks, cheap enough (one indexed query) to run all the time.
const EVERY: Duration = Duration::from_secs(1);

/// Which events a batch of changes calls for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Refresh {
    tasks: bool,
    projects: bool,
    assets: bool,
    grants: bool,
}

impl Refresh {
    fn of(changes: &[Change]) -> Refresh {
        let mut refresh = Refresh::default();
        for change in changes {
            let Ok(target) = change.target.parse::<Target>();
            match target {
                Target::Task(_) => refresh.tasks = true,
                Target::Project(_) | Target::Hook(_) => refresh.projects = true,
                Target::Asset(_) | Target::Run(_) => refresh.assets = true,
                Target::Grant(_) => refresh.grants = true,
                _ => {}
            }
        }
        refresh
    }
}

/// Follows the change feed on a background thread for as long as the app runs.
pub fn follow(app: &AppHandle) {
    let app = app.clone();
    std::thread::spawn(move || {
        let mut seen: Option<i64> = None;
        loop {
            std::thread::sleep(EVERY);
            let atelier = app.state::<AppVault>().handle();
            let Some(after) = seen else {
                // Start from the present: what happened before the app looked is loaded anyway.
                seen = atelier.change_head(&Principal::Owner).ok();
                continue;
            };
            let Ok(changes) = atelier.changes_after(&Principal::Owner, after) else {
                // Sealed or busy for now; the vault may open later (retry, create).
                seen = None;
                continue;
            };
            if let Some(last) = changes.last() {
                seen = Some(last.seq);
            }
            announce(&app, &Refresh::of(&changes));
        }
    });
}

/// A window that misses an event still shows correct data on its next refresh, so a failed
/// emit is not an error.
fn announce(app: &AppHandle, refresh: &Refresh) {
    if refresh.tasks {
        let _ = TasksChanged {}.emit(app);
    }
    if refresh.projects {
        let _ = ProjectsChanged {}.emit(app);
    }
    if refresh.assets {
        let _ = AssetsChanged {}.emit(app);
    }
    if refresh.grants {
        let _ = GrantsChanged {}.emit(app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64, target: &str) -> Change {
        Change {
            seq,
            action: "x.y".to_owned(),
            target: target.to_owned(),
        }
    }

    #[test]
    fn each_kind_of_change_refreshes_its_views_only() {
        let changes = [
            change(1, "task:3"),
            change(2, "hook:1"),
            change(3, "grant:2"),
            change(4, "canon:1"),
        ];
        assert_eq!(
            Refresh::of(&changes),
            Refresh {
                tasks: true,
                projects: true,
                assets: false,
                grants: true,
            }
        );
        assert!(Refresh::of(&[change(5, "run:9")]).assets);
        assert_eq!(Refresh::of(&[]), Refresh::default());
    }
}
