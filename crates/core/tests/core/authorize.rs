//! Recipe 9, "permissions oracle": `authorize` against a small reference that denies by
//! default, on 10,000 generated principals, grants, expiries, scopes and targets; plus the same
//! rules through the api on a real vault and an injected clock.

use crate::fixture::{T0, TempVault, owner, refused, task};
use atelier_core::access::auth::{self, Capability, Grant, Principal, Request};
use atelier_core::api::{GrantAdd, NewTask};
use atelier_core::tasks::TaskFilter;
use proptest::prelude::*;

/// The reference: read it top to bottom. Deny unless the owner asks, or one live grant of that
/// exact capability to that exact principal covers the target.
fn reference(
    who: &Principal,
    cap: Capability,
    target: Option<&str>,
    grants: &[Grant],
    now: i64,
) -> bool {
    if *who == Principal::Owner {
        return true;
    }
    for g in grants {
        if g.principal != *who || g.capability != cap {
            continue;
        }
        if g.revoked_at.is_some_and(|r| now >= r) || g.expires_at.is_some_and(|e| now >= e) {
            continue;
        }
        let Some(glob) = &g.scope else { return true };
        let Some(target) = target else { continue };
        let escapes = target.starts_with('/')
            || target.contains('\\')
            || target.contains('\0')
            || target.split('/').any(|s| s == "..");
        if !escapes
            && glob_matches(
                &glob.split('/').collect::<Vec<_>>(),
                &target.split('/').collect::<Vec<_>>(),
            )
        {
            return true;
        }
    }
    false
}

/// `**` is any number of whole segments; `*` is any run within one segment.
fn glob_matches(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_matches(rest, &path[skip..])),
        Some((segment, rest)) => {
            path.first()
                .is_some_and(|p| segment_matches(segment.as_bytes(), p.as_bytes()))
                && glob_matches(rest, &path[1..])
        }
    }
}

fn segment_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| segment_matches(rest, &text[skip..])),
        Some((c, rest)) => text.first() == Some(c) && segment_matches(rest, &text[1..]),
    }
}

const PRINCIPALS: &[&str] = &["owner", "mcp:claude", "mcp:cursor", "role:writer"];
const SCOPES: &[&str] = &["*.md", "drafts/**", "notes/*.txt", "**/*.md", "**"];
const TARGETS: &[&str] = &[
    "a.md",
    "b.txt",
    "dir/a.md",
    "drafts/x/y.md",
    "drafts/z.txt",
    "notes/n.txt",
    "notes/sub/n.txt",
    "../etc/passwd",
    "/abs.md",
    "drafts/../../x.md",
];

fn principal() -> impl Strategy<Value = Principal> {
    prop::sample::select(PRINCIPALS).prop_map(|p| p.parse().expect("valid"))
}

fn capability() -> impl Strategy<Value = Capability> {
    prop::sample::select(Capability::ALL.to_vec())
}

fn time() -> impl Strategy<Value = i64> {
    (T0 - 5)..(T0 + 5)
}

fn grant() -> impl Strategy<Value = Grant> {
    (
        principal(),
        capability(),
        prop::option::of(prop::sample::select(SCOPES)),
        prop::option::of(time()),
        prop::option::weighted(0.2, time()),
    )
        .prop_map(
            |(principal, capability, scope, expires_at, revoked_at)| Grant {
                id: 1,
                principal,
                capability,
                scope: scope.map(str::to_owned),
                expires_at,
                created_at: T0 - 10,
                revoked_at,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn authorize_agrees_with_the_reference(
        who in principal(),
        cap in capability(),
        target in prop::option::of(prop::sample::select(TARGETS)),
        grants in prop::collection::vec(grant(), 0..8),
        now in time(),
    ) {
        let actual = auth::authorize(&who, Request { capability: cap, target }, &grants, now).is_ok();
        prop_assert_eq!(actual, reference(&who, cap, target, &grants, now));
    }
}

/// The reference is not vacuous: it allows and denies in the cases a person would expect.
#[test]
fn the_reference_itself_allows_and_denies_as_written() {
    let g = |scope: Option<&str>, expires_at: Option<i64>| Grant {
        id: 1,
        principal: "mcp:claude".parse().expect("p"),
        capability: Capability::FileRead,
        scope: scope.map(str::to_owned),
        expires_at,
        created_at: T0,
        revoked_at: None,
    };
    let claude: Principal = "mcp:claude".parse().expect("p");
    assert!(reference(
        &claude,
        Capability::FileRead,
        Some("drafts/a/b.md"),
        &[g(Some("drafts/**"), None)],
        T0
    ));
    assert!(!reference(
        &claude,
        Capability::FileRead,
        Some("drafts/../x.md"),
        &[g(Some("drafts/**"), None)],
        T0
    ));
    assert!(!reference(
        &claude,
        Capability::FileRead,
        Some("a.md"),
        &[g(None, Some(T0))],
        T0
    ));
    assert!(reference(
        &claude,
        Capability::FileRead,
        Some("a.md"),
        &[g(None, Some(T0 + 1))],
        T0
    ));
    assert!(!reference(
        &claude,
        Capability::FileWrite,
        None,
        &[g(None, None)],
        T0
    ));
    assert!(!reference(
        &claude,
        Capability::FileRead,
        None,
        &[g(Some("*.md"), None)],
        T0
    ));
}

/// Deny by default through the api: with `mcp_default_capabilities: []` an MCP client can do
/// nothing until granted, a grant expires on the injected clock, a revoked grant stops
/// counting, and a role principal holds its role's capabilities and nothing else.
#[test]
fn grants_through_the_api_expire_and_revoke_on_the_injected_clock() {
    let vault = TempVault::new();
    write_config(&vault, "mcp_default_capabilities: []\n");
    let atelier = vault.open();
    let claude: Principal = "mcp:claude-desktop".parse().expect("p");
    let list = || atelier.task_list(&claude, &TaskFilter::default());
    let create = || {
        atelier.task_create(
            &claude,
            NewTask {
                title: "from chat".into(),
                ..NewTask::default()
            },
        )
    };
    let err = refused(&vault, "DENIED", list);
    assert!(err.to_string().contains("vault_read"), "{err}");
    refused(&vault, "DENIED", create);
    refused(&vault, "DENIED", || atelier.grant_list(&claude));

    let read = atelier
        .grant_add(
            &owner(),
            GrantAdd {
                principal: claude.clone(),
                capability: Capability::VaultRead,
                scope: None,
                expires_in: None,
            },
        )
        .expect("grant read");
    list().expect("reads now");
    refused(&vault, "DENIED", create);

    atelier
        .grant_add(
            &owner(),
            GrantAdd {
                principal: claude.clone(),
                capability: Capability::TasksWrite,
                scope: None,
                expires_in: Some(60_000),
            },
        )
        .expect("grant write for a minute");
    create().expect("writes now");
    vault.clock.advance(60_000);
    refused(&vault, "DENIED", create);

    atelier
        .grant_revoke(&owner(), read.grant.id)
        .expect("revoke");
    refused(&vault, "DENIED", list);
    refused(&vault, "INVALID_INPUT", || {
        atelier.grant_revoke(&owner(), read.grant.id)
    });

    // A role principal holds exactly its role's capabilities.
    let writer: Principal = "role:writer".parse().expect("p");
    task(&atelier, "visible", None, &[]);
    atelier
        .task_list(&writer, &TaskFilter::default())
        .expect("writer reads");
    refused(&vault, "DENIED", || {
        atelier.task_create(
            &writer,
            NewTask {
                title: "no tasks_write".into(),
                ..NewTask::default()
            },
        )
    });
    refused(&vault, "DENIED", || atelier.audit_tail(&writer, 5));

    let grants = atelier.grant_list(&owner()).expect("list");
    let statuses: Vec<&str> = grants.iter().map(|g| g.status.as_str()).collect();
    assert_eq!(statuses, vec!["expired", "revoked"]);
}

fn write_config(vault: &TempVault, text: &str) {
    std::fs::write(vault.path().join("config.yaml"), text).expect("config");
}

/// Out of the box every MCP client reads (`vault_read`) and does nothing else until granted;
/// `capabilities` says what each principal holds now, which the MCP server turns into tools.
#[test]
fn mcp_clients_read_by_default_and_capabilities_say_what_each_may_do() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let cursor: Principal = "mcp:cursor".parse().expect("p");
    atelier
        .task_list(&cursor, &TaskFilter::default())
        .expect("reads by default");
    refused(&vault, "DENIED", || {
        atelier.task_create(
            &cursor,
            NewTask {
                title: "not yet".into(),
                ..NewTask::default()
            },
        )
    });
    assert_eq!(
        atelier.capabilities(&cursor).expect("caps"),
        [Capability::VaultRead, Capability::FileRead]
    );
    atelier
        .grant_add(
            &owner(),
            GrantAdd {
                principal: cursor.clone(),
                capability: Capability::TasksWrite,
                scope: None,
                expires_in: Some(1_000),
            },
        )
        .expect("grant");
    assert_eq!(
        atelier.capabilities(&cursor).expect("caps"),
        [
            Capability::VaultRead,
            Capability::TasksWrite,
            Capability::FileRead
        ]
    );
    vault.clock.advance(1_000);
    assert_eq!(
        atelier.capabilities(&cursor).expect("caps"),
        [Capability::VaultRead, Capability::FileRead],
        "an expired grant no longer counts"
    );
    assert_eq!(
        atelier.capabilities(&owner()).expect("caps"),
        Capability::ALL
    );
    let writer: Principal = "role:writer".parse().expect("p");
    let role = atelier.role_show(&owner(), "writer").expect("role");
    assert_eq!(
        atelier.capabilities(&writer).expect("caps"),
        role.capabilities.iter().copied().collect::<Vec<_>>()
    );
    // A default that would let any host hand itself more is refused at start-up.
    drop(atelier);
    write_config(&vault, "mcp_default_capabilities: [manage_grants]\n");
    let sealed = atelier_core::Atelier::open(vault.options());
    assert!(
        sealed.status().sealed.is_some(),
        "a config giving every host manage_grants seals the vault"
    );
}

#[test]
fn bad_grants_are_refused_and_change_nothing() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let claude: Principal = "mcp:claude".parse().expect("p");
    let add = |principal: Principal, capability, scope: Option<&str>, expires_in| {
        atelier.grant_add(
            &owner(),
            GrantAdd {
                principal,
                capability,
                scope: scope.map(str::to_owned),
                expires_in,
            },
        )
    };
    refused(&vault, "INVALID_INPUT", || {
        add(Principal::Owner, Capability::VaultRead, None, None)
    });
    refused(&vault, "INVALID_INPUT", || {
        add(claude.clone(), Capability::VaultRead, Some("*.md"), None)
    });
    refused(&vault, "INVALID_INPUT", || {
        add(
            claude.clone(),
            Capability::FileRead,
            Some("[unclosed"),
            None,
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        add(claude.clone(), Capability::FileRead, Some(""), None)
    });
    refused(&vault, "INVALID_INPUT", || {
        add(claude.clone(), Capability::FileRead, None, Some(-1))
    });
    refused(&vault, "INVALID_INPUT", || {
        add(claude.clone(), Capability::FileRead, None, Some(0))
    });
    refused(&vault, "NOT_FOUND", || atelier.grant_revoke(&owner(), 99));
    refused(&vault, "INVALID_INPUT", || {
        atelier.grant_revoke(&owner(), 0)
    });
    assert!(
        serde_json::from_str::<GrantAdd>(r#"{"principal":"mcp:x","capability":"root"}"#).is_err()
    );
    assert!(
        serde_json::from_str::<GrantAdd>(r#"{"principal":"user:x","capability":"vault_read"}"#)
            .is_err()
    );
}
