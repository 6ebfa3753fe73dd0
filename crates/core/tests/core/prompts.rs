//! Snapshots of the prompts the shipped plays assemble (ASSET: Assistant, Sources, Structured
//! output, Expectations, Task), with each section's token estimate and what the Sources budget
//! cut. Assembly is deterministic, so any change to a role, a play, a template or the assembler
//! shows up here as a diff. `ATELIER_UPDATE_SNAPSHOTS=1` rewrites them after a deliberate change.

use crate::fixture::{TempVault, canon, owner, params};
use atelier_core::api::{RunPreview, RunRequest};
use atelier_core::catalog::Tier;
use std::fmt::Write as _;
use std::path::Path;

fn render(preview: &RunPreview) -> String {
    let mut s = format!("# {} ({})\n", preview.play, preview.play_version);
    for step in &preview.steps {
        let a = &step.assembled;
        let _ = writeln!(
            s,
            "\n## step {} (role {}), ~{} tokens, sources budget {}",
            step.step, step.role, a.total_tokens, a.budget_tokens
        );
        for section in &a.sections {
            let _ = writeln!(s, "- {}: ~{} tokens", section.name, section.tokens);
        }
        for cited in &a.sources {
            let _ = writeln!(
                s,
                "- cited {} = {} ({})",
                cited.citation, cited.source.reference, cited.source.title
            );
        }
        for cut in &a.cut {
            let _ = writeln!(s, "- cut {} ({})", cut.reference, cut.title);
        }
        let _ = write!(
            s,
            "\n### system\n{}\n\n### prompt\n{}\n",
            a.system, a.prompt
        );
    }
    s
}

#[test]
fn the_shipped_plays_assemble_the_prompts_in_their_snapshots() {
    let vault = TempVault::new();
    let atelier = vault.open();
    canon(
        &atelier,
        "Gull Rock",
        "The lighthouse on Gull Rock has a lamp room reached by 112 steps. Its keeper is Mara Quell.",
        &["world"],
        Tier::Canon,
    );
    canon(
        &atelier,
        "Mara Quell",
        "Mara Quell, 34, keeps the Gull Rock light. She speaks little and counts everything.",
        &["characters"],
        Tier::Canon,
    );
    canon(
        &atelier,
        "House style",
        &"Short sentences. Present tense. No adverbs. ".repeat(200),
        &["style"],
        Tier::Secondary,
    );
    canon(
        &atelier,
        "The Lamplighters",
        "A guild that keeps the coast lit and sells the secret of the lamps to no one.",
        &["factions"],
        Tier::Secondary,
    );
    let cases = [
        (
            "scene_outline",
            params(&[
                ("scene", "Mara keeps the light through the storm"),
                ("point_of_view", "Mara"),
            ]),
        ),
        ("character_bible", params(&[("character", "Mara Quell")])),
        (
            "quest_design",
            params(&[("premise", "The lamp of Gull Rock has been stolen")]),
        ),
        (
            "episode_show_notes",
            params(&[("episode", "Episode 12: keeping the light")]),
        ),
        ("plan", params(&[("goal", "Write the pilot episode")])),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var_os("ATELIER_UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for (play, params) in cases {
        let preview = atelier
            .run_preview(
                &owner(),
                &RunRequest {
                    play: play.to_owned(),
                    params,
                    model: Some("stub:any".to_owned()),
                    task: None,
                    idempotency_key: None,
                    adhoc: None,
                },
            )
            .expect("preview");
        let text = render(&preview);
        let file = dir.join(format!("{play}.txt"));
        if update {
            std::fs::write(&file, &text).expect("write snapshot");
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(dir.join(format!("{play}.new.txt")), &text).expect("write new");
            stale.push(play);
        }
    }
    assert!(
        stale.is_empty(),
        "assembled prompts differ from tests/snapshots for {stale:?}; compare with the .new.txt \
         files beside them, and if the change is meant, run with ATELIER_UPDATE_SNAPSHOTS=1"
    );
}
