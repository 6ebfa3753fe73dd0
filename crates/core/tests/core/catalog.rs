//! Canon blocks and shapes: create, edit, list, show, and their bad input (recipe 4).

use crate::fixture::{TempVault, owner, refused};
use atelier_core::api::{CanonEdit, CanonFilter, NewCanon, NewShape, ShapeEdit};
use atelier_core::catalog::{ShapeKind, Tier};

fn canon(title: &str, body: &str, tags: &[&str]) -> NewCanon {
    NewCanon {
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        tier: Tier::Canon,
    }
}

#[test]
fn canon_blocks_round_trip_and_filter() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let mara = atelier
        .canon_create(
            &owner(),
            canon("Mara", "Grew up on the lighthouse.", &["Character", "mara"]),
        )
        .expect("create");
    assert_eq!(
        mara.tags,
        vec!["character", "mara"],
        "lowercased and deduplicated"
    );
    atelier
        .canon_create(
            &owner(),
            NewCanon {
                tier: Tier::Secondary,
                ..canon("Tides", "Twice a day.", &["world"])
            },
        )
        .expect("create");
    let chars = atelier
        .canon_list(
            &owner(),
            &CanonFilter {
                tag: Some("character".into()),
                tier: None,
            },
        )
        .expect("list");
    assert_eq!(chars.len(), 1);
    let secondary = atelier
        .canon_list(
            &owner(),
            &CanonFilter {
                tag: None,
                tier: Some(Tier::Secondary),
            },
        )
        .expect("list");
    assert_eq!(secondary[0].title, "Tides");
    let edited = atelier
        .canon_edit(
            &owner(),
            CanonEdit {
                id: mara.id,
                body: Some("Grew up at sea.".into()),
                ..CanonEdit::default()
            },
        )
        .expect("edit");
    assert_eq!(atelier.canon_show(&owner(), mara.id).expect("show"), edited);
}

#[test]
fn shapes_round_trip_with_their_required_sections() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let notes = atelier
        .shape_create(
            &owner(),
            NewShape {
                name: "show-notes".into(),
                kind: ShapeKind::Markdown,
                description: String::new(),
                body: "# T\n## Summary\n## Sources\n".into(),
            },
        )
        .expect("create");
    assert_eq!(notes.required_sections, vec!["Summary", "Sources"]);
    atelier
        .shape_create(
            &owner(),
            NewShape {
                name: "beat".into(),
                kind: ShapeKind::JsonSchema,
                description: "A story beat".into(),
                body: r#"{"type":"object"}"#.into(),
            },
        )
        .expect("create");
    let names: Vec<String> = atelier
        .shape_list(&owner())
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["beat", "show-notes"]);
    let edited = atelier
        .shape_edit(
            &owner(),
            ShapeEdit {
                name: "beat".into(),
                kind: None,
                description: None,
                body: Some(r#"{"type":"array"}"#.into()),
            },
        )
        .expect("edit");
    assert_eq!(atelier.shape_show(&owner(), "beat").expect("show"), edited);
}

#[test]
fn bad_canon_and_shape_input_is_refused_and_changes_nothing() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let existing = atelier
        .canon_create(&owner(), canon("ok", "ok", &[]))
        .expect("create");
    for (code, request) in [
        ("INVALID_INPUT", canon("", "body", &[])),
        ("INVALID_INPUT", canon("t", "", &[])),
        ("INVALID_INPUT", canon("t", "nul\0", &[])),
        (
            "INVALID_INPUT",
            canon("t", &"x".repeat(1024 * 1024 + 1), &[]),
        ),
        ("INVALID_INPUT", canon("t", "b", &["two words"])),
        ("INVALID_INPUT", canon("t", "b", &[""])),
    ] {
        refused(&vault, code, || {
            atelier.canon_create(&owner(), request.clone())
        });
    }
    refused(&vault, "INVALID_INPUT", || {
        atelier.canon_edit(
            &owner(),
            CanonEdit {
                id: existing.id,
                ..CanonEdit::default()
            },
        )
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.canon_edit(
            &owner(),
            CanonEdit {
                id: 99,
                title: Some("x".into()),
                ..CanonEdit::default()
            },
        )
    });
    refused(&vault, "INVALID_INPUT", || atelier.canon_show(&owner(), -4));

    let shape = |name: &str, kind, body: &str| NewShape {
        name: name.into(),
        kind,
        description: String::new(),
        body: body.into(),
    };
    atelier
        .shape_create(&owner(), shape("taken", ShapeKind::Markdown, "## A"))
        .expect("create");
    for (code, request) in [
        (
            "INVALID_INPUT",
            shape("Bad Name", ShapeKind::Markdown, "## A"),
        ),
        ("INVALID_INPUT", shape("../x", ShapeKind::Markdown, "## A")),
        (
            "INVALID_INPUT",
            shape("no-sections", ShapeKind::Markdown, "just text"),
        ),
        (
            "INVALID_INPUT",
            shape("not-json", ShapeKind::JsonSchema, "{type: object"),
        ),
        (
            "INVALID_INPUT",
            shape("not-object", ShapeKind::JsonSchema, "[1, 2]"),
        ),
        (
            "INVALID_INPUT",
            shape("not-schema", ShapeKind::JsonSchema, r#"{"title": "x"}"#),
        ),
        (
            "ALREADY_EXISTS",
            shape("taken", ShapeKind::Markdown, "## B"),
        ),
    ] {
        refused(&vault, code, || {
            atelier.shape_create(&owner(), request.clone())
        });
    }
    refused(&vault, "INVALID_INPUT", || {
        atelier.shape_edit(
            &owner(),
            ShapeEdit {
                name: "taken".into(),
                kind: Some(ShapeKind::JsonSchema),
                description: None,
                body: None,
            },
        )
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.shape_show(&owner(), "missing")
    });
}
