//! Unit tests of search: snippets, query reading, fusion and the collapse into documents.

use super::*;

#[test]
fn reciprocal_rank_fusion_rewards_agreement() {
    let fused = fuse(&[&[1, 2, 3], &[3, 1, 4]]);
    let order: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, [1, 3, 2, 4]);
    assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
}

#[test]
fn snippets_and_excerpts_mark_the_matched_words() {
    let parts = marked_parts("the \u{2}storm\u{3} broke");
    assert_eq!(
        parts,
        [
            SnippetPart {
                text: "the ".into(),
                highlight: false
            },
            SnippetPart {
                text: "storm".into(),
                highlight: true
            },
            SnippetPart {
                text: " broke".into(),
                highlight: false
            },
        ]
    );
    let parts = excerpt("Storm at sea", &terms("storm"));
    assert_eq!(
        parts[0],
        SnippetPart {
            text: "Storm".into(),
            highlight: true
        }
    );
    assert_eq!(terms("Don't panic!"), ["don", "t", "panic"]);
}

#[test]
fn a_question_keeps_its_telling_words_and_its_phrases() {
    let q = Query::parse(
        "why does my sidebar disappear when I resize the window",
        false,
    );
    assert_eq!(q.words, ["sidebar", "disappear", "resize", "window"]);
    assert_eq!(
        q.expression().as_deref(),
        Some("\"sidebar\" OR \"disappear\" OR \"resize\" OR \"window\"")
    );
    let q = Query::parse("\"storm at sea\" harbour harbour", true);
    assert_eq!(q.words, ["harbour"], "a repeated word counts once");
    assert_eq!(
        q.phrases,
        [vec!["storm", "at", "sea"]],
        "a phrase keeps its common words"
    );
    assert_eq!(
        q.expression().as_deref(),
        Some("\"harbour\" AND \"storm at sea\"")
    );
    // Nothing but common words: they are what the user asked for.
    assert_eq!(
        Query::parse("to be or not", false).words,
        ["to", "be", "or", "not"]
    );
    // Operators and quotes inside words cannot reach FTS5.
    let q = Query::parse("NEAR(a b) OR \"unclosed", false);
    assert_eq!(q.words, ["near", "b"], "\"a\" is a common word");
    assert_eq!(q.phrases, [vec!["unclosed"]]);
    assert_eq!(Query::parse("?!", false).expression(), None);
}

#[test]
fn passages_collapse_into_documents_ranked_by_fusion() {
    // Document 10 has the best passage by words, document 20 by meaning; 20's two
    // passages collapse into one hit with the other beneath.
    let found = Found {
        words: vec![(1, 10, 5.0), (3, 20, 4.0), (2, 20, 3.0)],
        meaning: vec![(2, 20, 0.9), (1, 10, 0.8)],
    };
    let hits = rank(&found, SearchMode::Hybrid, false, 10);
    let order: Vec<i64> = hits.iter().map(|h| h.chunk).collect();
    assert_eq!(
        order,
        [2, 1],
        "meaning weighs more; document 20 shows its best passage"
    );
    assert_eq!(hits[0].others, [(3, hits[0].others[0].1)]);
    assert_eq!(hits[0].explain.words.map(|p| p.rank), Some(2));
    assert_eq!(hits[0].explain.meaning.map(|p| p.rank), Some(1));
    assert_eq!(hits[0].passage_ranks, (Some(3), Some(1)));
    let raw = rank(&found, SearchMode::Text, true, 10);
    assert_eq!(raw.iter().map(|h| h.chunk).collect::<Vec<_>>(), [1, 3, 2]);
    assert!(raw.iter().all(|h| h.others.is_empty()));
    let docs = rank(&found, SearchMode::Text, false, 1);
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0].chunk, docs[0].score), (1, 5.0));
}
