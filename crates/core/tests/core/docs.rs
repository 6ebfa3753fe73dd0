//! Document intelligence on the committed fixture project: what ingest reads and skips, link
//! resolution, incremental re-ingest, no stale rows anywhere, search, the watcher and hooks.
//! Real SQLite, real Kuzu, real Qdrant Edge, the real model.

use crate::fixture::{ProjectVault, owner, refused};
use atelier_core::api::{HookAction, HookAdd, ProjectAdd, SearchRequest};
use atelier_core::documents::search::{SearchFilter, SearchMode};
use atelier_core::documents::walk::SkipReason;
use atelier_core::documents::watch::{ProjectWatcher, WatchSignal, WatchedProject};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub(crate) fn documents(pv: &ProjectVault) -> BTreeSet<String> {
    let conn = pv.vault.sqlite();
    let mut stmt = conn.prepare("SELECT path FROM documents").expect("prepare");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

/// The paths the report names as skipped for `reason`.
pub(crate) fn skipped(
    report: &atelier_core::api::IngestReport,
    reason: SkipReason,
) -> BTreeSet<String> {
    report
        .skipped
        .iter()
        .filter(|s| s.reason == reason)
        .flat_map(|s| s.examples.clone())
        .collect()
}

pub(crate) fn count(pv: &ProjectVault, sql: &str) -> i64 {
    pv.vault
        .sqlite()
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

/// Every index agrees with SQLite: the full-text index has every chunk and no other, the
/// vector index one point per embedded chunk, the graph one node per document and one edge
/// per distinct resolved link.
pub(crate) fn assert_indexes_agree(pv: &ProjectVault) {
    let chunks = count(pv, "SELECT COUNT(*) FROM chunks");
    let fts = count(pv, "SELECT COUNT(*) FROM passages_fts");
    assert_eq!(fts, chunks, "full-text rows vs chunks");
    let orphans = count(
        pv,
        "SELECT COUNT(*) FROM passages_fts f WHERE f.rowid NOT IN (SELECT id FROM chunks)",
    );
    assert_eq!(orphans, 0, "full-text rows without a chunk");
    let stale = count(
        pv,
        "SELECT COUNT(*) FROM passages_fts f JOIN chunks c ON c.id = f.rowid
           JOIN documents d ON d.id = c.document_id
          WHERE f.title IS NOT d.title OR f.path IS NOT d.path OR f.aliases IS NOT d.aliases
             OR f.heading IS NOT c.heading OR f.body IS NOT c.body",
    );
    assert_eq!(
        stale, 0,
        "full-text rows whose fields are not their document's"
    );
    let embedded = count(
        pv,
        "SELECT COUNT(*) FROM chunks c JOIN embeddings e ON e.text_hash = c.text_hash",
    );
    let status = pv.atelier.status();
    let vectors = status.vectors.expect("vector status");
    assert_eq!(vectors.problem, None);
    assert_eq!(
        vectors.points,
        Some(embedded),
        "vector points vs embedded chunks"
    );
    let graph = status.graph.expect("graph status");
    assert_eq!(graph.problem, None);
    assert_eq!(
        status.counts.expect("counts").documents,
        count(pv, "SELECT COUNT(*) FROM documents")
    );
}

#[test]
fn ingest_reads_the_fixture_and_skips_what_it_must() {
    let pv = ProjectVault::new();
    let report = pv.ingest();
    let expected: BTreeSet<String> = [
        ".atelierignore",
        ".gitignore",
        "Characters/Mara.md",
        "Drafts/Lighthouse.md",
        "Places/Lighthouse.md",
        "chapters/01-storm.md",
        "chapters/02-calm.md",
        "episode.fountain",
        "index.md",
        "map.png",
        "notes.txt",
        "plot.org",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .filter(|p| !p.starts_with('.'))
    .collect();
    assert_eq!(documents(&pv), expected, "{report:#?}");
    let skipped = |reason: SkipReason| skipped(&report, reason);
    assert_eq!(
        skipped(SkipReason::Symlink),
        ["escape.md", "loop", "outside-link"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    );
    assert_eq!(
        skipped(SkipReason::Binary),
        BTreeSet::from(["blob.dat".to_owned()])
    );
    assert_eq!(
        skipped(SkipReason::TooLarge),
        BTreeSet::from(["huge.md".to_owned()])
    );
    assert_eq!(report.added, 10, "{report:#?}");
    assert_eq!(report.unembedded, 0);
    assert!(report.embedded > 0);
    // Nothing from outside the root, nor from ignored folders, reached the vault.
    for canary in ["CANARY-OUTSIDE-ROOT", "Private diary", "Build output"] {
        assert_eq!(
            count(
                &pv,
                &format!("SELECT COUNT(*) FROM chunks WHERE body LIKE '%{canary}%'")
            ),
            0,
            "{canary}"
        );
    }
    // Kinds by extension, frontmatter kept whole.
    let conn = pv.vault.sqlite();
    let kind: String = conn
        .query_row(
            "SELECT kind FROM documents WHERE path = 'episode.fountain'",
            [],
            |r| r.get(0),
        )
        .expect("kind");
    assert_eq!(kind, "fountain");
    let index = pv
        .atelier
        .document_show(&owner(), "novel:index.md")
        .expect("show");
    assert_eq!(index.document.title, "The Lighthouse Keeper — series bible");
    assert_eq!(index.tags, ["bible", "novel", "worldbuilding"]);
    let frontmatter: serde_json::Value = serde_json::from_str(&index.frontmatter).expect("json");
    assert_eq!(frontmatter["status"], "draft");
    assert_eq!(frontmatter["rating"], 4);
    assert_indexes_agree(&pv);
}

#[test]
fn links_resolve_like_obsidian_and_dangling_ones_resolve_when_the_target_appears() {
    let pv = ProjectVault::new();
    let report = pv.ingest();
    let index = pv
        .atelier
        .document_show(&owner(), "index.md")
        .expect("show");
    let links: Vec<(String, String, Option<String>)> = index
        .links
        .iter()
        .map(|l| {
            (
                l.form.clone(),
                l.target.clone(),
                l.resolved.as_ref().map(|d| d.path.clone()),
            )
        })
        .collect();
    let mara = Some("Characters/Mara.md".to_owned());
    assert_eq!(
        links,
        [
            ("wikilink".into(), "Mara".into(), mara.clone()),
            ("wikilink".into(), "Mara".into(), mara.clone()),
            (
                "wikilink".into(),
                "Places/Lighthouse".into(),
                Some("Places/Lighthouse.md".into())
            ),
            ("embed".into(), "map.png".into(), Some("map.png".into())),
            ("wikilink".into(), "The Keeper".into(), mara.clone()),
            (
                "wikilink".into(),
                "Drafts/Lighthouse".into(),
                Some("Drafts/Lighthouse.md".into())
            ),
            ("wikilink".into(), "The Drowned Bell".into(), None),
            ("markdown".into(), "Characters/Mara.md".into(), mara.clone()),
            (
                "markdown".into(),
                "chapters/01-storm.md".into(),
                Some("chapters/01-storm.md".into())
            ),
        ]
    );
    assert_eq!(index.links[2].heading.as_deref(), Some("History"));
    assert_eq!(index.links[1].label.as_deref(), Some("the keeper"));
    // [[Lighthouse]] from Characters/ is ambiguous (Places/, Drafts/): the first path wins.
    let mara_doc = pv
        .atelier
        .document_show(&owner(), "Characters/Mara.md")
        .expect("show");
    assert_eq!(
        mara_doc.links[0].resolved.as_ref().map(|d| d.path.as_str()),
        Some("Drafts/Lighthouse.md")
    );
    assert!(
        mara_doc
            .backlinks
            .iter()
            .any(|b| b.source.path == "index.md")
    );
    let dangling_before = report.dangling_links;
    // The missing note appears: the dangling link resolves, in SQLite and in the graph.
    std::fs::write(
        pv.root().join("The Drowned Bell.md"),
        "# The Drowned Bell\n\nIt rings under the sea.\n",
    )
    .expect("write");
    let report = pv.ingest();
    assert_eq!(report.dangling_links, dangling_before - 1);
    let index = pv
        .atelier
        .document_show(&owner(), "index.md")
        .expect("show");
    assert_eq!(
        index.links[6].resolved.as_ref().map(|d| d.path.as_str()),
        Some("The Drowned Bell.md")
    );
    let related = pv
        .atelier
        .related(&owner(), "The Drowned Bell.md", 10)
        .expect("related");
    assert!(
        related.iter().any(|r| r.document.path == "index.md"
            && r.reasons
                .contains(&atelier_core::api::RelatedReason::LinkedFrom)),
        "{related:#?}"
    );
    assert_indexes_agree(&pv);
}

#[test]
fn reingest_is_incremental_and_renames_and_deletions_leave_nothing_stale() {
    let pv = ProjectVault::new();
    pv.ingest();
    let chunk_ids = |pv: &ProjectVault, path: &str| -> Vec<i64> {
        let conn = pv.vault.sqlite();
        let mut stmt = conn
            .prepare("SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path = ?1 ORDER BY c.seq")
            .expect("prepare");
        stmt.query_map([path], |r| r.get(0))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    let before = chunk_ids(&pv, "Places/Lighthouse.md");
    // Nothing changed: nothing is written or embedded.
    let again = pv.ingest();
    assert_eq!(
        (
            again.added,
            again.changed,
            again.removed,
            again.chunks_written,
            again.embedded
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(again.unchanged, 10);
    // A touched file with the same bytes is not re-chunked.
    let lighthouse = pv.root().join("Places/Lighthouse.md");
    let text = std::fs::read_to_string(&lighthouse).expect("read");
    std::fs::write(&lighthouse, &text).expect("rewrite");
    let touched = pv.ingest();
    assert_eq!((touched.changed, touched.chunks_written), (0, 0));
    // An edited file: only its changed passage is new; the others keep their ids. The edit
    // keeps the size, and its modification time is put back to the one the vault recorded, as
    // a file system with a coarse clock does for two saves inside one tick: the file was
    // written just before it was ingested, so the vault compares its content, not its time.
    let stamped = std::fs::metadata(&lighthouse)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(
        &lighthouse,
        text.replace("ninety-one steps", "ninety-two steps"),
    )
    .expect("edit");
    std::fs::File::options()
        .write(true)
        .open(&lighthouse)
        .and_then(|f| f.set_modified(stamped))
        .expect("restore mtime");
    let edited = pv.ingest();
    assert_eq!(edited.changed, 1);
    assert_eq!(
        edited.embedded, 1,
        "only the edited passage is embedded again"
    );
    let after = chunk_ids(&pv, "Places/Lighthouse.md");
    assert_eq!(before.len(), after.len());
    assert_eq!(before.iter().zip(&after).filter(|(a, b)| a != b).count(), 1);
    // A rename: no re-embedding, the old path gone everywhere.
    std::fs::rename(
        pv.root().join("chapters/02-calm.md"),
        pv.root().join("chapters/02-still-water.md"),
    )
    .expect("rename");
    let renamed = pv.ingest();
    assert_eq!(
        (
            renamed.added,
            renamed.removed,
            renamed.renamed,
            renamed.embedded
        ),
        (1, 1, 1, 0)
    );
    assert!(!documents(&pv).contains("chapters/02-calm.md"));
    // A deletion.
    std::fs::remove_file(pv.root().join("notes.txt")).expect("delete");
    let deleted = pv.ingest();
    assert_eq!(deleted.removed, 1);
    assert_eq!(
        count(
            &pv,
            "SELECT COUNT(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
        ),
        0
    );
    assert_eq!(
        count(
            &pv,
            "SELECT COUNT(*) FROM links WHERE source_id NOT IN (SELECT id FROM documents)"
        ),
        0
    );
    let hits = pv
        .atelier
        .search(
            &owner(),
            SearchRequest {
                query: "mercury baths friction".into(),
                mode: SearchMode::Text,
                filter: SearchFilter::default(),
                limit: None,
                ..Default::default()
            },
        )
        .expect("search");
    assert!(
        hits.iter().all(|h| h.source.path != "notes.txt"),
        "{hits:#?}"
    );
    assert_indexes_agree(&pv);
    // The indexes rebuilt from SQLite alone hold the same, without re-embedding.
    let report = pv.atelier.reindex(&owner()).expect("reindex");
    assert_eq!(
        report.documents,
        count(&pv, "SELECT COUNT(*) FROM documents")
    );
    assert_eq!(report.vectors, count(&pv, "SELECT COUNT(*) FROM chunks"));
    assert_indexes_agree(&pv);
}

fn embedder() -> atelier_core::embed::Embedder {
    let dir = atelier_core::embed::locate(&atelier_core::embed::search_path(
        std::path::Path::new("/nonexistent"),
        &atelier_core::vault::process_env,
    ))
    .expect("the model is installed by scripts/install-deps.sh");
    atelier_core::embed::Embedder::load(&dir).expect("load")
}

#[test]
fn passages_fit_the_model_window_counted_again_by_its_tokenizer() {
    use atelier_core::documents::chunk::{TokenCount, context, embedded_text};
    let pv = ProjectVault::new();
    pv.ingest();
    let tokenizer = embedder();
    let conn = pv.vault.sqlite();
    let mut stmt = conn
        .prepare(
            "SELECT c.heading, c.body, c.embeds_heading, c.tokens, d.title
               FROM chunks c JOIN documents d ON d.id = c.document_id",
        )
        .expect("prepare");
    let rows: Vec<(String, String, bool, i64, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert!(rows.len() > 10);
    for (heading, body, embeds_heading, stored, title) in rows {
        let text = embedded_text(&context(&title, &heading), &body, embeds_heading);
        let tokens = tokenizer.tokens(&text);
        assert_eq!(tokens as i64, stored, "stored count for {text:?}");
        assert!(tokens + 2 <= 256, "{tokens} tokens: {text:?}");
    }
    // The long section of the lighthouse note was split, and its passages keep the heading.
    let lens = count(
        &pv,
        "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id
          WHERE d.path = 'Places/Lighthouse.md' AND c.heading = 'Skerry Point Lighthouse > The lens'",
    );
    assert!(lens >= 2, "the lens section should be split, got {lens}");
}

/// The labelled query set: each query must find its passage among the first three results.
/// Words mode (TESTING.md recipe 1, real parts on a temp vault): any word ranks, a question's
/// common words do not count, quoted phrases match whole, `all_words` needs every one, and only
/// what matched is marked.
#[test]
fn words_mode_ranks_any_word_keeps_phrases_and_can_require_every_word() {
    let pv = ProjectVault::new();
    pv.ingest();
    let search = |query: &str, all_words: bool, passages: bool| {
        pv.atelier
            .search(
                &owner(),
                SearchRequest {
                    query: query.to_owned(),
                    mode: SearchMode::Text,
                    limit: Some(20),
                    all_words,
                    passages,
                    ..Default::default()
                },
            )
            .expect("search")
    };
    let paths = |hits: &[atelier_core::documents::search::SearchHit]| {
        hits.iter()
            .map(|h| h.source.path.clone())
            .collect::<Vec<_>>()
    };
    // No passage holds every word of the question; before, that found nothing.
    let question = "why did the trawler vanish between the waves and where is the oar";
    let hits = search(question, false, false);
    assert_eq!(
        paths(&hits).first().map(String::as_str),
        Some("chapters/01-storm.md")
    );
    assert!(
        search(question, true, false).is_empty(),
        "every word: none has them all"
    );
    // One result per document, its other matching passage beneath.
    let storm = &hits[0];
    assert_eq!(storm.others.len(), 1, "{storm:#?}");
    assert_eq!(
        paths(&hits)
            .iter()
            .filter(|p| *p == "chapters/01-storm.md")
            .count(),
        1
    );
    let raw = search(question, false, true);
    assert!(
        raw.iter()
            .filter(|h| h.source.path == "chapters/01-storm.md")
            .count()
            >= 2
    );
    // Marked words are the ones that matched, stemmed ("waves" for "waves", "vanish"), never
    // a common word of the question.
    let marked: Vec<String> = hits
        .iter()
        .flat_map(|h| {
            h.snippet
                .iter()
                .filter(|p| p.highlight)
                .map(|p| p.text.to_lowercase())
        })
        .collect();
    assert!(
        marked.iter().any(|w| w == "trawler's" || w == "trawler"),
        "{marked:?}"
    );
    for common in ["the", "and", "is", "where", "why", "did"] {
        assert!(
            !marked.iter().any(|w| w == common),
            "{common} marked: {marked:?}"
        );
    }
    // A phrase matches whole: in this order only.
    let mut phrase = paths(&search("\"single oar\"", false, false));
    phrase.sort();
    assert_eq!(phrase, ["chapters/01-storm.md", "plot.org"]);
    assert!(search("\"oar single\"", false, false).is_empty());
    // Every word, including a phrase, in one passage.
    assert_eq!(
        paths(&search("\"supply boat\" flour", true, false)),
        ["chapters/02-calm.md"]
    );
    assert!(search("\"supply boat\" trawler", true, false).is_empty());
    // Asked for, the explanation names the fields the words matched; not asked, it does not
    // (and costs no pass over the index), the ranks being there either way.
    let explained = |query: &str, explain: bool| {
        pv.atelier
            .search(
                &owner(),
                SearchRequest {
                    query: query.to_owned(),
                    mode: SearchMode::Text,
                    explain,
                    ..Default::default()
                },
            )
            .expect("search")
    };
    let plain = explained("calm water", false);
    assert!(plain[0].explain.fields.is_empty(), "{:?}", plain[0].explain);
    assert_eq!(plain[0].explain.words.map(|p| p.rank), Some(1));
    let titled = explained("calm water", true);
    let fields: Vec<&str> = titled[0]
        .explain
        .fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(titled[0].source.path, "chapters/02-calm.md");
    assert!(fields.contains(&"title"), "{fields:?}");
    assert_eq!(titled[0].explain.words.map(|p| p.rank), Some(1));
}

#[test]
fn search_finds_the_labelled_passages_in_every_mode() {
    let pv = ProjectVault::new();
    pv.ingest();
    let labelled: &[(&str, SearchMode, &str)] = &[
        (
            "granite tower fresnel",
            SearchMode::Text,
            "Places/Lighthouse.md",
        ),
        ("trawler", SearchMode::Text, "chapters/01-storm.md"),
        (
            "a violent gale at night with huge waves",
            SearchMode::Vector,
            "chapters/01-storm.md",
        ),
        (
            "when was the light first built",
            SearchMode::Vector,
            "Places/Lighthouse.md",
        ),
        (
            "bread flour supply boat",
            SearchMode::Hybrid,
            "chapters/02-calm.md",
        ),
        (
            "who keeps the lighthouse",
            SearchMode::Hybrid,
            "Characters/Mara.md",
        ),
    ];
    for (query, mode, expected) in labelled {
        let hits = pv
            .atelier
            .search(
                &owner(),
                SearchRequest {
                    query: (*query).to_owned(),
                    mode: *mode,
                    filter: SearchFilter::default(),
                    limit: Some(3),
                    ..Default::default()
                },
            )
            .expect("search");
        assert!(
            hits.iter().any(|h| h.source.path == *expected),
            "{query:?} ({mode:?}) should find {expected}: {:?}",
            hits.iter().map(|h| &h.source.path).collect::<Vec<_>>()
        );
        let top = &hits[0];
        assert!(top.score > 0.0);
        if *mode == SearchMode::Text {
            assert!(top.snippet.iter().any(|p| p.highlight), "{top:#?}");
        }
    }
    // Filters narrow both legs.
    let filtered = pv
        .atelier
        .search(
            &owner(),
            SearchRequest {
                query: "lighthouse".into(),
                mode: SearchMode::Hybrid,
                filter: SearchFilter {
                    tag: Some("chapter".into()),
                    path: Some("chapters/**".into()),
                    ..SearchFilter::default()
                },
                limit: Some(20),
                ..Default::default()
            },
        )
        .expect("search");
    assert!(!filtered.is_empty());
    assert!(
        filtered
            .iter()
            .all(|h| h.source.path.starts_with("chapters/")),
        "{filtered:#?}"
    );
}

#[test]
fn bad_inputs_are_refused_with_typed_errors_and_change_nothing() {
    let pv = ProjectVault::new();
    let file = pv.root().join("index.md");
    for (path, name) in [
        ("".to_owned(), None),
        ("/definitely/not/here".to_owned(), None),
        (file.display().to_string(), None),
        ("a\0b".to_owned(), None),
        (
            pv.root().join("chapters").display().to_string(),
            Some("inner".to_owned()),
        ),
        (
            pv.vault
                .dir
                .path()
                .join("work/outside")
                .display()
                .to_string(),
            Some("novel".to_owned()),
        ),
        (
            pv.vault
                .dir
                .path()
                .join("work/outside")
                .display()
                .to_string(),
            Some("  ".to_owned()),
        ),
    ] {
        let code = if name.as_deref() == Some("novel") {
            "ALREADY_EXISTS"
        } else {
            "INVALID_INPUT"
        };
        refused(&pv.vault, code, || {
            pv.atelier.project_add(
                &owner(),
                ProjectAdd {
                    path: path.clone(),
                    name: name.clone(),
                },
            )
        });
    }
    let search = |query: &str, limit: Option<u32>, path: Option<&str>| {
        pv.atelier.search(
            &owner(),
            SearchRequest {
                query: query.to_owned(),
                mode: SearchMode::Text,
                filter: SearchFilter {
                    path: path.map(str::to_owned),
                    ..SearchFilter::default()
                },
                limit,
                ..Default::default()
            },
        )
    };
    refused(&pv.vault, "INVALID_INPUT", || search("  ", None, None));
    refused(&pv.vault, "INVALID_INPUT", || search("x", Some(0), None));
    refused(&pv.vault, "INVALID_INPUT", || search("x", Some(1000), None));
    refused(&pv.vault, "INVALID_INPUT", || {
        search("x", None, Some("[unclosed"))
    });
    refused(&pv.vault, "NOT_FOUND", || {
        pv.atelier.ingest(&owner(), "nope", &mut |_| {})
    });
    refused(&pv.vault, "NOT_FOUND", || {
        pv.atelier.document_show(&owner(), "nope.md")
    });
    refused(&pv.vault, "INVALID_INPUT", || {
        pv.atelier.hook_add(
            &owner(),
            HookAdd {
                project: "novel".into(),
                glob: "[".into(),
                action: HookAction::Ingest,
                template: None,
            },
        )
    });
    refused(&pv.vault, "INVALID_INPUT", || {
        pv.atelier.hook_add(
            &owner(),
            HookAdd {
                project: "novel".into(),
                glob: "*.md".into(),
                action: HookAction::Task,
                template: None,
            },
        )
    });
    refused(&pv.vault, "NOT_FOUND", || {
        pv.atelier.hook_add(
            &owner(),
            HookAdd {
                project: "nope".into(),
                glob: "*.md".into(),
                action: HookAction::Ingest,
                template: None,
            },
        )
    });
    refused(&pv.vault, "DENIED", || {
        pv.atelier.ingest(
            &atelier_core::access::auth::Principal::Mcp("client".into()),
            "novel",
            &mut |_| {},
        )
    });
}

#[test]
fn hook_rules_create_tasks_from_templates_and_choose_what_is_ingested() {
    let pv = ProjectVault::new();
    pv.ingest();
    let rule = pv
        .atelier
        .hook_add(
            &owner(),
            HookAdd {
                project: "novel".into(),
                glob: "inbox/*.md".into(),
                action: HookAction::Task,
                template: Some("Triage {name}".into()),
            },
        )
        .expect("rule");
    pv.atelier
        .hook_add(
            &owner(),
            HookAdd {
                project: "novel".into(),
                glob: "chapters/**".into(),
                action: HookAction::Ingest,
                template: None,
            },
        )
        .expect("rule");
    assert_eq!(
        pv.atelier
            .hook_list(&owner(), Some("novel"))
            .expect("ls")
            .len(),
        2
    );
    std::fs::create_dir_all(pv.root().join("inbox")).expect("mkdir");
    std::fs::write(
        pv.root().join("inbox/idea.md"),
        "# Idea\n\nA bell that rings by itself.\n",
    )
    .expect("write");
    let apply = |path: &str| {
        pv.atelier
            .apply_changes(&owner(), "novel", &[path.to_owned()], &mut |_| {})
            .expect("apply")
    };
    let (tasks, report) = apply("inbox/idea.md");
    assert_eq!(tasks.len(), 1);
    assert!(report.is_none(), "inbox/ matches no ingest rule");
    let task = pv.atelier.task_show(&owner(), tasks[0]).expect("task");
    assert_eq!(task.task.title, "Triage idea.md");
    let (_, report) = apply("chapters/01-storm.md");
    assert!(report.is_some());
    pv.atelier.hook_remove(&owner(), rule.id).expect("rm");
    let audit = pv.atelier.audit_tail(&owner(), 50).expect("audit");
    assert!(audit.iter().any(|e| e.action == "hook.add"));
    assert!(audit.iter().any(|e| e.action == "hook.remove"));
}

/// Watcher events from real file operations: a write, a burst, a rename and a deletion each
/// reach the watcher as changed paths of the right project, coalesced per batch.
#[test]
fn the_watcher_sees_real_file_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("p");
    std::fs::create_dir_all(root.join("notes")).expect("mkdir");
    let root = root.canonicalize().expect("canonical");
    let mut watcher = ProjectWatcher::start(
        vec![WatchedProject {
            name: "p".into(),
            root: root.clone(),
        }],
        Duration::from_millis(100),
        Duration::from_secs(3600),
        false,
    );
    assert!(!watcher.is_polling("p"));
    let wait_for = |watcher: &mut ProjectWatcher, want: &str| -> Vec<String> {
        let started = Instant::now();
        let mut seen = Vec::new();
        while started.elapsed() < Duration::from_secs(10) {
            for signal in watcher.next(Duration::from_millis(300)) {
                if let WatchSignal::Changed { project, paths } = signal {
                    assert_eq!(project, "p");
                    seen.extend(paths);
                }
            }
            if seen.iter().any(|p| p == want) {
                return seen;
            }
        }
        panic!("no event for {want}; saw {seen:?}");
    };
    std::fs::write(root.join("notes/a.md"), "one").expect("write");
    wait_for(&mut watcher, "notes/a.md");
    for i in 0..20 {
        std::fs::write(root.join("notes/a.md"), format!("burst {i}")).expect("write");
    }
    let burst = wait_for(&mut watcher, "notes/a.md");
    assert!(
        burst.iter().filter(|p| *p == "notes/a.md").count() <= 2,
        "a burst coalesces: {burst:?}"
    );
    std::fs::rename(root.join("notes/a.md"), root.join("notes/b.md")).expect("rename");
    let renamed = wait_for(&mut watcher, "notes/b.md");
    assert!(
        renamed.contains(&"notes/a.md".to_owned()) || renamed.contains(&"notes/b.md".to_owned())
    );
    std::fs::remove_file(root.join("notes/b.md")).expect("delete");
    wait_for(&mut watcher, "notes/b.md");
    drop(watcher);

    // The OS limit, for real: with every inotify instance this user may have taken, a new
    // watcher says so once and falls back to periodic rescans.
    let mut hogs = Vec::new();
    // The dropped watcher closes its own instance from its event thread a moment later: keep
    // taking until none has come free for a while.
    let mut quiet = 0;
    while quiet < 5 {
        let before = hogs.len();
        while let Ok(fd) = rustix::fs::inotify::init(rustix::fs::inotify::CreateFlags::CLOEXEC) {
            hogs.push(fd);
            assert!(hogs.len() < 100_000, "inotify instances seem unlimited");
        }
        quiet = if hogs.len() == before { quiet + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut starved = ProjectWatcher::start(
        vec![WatchedProject {
            name: "p".into(),
            root,
        }],
        Duration::from_millis(100),
        Duration::from_millis(200),
        false,
    );
    let held = hogs.len();
    drop(hogs);
    assert!(
        starved.is_polling("p"),
        "{held} inotify instances held; {starved:?}"
    );
    let mut notices = 0;
    let mut rescans = 0;
    let started = Instant::now();
    while rescans < 2 && started.elapsed() < Duration::from_secs(10) {
        for signal in starved.next(Duration::from_millis(300)) {
            match signal {
                WatchSignal::Notice(_) => notices += 1,
                WatchSignal::Rescan { .. } => rescans += 1,
                WatchSignal::Changed { .. } => {}
            }
        }
    }
    assert_eq!(notices, 1, "the limit is reported once");
    assert!(rescans >= 2);
}

/// The committed reference set: texts and sentence-transformers' vectors for them.
fn reference_vectors() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(crate::fixture::fixtures().join("embeddings/reference.json"))
            .expect("reference"),
    )
    .expect("json")
}

/// The reference vectors of sentence-transformers (scripts/embedding-reference.py) are
/// matched: cosine at least 0.999 for every text of the committed set.
#[test]
fn embeddings_match_sentence_transformers() {
    let reference = reference_vectors();
    let embedder = embedder();
    let items = reference["items"].as_array().expect("items");
    let texts: Vec<&str> = items
        .iter()
        .map(|i| i["text"].as_str().expect("text"))
        .collect();
    let ours = embedder.embed(&texts).expect("embed");
    for (item, vector) in items.iter().zip(&ours) {
        let theirs: Vec<f32> = item["vector"]
            .as_array()
            .expect("vector")
            .iter()
            .map(|x| x.as_f64().expect("number") as f32)
            .collect();
        assert_eq!(vector.len(), 384);
        let dot: f32 = vector.iter().zip(&theirs).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cosine = dot / (norm(vector) * norm(&theirs));
        assert!(cosine >= 0.999, "cosine {cosine} for {:?}", item["text"]);
    }
}

/// The encoder is called from several threads at once (ingest, search and the watcher share
/// it, and it runs one batch per core): every thread gets the vectors a lone call gets. A
/// BLAS that is not reentrant fails this now and then (Debian's serial OpenBLAS did).
#[test]
fn embedding_from_many_threads_at_once_gives_the_same_vectors() {
    let reference = reference_vectors();
    let texts: Vec<&str> = reference["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["text"].as_str().expect("text"))
        .collect();
    let embedder = embedder();
    let alone = embedder.embed(&texts).expect("embed");
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..5)
                        .map(|_| embedder.embed(&texts).expect("embed"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            for round in worker.join().expect("thread") {
                for (ours, lone) in round.iter().zip(&alone) {
                    let worst = ours
                        .iter()
                        .zip(lone)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(worst < 1e-5, "a component differs by {worst}");
                }
            }
        }
    });
}
