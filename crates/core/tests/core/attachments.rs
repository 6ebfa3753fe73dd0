//! Attachments as vault items, on two committed fixture vaults of real files: `obsidian` (a
//! PNG, an OGG, an MP3, a PDF with text and a canvas, linked in every form Obsidian's help
//! documents) and `hostile` (a truncated PNG, a truncated PDF, a page-tree bomb, a PDF nested
//! 100,000 deep, a cut-off canvas). Real SQLite, Kuzu, Qdrant Edge and model (TESTING.md
//! recipe 1, temp vault; recipe 6 for the bad inputs).

use crate::docs::{assert_indexes_agree, count, documents, skipped};
use crate::fixture::{ATTACHMENT_CAP, ProjectVault, owner, refused};
use atelier_core::api::{RelatedReason, SearchRequest};
use atelier_core::documents::DocumentKind;
use atelier_core::documents::search::SearchMode;
use atelier_core::documents::walk::SkipReason;
use std::collections::BTreeSet;

fn paths(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Each link of `document`: form, target as written, heading, label, and the path it resolves
/// to.
type LinkRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn links(pv: &ProjectVault, document: &str) -> Vec<LinkRow> {
    let view = pv.atelier.document_show(&owner(), document).expect("show");
    view.links
        .into_iter()
        .map(|l| {
            (
                l.form,
                l.target,
                l.heading,
                l.label,
                l.resolved.map(|d| d.path),
            )
        })
        .collect()
}

fn row(form: &str, target: &str, heading: Option<&str>, label: Option<&str>, to: &str) -> LinkRow {
    (
        form.to_owned(),
        target.to_owned(),
        heading.map(str::to_owned),
        label.map(str::to_owned),
        Some(to.to_owned()),
    )
}

fn words(pv: &ProjectVault, query: &str) -> Vec<(String, (i64, i64))> {
    pv.atelier
        .search(
            &owner(),
            SearchRequest {
                query: query.to_owned(),
                mode: SearchMode::Text,
                limit: Some(10),
                ..SearchRequest::default()
            },
        )
        .expect("search")
        .into_iter()
        .map(|h| (h.source.path, h.source.lines))
        .collect()
}

const DIAGRAM: &str = "Attachments/diagram.png";
const GUIDE_PDF: &str = "Attachments/field guide.pdf";

#[test]
fn every_link_form_obsidian_documents_resolves_to_notes_and_attachments() {
    let pv = ProjectVault::of("obsidian");
    let report = pv.ingest();
    assert_eq!(report.dangling_links, 0, "{report:#?}");
    assert!(report.skipped.is_empty(), "{report:#?}");
    assert_eq!(
        documents(&pv),
        paths(&[
            "Attachments/chime.mp3",
            DIAGRAM,
            GUIDE_PDF,
            "Attachments/theme.ogg",
            "Board.canvas",
            "Guide.md",
            "Home.md",
            "Projects/Lighthouse.md",
            "Projects/Projects.md",
        ])
    );
    assert_eq!(
        links(&pv, "obsidian:Home.md"),
        [
            row("embed", "diagram.png", None, None, DIAGRAM),
            row("embed", "diagram.png", None, Some("300"), DIAGRAM),
            row("embed", DIAGRAM, None, Some("300x200"), DIAGRAM),
            row("embed", DIAGRAM, None, Some("the diagram"), DIAGRAM),
            row("wikilink", "field guide.pdf", None, None, GUIDE_PDF),
            row("wikilink", GUIDE_PDF, Some("page=2"), None, GUIDE_PDF),
            row("markdown", GUIDE_PDF, None, Some("the guide"), GUIDE_PDF),
            row("embed", "theme.ogg", None, None, "Attachments/theme.ogg"),
            row("embed", "chime.mp3", None, None, "Attachments/chime.mp3"),
            row("wikilink", "Board.canvas", None, None, "Board.canvas"),
            row("wikilink", "Guide", Some("Setup"), None, "Guide.md"),
            row("wikilink", "Guide", Some("^quick-start"), None, "Guide.md"),
            row("embed", "Guide", Some("Setup"), None, "Guide.md"),
            row("wikilink", "Projects", None, None, "Projects/Projects.md"),
            row("wikilink", "Guide.md", None, None, "Guide.md"),
            row("wikilink", "Guide", None, Some("the guide"), "Guide.md"),
            row("embed", "diagram.png", None, Some("120"), DIAGRAM),
            row(
                "wikilink",
                "Projects/Lighthouse",
                None,
                Some("the lighthouse"),
                "Projects/Lighthouse.md"
            ),
            row("embed", "field guide.pdf", None, Some("page 1"), GUIDE_PDF),
        ]
    );
    // A canvas: its text node's wikilink, its file nodes as embeds (one with a subpath).
    assert_eq!(
        links(&pv, "obsidian:Board.canvas"),
        [
            row("wikilink", "Guide", Some("Storms"), None, "Guide.md"),
            row("embed", DIAGRAM, None, None, DIAGRAM),
            row("embed", "Guide.md", Some("Setup"), None, "Guide.md"),
        ]
    );
    assert_indexes_agree(&pv);
}

#[test]
fn attachments_carry_their_media_facts_and_a_pdf_is_searched_page_by_page() {
    let pv = ProjectVault::of("obsidian");
    pv.ingest();
    let show = |path: &str| {
        pv.atelier
            .document_show(&owner(), &format!("obsidian:{path}"))
            .expect("show")
    };
    let image = show(DIAGRAM);
    assert_eq!(image.document.kind, DocumentKind::Image);
    assert_eq!(image.document.title, "diagram");
    let media = image.media.expect("media");
    assert_eq!(
        (media.media_type.as_str(), media.width, media.height),
        ("image/png", Some(64), Some(48))
    );
    assert_eq!(image.size, 290);
    let ogg = show("Attachments/theme.ogg").media.expect("media");
    assert_eq!(
        (ogg.media_type.as_str(), ogg.duration_ms),
        ("audio/ogg", Some(1500))
    );
    let mp3 = show("Attachments/chime.mp3").media.expect("media");
    assert_eq!(mp3.media_type, "audio/mpeg");
    // 0.75 s of tone; the encoder pads the last frame.
    let mp3_ms = mp3.duration_ms.expect("duration");
    assert!((750..=850).contains(&mp3_ms), "{mp3_ms} ms");
    let pdf = show(GUIDE_PDF);
    assert_eq!(pdf.document.kind, DocumentKind::Pdf);
    assert_eq!(pdf.media.as_ref().and_then(|m| m.pages), Some(2));
    assert_eq!(pdf.chunks, 2);
    let canvas = show("Board.canvas");
    assert_eq!(canvas.document.kind, DocumentKind::Canvas);
    assert_eq!(
        canvas.media.map(|m| m.media_type).as_deref(),
        Some("application/json")
    );
    // Notes have no media facts.
    assert_eq!(show("Home.md").media, None);

    // A PDF's passages are its pages ("lines" are pages), found by words like any passage.
    let text = pv
        .atelier
        .document_text(&owner(), &format!("obsidian:{GUIDE_PDF}"))
        .expect("text");
    assert_eq!(
        text.passages
            .iter()
            .map(|p| (p.heading.as_str(), p.lines))
            .collect::<Vec<_>>(),
        [("Page 1", (1, 1)), ("Page 2", (2, 2))]
    );
    assert!(text.passages[1].body.contains("980 hectopascals"));
    assert_eq!(
        words(&pv, "hectopascals").first(),
        Some(&(GUIDE_PDF.to_owned(), (2, 2)))
    );
    // A canvas's text node is a passage too.
    assert!(
        words(&pv, "\"black cone\"")
            .iter()
            .any(|(path, _)| path == "Board.canvas")
    );

    // The preview of an image is its file's bytes; anything else is refused, changing nothing.
    let preview = pv
        .atelier
        .document_preview(&owner(), &format!("obsidian:{DIAGRAM}"))
        .expect("preview");
    assert_eq!(preview.media_type, "image/png");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(preview.base64)
            .expect("base64"),
        std::fs::read(pv.root().join(DIAGRAM)).expect("read")
    );
    refused(&pv.vault, "INVALID_INPUT", || {
        pv.atelier
            .document_preview(&owner(), &format!("obsidian:{GUIDE_PDF}"))
    });

    // The graph has the embeds: Home embeds the diagram, and the diagram is embedded in
    // Home, Guide and the canvas.
    let home = show("Home.md").document.id;
    let related = pv
        .atelier
        .related(&owner(), "obsidian:Home.md", 20)
        .expect("related");
    let diagram = related
        .iter()
        .find(|r| r.document.path == DIAGRAM)
        .expect("the diagram is related to Home");
    assert!(
        diagram.reasons.contains(&RelatedReason::Embeds),
        "{diagram:?}"
    );
    assert!(
        diagram.reasons.contains(&RelatedReason::LinksTo),
        "{diagram:?}"
    );
    let embedding: BTreeSet<String> = pv
        .atelier
        .related(&owner(), &format!("obsidian:{DIAGRAM}"), 20)
        .expect("related")
        .into_iter()
        .filter(|r| r.reasons.contains(&RelatedReason::EmbeddedIn))
        .map(|r| r.document.path)
        .collect();
    assert_eq!(embedding, paths(&["Board.canvas", "Guide.md", "Home.md"]));
    assert!(home > 0);
    assert_indexes_agree(&pv);
}

#[test]
fn renaming_and_deleting_attachments_leaves_nothing_stale() {
    let pv = ProjectVault::of("obsidian");
    pv.ingest();
    let old = pv
        .atelier
        .document_show(&owner(), &format!("obsidian:{DIAGRAM}"))
        .expect("show")
        .document
        .id;
    std::fs::rename(
        pv.root().join(DIAGRAM),
        pv.root().join("Attachments/figure.png"),
    )
    .expect("rename");
    let report = pv.ingest();
    assert_eq!((report.removed, report.added, report.renamed), (1, 1, 1));
    // Every embed of diagram.png now dangles (Obsidian would have rewritten them; Atelier
    // never writes into the user's notes): five in Home, one in Guide, one in the canvas.
    assert_eq!(report.dangling_links, 7, "{report:#?}");
    assert!(documents(&pv).contains("Attachments/figure.png"));
    assert!(!documents(&pv).contains(DIAGRAM));
    refused(&pv.vault, "NOT_FOUND", || {
        pv.atelier.document_show(&owner(), &old.to_string())
    });
    let related = pv
        .atelier
        .related(&owner(), "obsidian:Home.md", 20)
        .expect("related");
    assert!(related.iter().all(|r| r.document.id != old), "{related:?}");
    assert!(
        pv.atelier
            .related(&owner(), "obsidian:Attachments/figure.png", 20)
            .expect("related")
            .iter()
            .all(|r| !r.reasons.contains(&RelatedReason::EmbeddedIn)),
        "nothing embeds the renamed file yet"
    );
    assert_indexes_agree(&pv);

    // Deleting the PDF takes its pages out of every index.
    std::fs::remove_file(pv.root().join(GUIDE_PDF)).expect("remove");
    let report = pv.ingest();
    assert_eq!(report.removed, 1);
    assert_eq!(words(&pv, "hectopascals"), []);
    assert_eq!(
        count(
            &pv,
            "SELECT COUNT(*) FROM chunks WHERE body LIKE '%hectopascals%'"
        ),
        0
    );
    assert_indexes_agree(&pv);
}

/// Bad input (TESTING.md recipe 6): each hostile attachment is kept as a vault item without
/// its content, with its reason in the report; an attachment over the cap is skipped; the note
/// beside them reads as if they were not there; nothing panics.
#[test]
fn hostile_attachments_are_kept_without_content_and_nothing_else_changes() {
    let pv = ProjectVault::of("hostile");
    let report = pv.ingest();
    assert_eq!(
        skipped(&report, SkipReason::Unparsable),
        paths(&[
            "Board.canvas",
            "bomb-deep.pdf",
            "corrupt.pdf",
            "truncated.png"
        ]),
        "{report:#?}"
    );
    assert_eq!(
        skipped(&report, SkipReason::TooComplex),
        paths(&["bomb-pages.pdf"])
    );
    assert_eq!(report.added, 6);
    assert_eq!(
        report.dangling_links, 0,
        "links to kept attachments resolve"
    );
    assert_eq!(
        count(
            &pv,
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id
              WHERE d.path <> 'Notes.md'"
        ),
        0,
        "no content was read from a hostile file"
    );
    let truncated = pv
        .atelier
        .document_show(&owner(), "hostile:truncated.png")
        .expect("show")
        .media
        .expect("media");
    assert_eq!(
        (truncated.media_type.as_str(), truncated.width),
        ("image/png", None)
    );
    assert_eq!(
        words(&pv, "hostile attachments"),
        [("Notes.md".to_owned(), (1, 5))]
    );
    assert_indexes_agree(&pv);

    // Over the cap: skipped and counted, not a document; nothing else changes.
    let before = (documents(&pv), count(&pv, "SELECT COUNT(*) FROM chunks"));
    let cap = usize::try_from(ATTACHMENT_CAP).expect("small");
    let mut big = std::fs::read(pv.root().join("truncated.png")).expect("read");
    big.resize(cap + 1, 0);
    std::fs::write(pv.root().join("poster.png"), big).expect("write");
    let report = pv.ingest();
    assert_eq!(
        skipped(&report, SkipReason::TooLarge),
        paths(&["poster.png"])
    );
    assert_eq!((report.added, report.changed), (0, 0));
    assert_eq!(
        (documents(&pv), count(&pv, "SELECT COUNT(*) FROM chunks")),
        before
    );
}
