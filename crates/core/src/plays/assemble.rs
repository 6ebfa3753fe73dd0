//! ASSET assembly: the Assistant (the role's system prompt), Sources (canon blocks, then
//! retrieved passages, each with a citation id, within a token budget), Structured output (the
//! shape), Expectations (the gates, in words) and the Task (the rendered template).
//!
//! Deterministic: the same inputs give the same bytes, so a preview is exactly what is sent and
//! the shipped plays' prompts are snapshot-tested. Token counts are estimates (four characters a
//! token, the common rule for English); the provider's own count arrives with its usage.

use super::spec::{Count, Expectation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A source offered to a step, before the budget decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SourceCandidate {
    /// Canon block or passage.
    pub kind: SourceKind,
    /// A title for people (the block's title, or `path › heading`).
    pub title: String,
    /// What it points at (`canon:12`, `chunk:345`), for lineage.
    pub reference: String,
    /// Its text.
    pub text: String,
}

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A curated canon block.
    Canon,
    /// A passage found by search.
    Passage,
}

/// A source that made it into the prompt, with its citation id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CitedSource {
    /// `S1`, `S2`, …
    pub citation: String,
    /// The source.
    pub source: SourceCandidate,
    /// Its estimated tokens.
    pub tokens: u32,
}

/// A source left out because the budget was spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CutSource {
    /// Its title.
    pub title: String,
    /// What it points at.
    pub reference: String,
    /// Its estimated tokens.
    pub tokens: u32,
}

/// One of the five sections, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Section {
    /// `Assistant`, `Sources`, `Structured output`, `Expectations`, `Task`.
    pub name: String,
    /// The section's text.
    pub text: String,
    /// Its estimated tokens.
    pub tokens: u32,
}

/// The prompt of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Assembled {
    /// The system message: Assistant and Expectations.
    pub system: String,
    /// The user message: Sources, Structured output and Task.
    pub prompt: String,
    /// The five sections with their token estimates.
    pub sections: Vec<Section>,
    /// Sources included, in citation order.
    pub sources: Vec<CitedSource>,
    /// Sources cut to fit the budget.
    pub cut: Vec<CutSource>,
    /// The Sources budget.
    pub budget_tokens: u32,
    /// Estimated tokens of the whole prompt.
    pub total_tokens: u32,
}

/// The shape of a step's output, resolved from the catalog or inline.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedShape {
    /// A Markdown template.
    Markdown(String),
    /// A JSON Schema.
    Json(Value),
}

/// Everything one step's prompt is made of.
#[derive(Debug, Clone)]
pub struct AssemblyInput<'a> {
    /// The role's name.
    pub role: &'a str,
    /// The role's system prompt.
    pub role_prompt: &'a str,
    /// Canon blocks first, then passages by rank: the order in which the budget admits them.
    pub candidates: Vec<SourceCandidate>,
    /// The Sources budget.
    pub budget_tokens: u32,
    /// The output's shape.
    pub shape: Option<&'a ResolvedShape>,
    /// The gates.
    pub expectations: &'a [Expectation],
    /// Counts of templated expectations, already resolved (same order as their appearance).
    pub resolved_counts: &'a [u32],
    /// The rendered task.
    pub task: &'a str,
}

/// Estimated tokens of `text`: one per four characters, rounded up.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// Builds the prompt.
pub fn assemble(input: &AssemblyInput<'_>) -> Assembled {
    let mut sources = Vec::new();
    let mut cut = Vec::new();
    let mut spent = 0u32;
    for candidate in &input.candidates {
        let block = source_block(&format!("S{}", sources.len() + 1), candidate);
        let tokens = estimate_tokens(&block);
        if spent.saturating_add(tokens) <= input.budget_tokens {
            spent += tokens;
            sources.push(CitedSource {
                citation: format!("S{}", sources.len() + 1),
                source: candidate.clone(),
                tokens,
            });
        } else {
            cut.push(CutSource {
                title: candidate.title.clone(),
                reference: candidate.reference.clone(),
                tokens,
            });
        }
    }
    let assistant = format!(
        "You are acting as the `{}` role.\n\n{}",
        input.role,
        input.role_prompt.trim()
    );
    let sources_text = if sources.is_empty() {
        "No sources were selected for this step.".to_owned()
    } else {
        let blocks: Vec<String> = sources
            .iter()
            .map(|s| source_block(&s.citation, &s.source))
            .collect();
        format!(
            "Use these sources. Each has an id in brackets; cite the ones you use like [S1].\n\n{}",
            blocks.join("\n\n")
        )
    };
    let shape_text = match input.shape {
        None => "Answer in plain Markdown.".to_owned(),
        Some(ResolvedShape::Markdown(template)) => format!(
            "Answer in Markdown following this template, keeping its headings:\n\n{}",
            template.trim()
        ),
        Some(ResolvedShape::Json(schema)) => format!(
            "Answer with one JSON value, and nothing else, valid against this JSON Schema:\n\n{}",
            serde_json::to_string_pretty(schema).unwrap_or_else(|_| schema.to_string())
        ),
    };
    let expectations_text = expectations_text(input.expectations, input.resolved_counts);
    let task = input.task.trim().to_owned();
    let section = |name: &str, text: String| Section {
        name: name.to_owned(),
        tokens: estimate_tokens(&text),
        text,
    };
    let sections = vec![
        section("Assistant", assistant),
        section("Sources", sources_text),
        section("Structured output", shape_text),
        section("Expectations", expectations_text),
        section("Task", task),
    ];
    let system = format!(
        "{}\n\n## Expectations\n\n{}",
        sections[0].text, sections[3].text
    );
    let prompt = format!(
        "## Sources\n\n{}\n\n## Structured output\n\n{}\n\n## Task\n\n{}",
        sections[1].text, sections[2].text, sections[4].text
    );
    let total_tokens = estimate_tokens(&system) + estimate_tokens(&prompt);
    Assembled {
        system,
        prompt,
        sections,
        sources,
        cut,
        budget_tokens: input.budget_tokens,
        total_tokens,
    }
}

fn source_block(citation: &str, source: &SourceCandidate) -> String {
    format!(
        "[{citation}] {} ({})\n{}",
        source.title,
        source.reference,
        source.text.trim()
    )
}

fn expectations_text(expectations: &[Expectation], resolved: &[u32]) -> String {
    let mut counts = resolved.iter();
    let mut count = |c: &Count| match c {
        Count::Literal(n) => n.to_string(),
        Count::Template(t) => counts.next().map_or_else(|| t.clone(), u32::to_string),
    };
    let lines: Vec<String> = expectations
        .iter()
        .map(|e| match e {
            Expectation::MaxWords(c) => format!("- At most {} words.", count(c)),
            Expectation::MinWords(c) => format!("- At least {} words.", count(c)),
            Expectation::RequiredSections(s) => {
                format!("- These sections, as Markdown headings: {}.", s.join(", "))
            }
            Expectation::JsonSchema(_) => {
                "- One JSON value valid against the schema under Structured output.".to_owned()
            }
            Expectation::Regex(p) => format!("- The answer matches the pattern `{p}`."),
            Expectation::Forbidden(p) => format!("- Never write: {}.", p.join("; ")),
            Expectation::MustCiteSources(true) => {
                "- Cite the sources you use by id, like [S1]; cite only sources given above."
                    .to_owned()
            }
            Expectation::MustCiteSources(false) => "- Citing sources is optional.".to_owned(),
            Expectation::Rubric(r) => format!("- A reviewer will judge: {}", r.trim()),
        })
        .collect();
    if lines.is_empty() {
        "No expectations beyond the task.".to_owned()
    } else {
        format!(
            "Your answer is checked against these, and rejected if it misses one:\n{}",
            lines.join("\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(kind: SourceKind, title: &str, text: &str) -> SourceCandidate {
        SourceCandidate {
            kind,
            title: title.to_owned(),
            reference: format!("ref:{title}"),
            text: text.to_owned(),
        }
    }

    #[test]
    fn sources_are_admitted_in_order_until_the_budget_is_spent_and_the_rest_reported() {
        let long = "word ".repeat(200);
        let candidates = vec![
            candidate(SourceKind::Canon, "Canon A", "short canon"),
            candidate(SourceKind::Passage, "Long", &long),
            candidate(SourceKind::Passage, "Short", "short passage"),
        ];
        let input = AssemblyInput {
            role: "writer",
            role_prompt: "You write.",
            candidates,
            budget_tokens: 60,
            shape: None,
            expectations: &[Expectation::MustCiteSources(true)],
            resolved_counts: &[],
            task: "Do it.",
        };
        let a = assemble(&input);
        let cited: Vec<(&str, &str)> = a
            .sources
            .iter()
            .map(|s| (s.citation.as_str(), s.source.title.as_str()))
            .collect();
        assert_eq!(cited, vec![("S1", "Canon A"), ("S2", "Short")]);
        assert_eq!(a.cut.len(), 1);
        assert_eq!(a.cut[0].title, "Long");
        assert!(a.prompt.contains("[S2] Short (ref:Short)\nshort passage"));
        assert!(a.sources.iter().map(|s| s.tokens).sum::<u32>() <= 60);
        assert_eq!(a, assemble(&input), "deterministic");
    }

    #[test]
    fn sections_appear_in_asset_order_with_counts() {
        let shape = ResolvedShape::Markdown("## Voice".to_owned());
        let input = AssemblyInput {
            role: "writer",
            role_prompt: "You write.",
            candidates: Vec::new(),
            budget_tokens: 100,
            shape: Some(&shape),
            expectations: &[Expectation::MaxWords(Count::Template("{{ n }}".to_owned()))],
            resolved_counts: &[300],
            task: "Write.",
        };
        let a = assemble(&input);
        let names: Vec<&str> = a.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Assistant",
                "Sources",
                "Structured output",
                "Expectations",
                "Task"
            ]
        );
        assert!(a.system.contains("At most 300 words."));
        assert!(a.prompt.ends_with("## Task\n\nWrite."));
        assert!(
            a.sections
                .iter()
                .all(|s| s.tokens == estimate_tokens(&s.text))
        );
    }
}
