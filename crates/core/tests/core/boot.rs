//! Recipe 8, "boot matrix": one fault at a time; each ends sealed with a typed reason, every
//! command but status answers NOT_READY (or VAULT_BUSY), and the fault changes nothing.

use crate::fixture::{TempVault, owner};
use atelier_core::store::migrations::Migration;
use atelier_core::tasks::TaskFilter;
use atelier_core::{Atelier, OpenOptions, SealReason};

/// The shipped migrations, with one byte of migration 1 changed after it was applied.
fn changed() -> &'static [Migration] {
    let mut all = atelier_core::store::migrations::EMBEDDED.to_vec();
    all[0] = Migration {
        version: 1,
        name: "0001_init.sql",
        sql: concat!(
            include_str!("../../../../migrations/0001_init.sql"),
            "\n-- edited\n"
        ),
    };
    Box::leak(all.into_boxed_slice())
}

fn sealed_with(vault: &TempVault, options: OpenOptions) -> SealReason {
    let before = vault.fingerprint();
    let atelier = Atelier::open(options);
    let status = atelier.status();
    assert_eq!(status.state, "sealed");
    let reason = status.sealed.expect("sealed");
    let err = atelier
        .task_list(&owner(), &TaskFilter::default())
        .expect_err("sealed");
    assert!(matches!(err.code(), "NOT_READY" | "VAULT_BUSY"), "{err}");
    drop(atelier);
    assert_eq!(
        vault.fingerprint(),
        before,
        "a sealed boot changed the vault"
    );
    reason
}

#[test]
fn a_changed_applied_migration_refuses_to_open() {
    let vault = TempVault::new();
    let mut options = vault.options();
    options.migrations = changed();
    let reason = sealed_with(&vault, options);
    assert_eq!(
        reason,
        SealReason::MigrationChanged {
            version: 1,
            name: "0001_init.sql".into()
        }
    );
    assert!(reason.to_string().contains("0001_init.sql"));
    vault.open();
}

#[test]
fn a_database_newer_than_the_binary_refuses_to_open() {
    let vault = TempVault::new();
    let supported = atelier_core::store::migrations::EMBEDDED.len() as i64;
    vault
        .sqlite()
        .execute(
            "INSERT INTO schema_migrations VALUES (?1, 'future.sql', 'x', 0)",
            [supported + 1],
        )
        .expect("future");
    let reason = sealed_with(&vault, vault.options());
    assert_eq!(
        reason,
        SealReason::DatabaseNewer {
            found: supported + 1,
            supported
        }
    );
}

#[test]
fn a_missing_or_corrupt_config_seals_the_vault() {
    let vault = TempVault::new();
    let config = vault.path().join("config.yaml");
    for text in ["task_depth_limit: [", "task_depth_limit: 0", "depth: 3"] {
        std::fs::write(&config, text).expect("write");
        assert!(
            matches!(
                sealed_with(&vault, vault.options()),
                SealReason::ConfigInvalid { .. }
            ),
            "{text}"
        );
    }
    std::fs::remove_file(&config).expect("remove");
    let reason = sealed_with(&vault, vault.options());
    assert!(reason.to_string().contains("missing"), "{reason}");
    Atelier::init(&vault.path(), vault.clock.as_ref(), true).expect("repair");
    vault.open();
}

#[test]
fn an_invalid_role_file_in_the_vault_seals_it_naming_file_and_line() {
    let vault = TempVault::new();
    std::fs::write(
        vault.path().join("roles/writer.yaml"),
        "name: writer\ndisplay_name: Writer\ncapabilities:\n  - vault_read\n  - teleport\n",
    )
    .expect("write");
    let reason = sealed_with(&vault, vault.options());
    assert_eq!(
        reason,
        SealReason::RoleInvalid {
            file: "roles/writer.yaml".into(),
            line: 5,
            message: reason_message(&reason),
        }
    );
    assert!(reason.to_string().contains("teleport"));
}

fn reason_message(reason: &SealReason) -> String {
    match reason {
        SealReason::RoleInvalid { message, .. } => message.clone(),
        _ => String::new(),
    }
}

#[test]
fn a_valid_role_override_replaces_the_shipped_role() {
    let vault = TempVault::new();
    std::fs::write(
        vault.path().join("roles/writer.yaml"),
        "name: writer\nextends: implementer\ndisplay_name: House Writer\ncapabilities: [vault_read]\n",
    )
    .expect("write");
    let atelier = vault.open();
    let writer = atelier.role_show(&owner(), "writer").expect("writer");
    assert_eq!(writer.display_name, "House Writer");
    assert_eq!(writer.capabilities.len(), 1);
}

#[test]
fn a_held_lock_answers_vault_busy_with_the_owners_pid() {
    let vault = TempVault::new();
    let first = vault.open();
    let reason = sealed_with(&vault, vault.options());
    assert_eq!(
        reason,
        SealReason::VaultBusy {
            pid: Some(std::process::id())
        }
    );
    drop(first);
    vault.open();
}

#[test]
fn no_vault_yet_says_to_run_init() {
    let dir = tempfile::tempdir().expect("tempdir");
    let atelier = Atelier::open(OpenOptions::new(dir.path().join("nothing")));
    assert_eq!(atelier.status().sealed, Some(SealReason::NotInitialized));
    let err = atelier.task_next(&owner()).expect_err("sealed");
    assert_eq!(err.code(), "NOT_READY");
    assert!(err.to_string().contains("atelier init"));
    assert!(
        !dir.path().join("nothing").exists(),
        "opening must not create a vault"
    );
}

#[test]
fn init_twice_is_refused_and_changes_nothing() {
    let vault = TempVault::new();
    let before = vault.fingerprint();
    let err = Atelier::init(&vault.path(), vault.clock.as_ref(), false).expect_err("twice");
    assert_eq!(err.code(), "ALREADY_INITIALIZED");
    assert_eq!(vault.fingerprint(), before);
}
