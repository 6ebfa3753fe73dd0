//! The app's hold on its vault (boot matrix recipe, desktop column): a vault owned by another
//! process seals the app with `VAULT_BUSY` and its pid, commands refuse without changing
//! anything, and a retry after the owner lets go opens it; a missing vault can be created.

use atelier_core::api::NewTask;
use atelier_core::{Atelier, OpenOptions, SealReason};
use atelier_desktop::AppVault;

#[test]
fn a_busy_vault_seals_the_app_until_a_retry_after_the_owner_leaves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vault = dir.path().join("vault");
    let app = AppVault::open(vault.clone());
    app.init().expect("create the vault");
    drop(app);

    let owner = Atelier::open(OpenOptions::new(&vault));
    assert!(owner.status().sealed.is_none(), "the other process owns it");

    let app = AppVault::open(vault.clone());
    let status = app.status();
    assert!(
        matches!(status.sealed, Some(SealReason::VaultBusy { pid: Some(pid) }) if pid == std::process::id()),
        "{status:?}"
    );
    let refused = app
        .as_owner(|a, who| {
            a.task_create(
                who,
                NewTask {
                    title: "lost?".into(),
                    ..NewTask::default()
                },
            )
        })
        .expect_err("a sealed vault refuses");
    assert_eq!(refused.code(), "VAULT_BUSY");
    let busy_again = app.retry();
    assert!(busy_again.sealed.is_some(), "still owned: still sealed");

    drop(owner);
    let reopened = app.retry();
    assert!(reopened.sealed.is_none(), "{reopened:?}");
    let tasks = app
        .as_owner(|a, who| a.task_tree(who, None))
        .expect("read tasks");
    assert!(tasks.is_empty(), "the refused create left nothing behind");
}

#[test]
fn a_missing_vault_is_sealed_as_not_initialized_and_can_be_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = AppVault::open(dir.path().join("new-vault"));
    assert_eq!(app.status().sealed, Some(SealReason::NotInitialized));
    let report = app.init().expect("create");
    assert!(report.created);
    assert!(app.status().sealed.is_none());
    let again = app.init().expect_err("a second init is refused");
    assert_eq!(again.code(), "ALREADY_INITIALIZED");
}
