//! Unit tests of `roles`.

use super::*;

fn set(files: &[(&str, &str)]) -> Result<RoleSet, Vec<RoleProblem>> {
    RoleSet::from_sources(
        files
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned(), RoleSource::Vault))
            .collect(),
    )
}

#[test]
fn every_file_in_roles_is_shipped() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../roles");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("roles dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut shipped: Vec<String> = SHIPPED.iter().map(|(f, _)| (*f).to_owned()).collect();
    shipped.sort();
    assert_eq!(on_disk, shipped);
}

#[test]
fn shipped_roles_form_the_seed_hierarchy() {
    let roles = RoleSet::load(None).expect("shipped roles are valid");
    let parent = |n: &str| roles.get(n).and_then(|r| r.extends.clone());
    assert_eq!(parent("orchestrator"), None);
    for (child, p) in [
        ("researcher", "orchestrator"),
        ("code_researcher", "researcher"),
        ("market_researcher", "researcher"),
        ("implementer", "orchestrator"),
        ("coder", "implementer"),
        ("designer", "implementer"),
        ("writer", "implementer"),
        ("validator", "orchestrator"),
        ("tester", "validator"),
        ("reviewer", "validator"),
        ("security_auditor", "validator"),
        ("coordinator", "orchestrator"),
        ("project_manager", "coordinator"),
        ("release_manager", "coordinator"),
    ] {
        assert_eq!(parent(child).as_deref(), Some(p), "{child}");
    }
    assert_eq!(roles.len(), 15);
    let coder = roles.get("coder").expect("coder");
    assert!(coder.capabilities.contains(&Capability::CodeExecution));
    assert!(
        coder
            .additional_capabilities
            .contains(&Capability::CodeExecution)
    );
}

#[test]
fn a_child_narrows_by_default_and_must_widen_explicitly() {
    let base = "name: base\ndisplay_name: Base\ncapabilities: [vault_read, file_read]\nrestrictions:\n  - max_file_changes: 5\n";
    let narrow = "name: narrow\nextends: base\ndisplay_name: N\ncapabilities: [vault_read]\n";
    let wide = "name: wide\nextends: base\ndisplay_name: W\ncapabilities:\n  - vault_read\n  - code_execution\n";
    let explicit = "name: explicit\nextends: base\ndisplay_name: E\nadditional_capabilities: [code_execution]\nrestrictions:\n  - \"max_file_changes: 9\"\n  - no_network\n";
    let ok = set(&[
        ("base.yaml", base),
        ("narrow.yaml", narrow),
        ("explicit.yaml", explicit),
    ])
    .expect("valid");
    let narrow = ok.get("narrow").expect("narrow");
    assert_eq!(narrow.capabilities, BTreeSet::from([Capability::VaultRead]));
    let explicit = ok.get("explicit").expect("explicit");
    assert!(explicit.capabilities.contains(&Capability::CodeExecution));
    assert!(explicit.capabilities.contains(&Capability::FileRead));
    assert!(explicit.inherited.iter().any(|f| f == "capabilities"));
    assert_eq!(
        explicit.restrictions,
        vec![Restriction::MaxFileChanges(5), Restriction::NoNetwork],
        "the parent's tighter limit wins"
    );
    let err = set(&[("base.yaml", base), ("wide.yaml", wide)]).expect_err("widens silently");
    assert_eq!(err[0].file, "wide.yaml");
    assert_eq!(err[0].line, 6);
    assert!(
        err[0].message.contains("additional_capabilities"),
        "{}",
        err[0].message
    );
}

#[test]
fn unknown_capability_restriction_parent_and_field_name_the_file_and_line() {
    let cases = [
        (
            "name: a\ndisplay_name: A\ncapabilities:\n  - vault_read\n  - fly\n",
            5,
            "unknown capability `fly`",
        ),
        (
            "name: a\ndisplay_name: A\nrestrictions:\n  - no_network\n  - \"max_rockets: 3\"\n",
            5,
            "unknown restriction `max_rockets`",
        ),
        (
            "name: a\ndisplay_name: A\nextends: ghost\n",
            3,
            "extends unknown role `ghost`",
        ),
        (
            "name: a\ndisplay_name: A\ncolour: red\n",
            3,
            "unknown field `colour`",
        ),
        (
            "name: a\ndisplay_name: A\nrestrictions:\n  - max_file_changes: -2\n",
            4,
            "whole number",
        ),
        ("name: b\ndisplay_name: A\n", 1, "must match"),
        (
            "name: a\ndisplay_name: A\npreferred_llm: gpt\n",
            3,
            "provider:model",
        ),
    ];
    for (text, line, needle) in cases {
        let err = set(&[("a.yaml", text)]).expect_err(needle);
        assert_eq!(err[0].file, "a.yaml", "{needle}");
        assert_eq!(err[0].line, line, "{needle}: {}", err[0].message);
        assert!(
            err[0].message.contains(needle),
            "{needle}: {}",
            err[0].message
        );
    }
}

#[test]
fn extends_cycles_are_refused() {
    let a = "name: a\nextends: b\ndisplay_name: A\n";
    let b = "name: b\nextends: a\ndisplay_name: B\n";
    let err = set(&[("a.yaml", a), ("b.yaml", b)]).expect_err("cycle");
    assert!(err[0].message.contains("cycle"), "{}", err[0].message);
    assert_eq!(err[0].line, 2);
}
