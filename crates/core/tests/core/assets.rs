//! Assets end to end on real SQLite, Kuzu and blob files, with plays run against the provider
//! stub: banking by approval policy, the approval flow, lineage queries, promotion to canon,
//! and export into a project folder.

use crate::fixture::{
    GOOD_OUTLINE, ProjectVault, StubProvider, TempVault, add_stub, canon, outline_request, owner,
    refused, task,
};
use atelier_core::Atelier;
use atelier_core::access::auth::{Capability, Principal};
use atelier_core::api::{
    AssetExport, AssetOrigin, AssetReviewRequest, BankRequest, GrantAdd, Promotion, RunEvent,
    RunRequest, RunView,
};
use atelier_core::assets::{AssetState, MediaType, ReviewAction, blob_hash, blob_path};
use serde_json::json;
use std::path::Path;

fn run(atelier: &Atelier, request: &RunRequest) -> (RunView, Vec<RunEvent>) {
    let mut events = Vec::new();
    let view = atelier
        .run_play(&owner(), request, &mut |e| events.push(e))
        .expect("run");
    assert_eq!(view.status, "passed", "{view:#?}");
    (view, events)
}

fn review(atelier: &Atelier, who: &Principal, asset: i64, action: ReviewAction, note: &str) {
    atelier
        .asset_review(
            who,
            &AssetReviewRequest {
                asset,
                action,
                note: note.to_owned(),
            },
        )
        .expect("review");
}

fn grant(atelier: &Atelier, who: &Principal, capability: Capability, scope: Option<&str>) {
    atelier
        .grant_add(
            &owner(),
            GrantAdd {
                principal: who.clone(),
                capability,
                scope: scope.map(str::to_owned),
                expires_in: None,
            },
        )
        .expect("grant");
}

fn state(atelier: &Atelier, asset: i64) -> AssetState {
    atelier
        .asset_show(&owner(), asset, None)
        .expect("show")
        .asset
        .state
}

/// A vault play that is the shipped `scene_outline` with another approval policy.
fn override_approval(vault: &Path, policy: &str) {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plays/scene_outline.yaml"),
    )
    .expect("shipped play");
    let text = shipped.replace("approval: review", &format!("approval: {policy}"));
    assert_ne!(text, shipped);
    std::fs::create_dir_all(vault.join("plays")).expect("plays dir");
    std::fs::write(vault.join("plays/scene_outline.yaml"), text).expect("override");
}

#[test]
fn a_passed_run_is_banked_for_review_and_moves_only_as_the_approval_flow_allows() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    let second = format!("{GOOD_OUTLINE}\n\nThe storm passes.");
    stub.set_replies(json!({"scene": [GOOD_OUTLINE, second]}));
    add_stub(&atelier, &stub);
    let (first_run, events) = run(&atelier, &outline_request(Some("stub:scene")));
    let banked = events.iter().find_map(|e| match e {
        RunEvent::Banked { asset, state, .. } => Some((*asset, *state)),
        _ => None,
    });
    let Some((asset, AssetState::InReview)) = banked else {
        panic!("the run was not banked for review: {events:?}");
    };
    assert_eq!(first_run.asset, Some(asset));

    // Content-addressed: the blob's name is the SHA-256 of the output, and it is on disk.
    let detail = atelier.asset_show(&owner(), asset, None).expect("show");
    assert_eq!(detail.content, GOOD_OUTLINE);
    assert_eq!(detail.asset.media_type, MediaType::Markdown);
    assert_eq!(
        detail.asset.title,
        "Scene outline: Mara keeps the light through the storm"
    );
    let blob = &detail.versions[0].blob;
    assert_eq!(blob, &blob_hash(GOOD_OUTLINE.as_bytes()));
    assert_eq!(
        std::fs::read(blob_path(&vault.path(), blob)).expect("blob"),
        GOOD_OUTLINE.as_bytes()
    );
    assert_eq!(
        (
            detail.reviews[0].from.as_str(),
            detail.reviews[0].to.as_str()
        ),
        ("none", "in_review")
    );

    // approve_assets is the owner's by default: bank_assets alone does not let a host approve.
    let host = Principal::Mcp("host".to_owned());
    grant(&atelier, &host, Capability::BankAssets, None);
    refused(&vault, "DENIED", || {
        atelier.asset_review(
            &host,
            &AssetReviewRequest {
                asset,
                action: ReviewAction::Approve,
                note: String::new(),
            },
        )
    });
    refused(&vault, "INVALID_INPUT", || {
        atelier.asset_review(
            &owner(),
            &AssetReviewRequest {
                asset,
                action: ReviewAction::Reject,
                note: "  ".to_owned(),
            },
        )
    });
    let err = refused(&vault, "ASSET_STATE", || {
        atelier.asset_review(
            &owner(),
            &AssetReviewRequest {
                asset,
                action: ReviewAction::Submit,
                note: String::new(),
            },
        )
    });
    assert!(err.to_string().contains("approve, reject"), "{err}");
    review(
        &atelier,
        &owner(),
        asset,
        ReviewAction::Approve,
        "reads well",
    );
    assert_eq!(state(&atelier, asset), AssetState::Approved);
    refused(&vault, "ASSET_STATE", || {
        atelier.asset_review(
            &owner(),
            &AssetReviewRequest {
                asset,
                action: ReviewAction::Reject,
                note: "changed my mind".to_owned(),
            },
        )
    });
    refused(&vault, "ALREADY_EXISTS", || {
        atelier.asset_bank(
            &owner(),
            &BankRequest {
                run: first_run.id,
                into: None,
                title: None,
            },
        )
    });

    // A second run banked into the asset is version 2, back in review.
    let (second_run, _) = run(&atelier, &outline_request(Some("stub:scene")));
    let into = |run| BankRequest {
        run,
        into: Some(asset),
        title: None,
    };
    let view = atelier
        .asset_bank(&owner(), &into(second_run.id))
        .expect("bank into");
    assert_eq!((view.version, view.state), (2, AssetState::InReview));
    refused(&vault, "ALREADY_EXISTS", || {
        atelier.asset_bank(&owner(), &into(second_run.id))
    });
    review(&atelier, &owner(), asset, ReviewAction::Reject, "too long");
    let detail = atelier.asset_show(&owner(), asset, None).expect("show");
    assert_eq!(detail.content, second);
    assert_eq!(detail.asset.state, AssetState::Rejected);
    let moves: Vec<(i64, &str, &str)> = detail
        .reviews
        .iter()
        .map(|r| (r.version, r.from.as_str(), r.to.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (1, "none", "in_review"),
            (1, "in_review", "approved"),
            (2, "approved", "in_review"),
            (2, "in_review", "rejected")
        ]
    );
    assert_eq!(detail.reviews[3].note, "too long");
    let v1 = atelier.asset_show(&owner(), asset, Some(1)).expect("v1");
    assert_eq!(v1.content, GOOD_OUTLINE);
    refused(&vault, "NOT_FOUND", || {
        atelier.asset_show(&owner(), asset, Some(9))
    });
    refused(&vault, "NOT_FOUND", || {
        atelier.asset_show(&owner(), 999, None)
    });

    let actions: Vec<String> = atelier
        .audit_tail(&owner(), 100)
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in ["asset.bank", "asset.approve", "asset.reject"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    assert!(atelier.audit_verify(&owner()).expect("verify").is_intact());

    // A blob changed on disk is reported, never shown as the banked content.
    std::fs::write(blob_path(&vault.path(), blob), b"tampered").expect("tamper");
    let err = atelier
        .asset_show(&owner(), asset, Some(1))
        .expect_err("tampered blob");
    assert_eq!(err.code(), "STORAGE", "{err}");
}

/// The play's approval policy decides what a passed run becomes; a vault play overrides the
/// shipped one of the same name.
#[test]
fn plays_bank_drafts_or_nothing_as_their_policy_says() {
    let vault = TempVault::new();
    let atelier = vault.open();
    let stub = StubProvider::start();
    stub.set_replies(json!({"scene": [GOOD_OUTLINE, format!("{GOOD_OUTLINE}\n")]}));
    add_stub(&atelier, &stub);

    override_approval(&vault.path(), "draft");
    let (drafted, _) = run(&atelier, &outline_request(Some("stub:scene")));
    let asset = drafted.asset.expect("banked");
    assert_eq!(state(&atelier, asset), AssetState::Draft);
    let host = Principal::Mcp("host".to_owned());
    refused(&vault, "DENIED", || {
        atelier.asset_review(
            &host,
            &AssetReviewRequest {
                asset,
                action: ReviewAction::Submit,
                note: String::new(),
            },
        )
    });
    review(&atelier, &owner(), asset, ReviewAction::Submit, "");
    assert_eq!(state(&atelier, asset), AssetState::InReview);

    override_approval(&vault.path(), "manual");
    let (manual, events) = run(&atelier, &outline_request(Some("stub:scene")));
    assert_eq!(manual.asset, None);
    assert!(!events.iter().any(|e| matches!(e, RunEvent::Banked { .. })));
    let banked = atelier
        .asset_bank(
            &owner(),
            &BankRequest {
                run: manual.id,
                into: None,
                title: Some("Lamp room, take two".to_owned()),
            },
        )
        .expect("bank by hand");
    assert_eq!(
        (banked.state, banked.title.as_str()),
        (AssetState::InReview, "Lamp room, take two")
    );

    // Bad inputs: nothing is banked.
    stub.set_replies(json!({"scene": ["No sections at all."]}));
    let failed = atelier
        .run_play(&owner(), &outline_request(Some("stub:scene")), &mut |_| {})
        .expect("run");
    assert_eq!(failed.status, "failed");
    let bank = |run, into, title: Option<&str>| {
        atelier.asset_bank(
            &owner(),
            &BankRequest {
                run,
                into,
                title: title.map(str::to_owned),
            },
        )
    };
    refused(&vault, "INVALID_INPUT", || bank(failed.id, None, None));
    refused(&vault, "NOT_FOUND", || bank(999, None, None));
    refused(&vault, "INVALID_INPUT", || bank(0, None, None));
    refused(&vault, "NOT_FOUND", || bank(manual.id, Some(999), None));
    refused(&vault, "INVALID_INPUT", || {
        bank(manual.id, None, Some("two\nlines"))
    });
    refused(&vault, "DENIED", || {
        atelier.asset_bank(
            &host,
            &BankRequest {
                run: manual.id,
                into: None,
                title: None,
            },
        )
    });
}

/// Lineage lives in the graph: an asset points at the run that made it, the task it was for,
/// the canon and documents it was given, and the canon it became; a later asset given that
/// canon is built on it. A rebuild from SQLite gives the same answers.
#[test]
fn lineage_follows_runs_sources_tasks_and_promotions() {
    let project = ProjectVault::new();
    project.ingest();
    let atelier = &project.atelier;
    let vault = &project.vault;
    let stub = StubProvider::start();
    stub.set_replies(json!({"scene": [GOOD_OUTLINE, format!("{GOOD_OUTLINE}\n\nAgain.")]}));
    add_stub(atelier, &stub);
    let world = canon(
        atelier,
        "The lighthouse",
        "The lighthouse on Gull Rock has a lamp room reached by 112 steps.",
        &["world"],
        atelier_core::catalog::Tier::Canon,
    );
    let scene_task = task(atelier, "Outline the storm scene", None, &[]);
    let mut request = outline_request(Some("stub:scene"));
    request.task = Some(scene_task);
    let (first, _) = run(atelier, &request);
    let first_asset = first.asset.expect("banked");
    let cited = first.steps[0].prompt.clone().unwrap_or_default();
    assert!(cited.contains("Gull Rock"), "the canon block was a source");

    let lineage = atelier
        .asset_lineage(&owner(), first_asset)
        .expect("lineage");
    assert_eq!(lineage.runs.len(), 1);
    assert_eq!(
        (lineage.runs[0].run, lineage.runs[0].play.as_str()),
        (first.id, "scene_outline")
    );
    assert_eq!(lineage.task, Some(scene_task));
    assert_eq!(lineage.canon, [world.id]);
    assert!(
        !lineage.documents.is_empty(),
        "passages of the project were sources"
    );
    assert_eq!(lineage.promoted_to, None);

    refused(vault, "ASSET_STATE", || {
        atelier.asset_promote(
            &owner(),
            &Promotion {
                asset: first_asset,
                tags: vec![],
                tier: None,
            },
        )
    });
    review(atelier, &owner(), first_asset, ReviewAction::Approve, "");
    let promotion = Promotion {
        asset: first_asset,
        tags: vec!["world".to_owned()],
        tier: None,
    };
    let promoted = atelier
        .asset_promote(&owner(), &promotion)
        .expect("promote");
    assert_eq!(promoted.body, GOOD_OUTLINE);
    refused(vault, "ALREADY_EXISTS", || {
        atelier.asset_promote(&owner(), &promotion)
    });

    // The next scene is given the promoted canon: it is built on the first asset.
    let (second, _) = run(atelier, &outline_request(Some("stub:scene")));
    let second_asset = second.asset.expect("banked");
    let check = |atelier: &Atelier| {
        let older = atelier
            .asset_lineage(&owner(), first_asset)
            .expect("lineage");
        assert_eq!(older.promoted_to, Some(promoted.id));
        assert_eq!(older.built_upon_by, [second_asset]);
        let newer = atelier
            .asset_lineage(&owner(), second_asset)
            .expect("lineage");
        assert_eq!(newer.built_on, [first_asset]);
        assert_eq!(newer.task, None);
        let ids = |origin| -> Vec<i64> {
            atelier
                .assets_from(&owner(), origin)
                .expect("assets from")
                .into_iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(
            ids(AssetOrigin::Canon(world.id)),
            [first_asset, second_asset]
        );
        assert_eq!(ids(AssetOrigin::Canon(promoted.id)), [second_asset]);
        assert_eq!(ids(AssetOrigin::Task(scene_task)), [first_asset]);
        assert_eq!(ids(AssetOrigin::Run(first.id)), [first_asset]);
        let document = older.documents[0];
        assert!(ids(AssetOrigin::Document(document)).contains(&first_asset));
    };
    check(atelier);
    atelier.reindex(&owner()).expect("reindex");
    check(atelier);
    refused(vault, "NOT_FOUND", || atelier.asset_lineage(&owner(), 4242));
}

/// Path escape (TESTING.md recipe 4) for exports: an approved asset is written only inside its
/// project, through no symlink, never over a file without `overwrite`, and only where the
/// caller's `file_write` grant reaches.
#[test]
fn exports_stay_inside_the_project_and_never_overwrite_unasked() {
    let project = ProjectVault::new();
    let atelier = &project.atelier;
    let vault = &project.vault;
    let root = project.root();
    let outside = vault.dir.path().join("work/outside");
    let outside_before = listing(&outside);
    let stub = StubProvider::start();
    stub.set_replies(json!({"scene": [GOOD_OUTLINE]}));
    add_stub(atelier, &stub);
    let (done, _) = run(atelier, &outline_request(Some("stub:scene")));
    let asset = done.asset.expect("banked");
    let export = |path: &str, overwrite: bool| AssetExport {
        asset,
        project: "novel".to_owned(),
        path: path.to_owned(),
        overwrite,
    };
    refused(vault, "ASSET_STATE", || {
        atelier.asset_export(&owner(), &export("notes/storm.md", false))
    });
    assert!(!root.join("notes").exists());
    review(atelier, &owner(), asset, ReviewAction::Approve, "");

    let written = atelier
        .asset_export(&owner(), &export("notes/storm.md", false))
        .expect("export");
    assert_eq!((written.version, written.replaced), (1, false));
    let target = root.join("notes/storm.md");
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        GOOD_OUTLINE
    );

    std::fs::write(&target, "my own edits").expect("edit");
    refused(vault, "FILE_EXISTS", || {
        atelier.asset_export(&owner(), &export("notes/storm.md", false))
    });
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "my own edits"
    );
    let replaced = atelier
        .asset_export(&owner(), &export("notes/storm.md", true))
        .expect("overwrite");
    assert!(replaced.replaced);
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        GOOD_OUTLINE
    );

    for bad in [
        "../outside/x.md",
        "a/../../outside/x.md",
        "/tmp/atelier-export.md",
        "outside-link/x.md",
        "escape.md",
        "notes/",
        "",
    ] {
        refused(vault, "INVALID_INPUT", || {
            atelier.asset_export(&owner(), &export(bad, true))
        });
    }
    assert_eq!(
        listing(&outside),
        outside_before,
        "nothing was written outside"
    );
    assert!(!Path::new("/tmp/atelier-export.md").exists());
    refused(vault, "NOT_FOUND", || {
        atelier.asset_export(
            &owner(),
            &AssetExport {
                project: "nope".to_owned(),
                ..export("x.md", false)
            },
        )
    });

    // A host's scoped file_write covers only the paths its glob matches.
    let host = Principal::Mcp("host".to_owned());
    grant(atelier, &host, Capability::VaultRead, None);
    refused(vault, "DENIED", || {
        atelier.asset_export(&host, &export("notes/host.md", false))
    });
    grant(atelier, &host, Capability::FileWrite, Some("notes/**"));
    atelier
        .asset_export(&host, &export("notes/host.md", false))
        .expect("inside the scope");
    refused(vault, "DENIED", || {
        atelier.asset_export(&host, &export("chapters/host.md", false))
    });
    assert!(!root.join("chapters/host.md").exists());
    let exports = atelier
        .audit_tail(&owner(), 100)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "asset.export")
        .count();
    assert_eq!(exports, 3);
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = walk(dir);
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        out.push(path.display().to_string());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        }
    }
    out
}
