//! What each tool needs: the capability without which a host does not see it listed.

use atelier_core::access::auth::Capability;

/// What each tool needs, so the list shows only what the caller may call.
pub const NEEDS: &[(&str, Capability)] = &[
    ("search", Capability::FileRead),
    ("read", Capability::VaultRead),
    ("tasks_list", Capability::VaultRead),
    ("tasks_create", Capability::TasksWrite),
    ("tasks_update", Capability::TasksWrite),
    ("tasks_run", Capability::RunPlays),
    ("plays_list", Capability::VaultRead),
    ("play_run", Capability::RunPlays),
    ("asset_bank", Capability::BankAssets),
    ("assets_list", Capability::VaultRead),
    ("thread_post", Capability::VaultWrite),
    ("thread_read", Capability::VaultRead),
];
