//! Machine-checked expectations: each one reads a step's output and says pass or fail with the
//! reason. Rubrics are not here: a judge role reads them (see the runner). A run passes only
//! if every gate of every step passes.

use super::spec::{Count, Expectation};
use super::template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GateResult {
    /// The expectation, as written (`max_words 600`).
    pub expectation: String,
    /// Whether the output meets it.
    pub passed: bool,
    /// What was found (`612 words`), or why it failed.
    pub detail: String,
}

/// What gates need besides the output.
#[derive(Debug, Clone, Copy)]
pub struct GateContext<'a> {
    /// The citation ids the step was given (`S1`, `S2`, …).
    pub citations: &'a [String],
    /// The step's JSON shape, for `json_schema: shape`.
    pub shape_schema: Option<&'a Value>,
    /// Parameters and step outputs, for counts written as templates.
    pub template_context: &'a Value,
}

/// Checks `expectation` against `output`; `None` for a rubric, which a judge decides.
pub fn check(expectation: &Expectation, output: &str, ctx: &GateContext<'_>) -> Option<GateResult> {
    let result = |label: String, passed: bool, detail: String| GateResult {
        expectation: label,
        passed,
        detail,
    };
    Some(match expectation {
        Expectation::MaxWords(count) | Expectation::MinWords(count) => {
            let max = matches!(expectation, Expectation::MaxWords(_));
            let name = if max { "max_words" } else { "min_words" };
            match resolve_count(count, ctx.template_context) {
                Ok(limit) => {
                    let words = word_count(output);
                    let passed = if max { words <= limit } else { words >= limit };
                    result(format!("{name} {limit}"), passed, format!("{words} words"))
                }
                Err(e) => result(format!("{name} {}", count_text(count)), false, e),
            }
        }
        Expectation::RequiredSections(sections) => {
            let found: BTreeSet<String> = headings(output)
                .into_iter()
                .map(|h| h.to_lowercase())
                .collect();
            let missing: Vec<&str> = sections
                .iter()
                .filter(|s| !found.contains(&s.trim().to_lowercase()))
                .map(String::as_str)
                .collect();
            result(
                format!("required_sections {}", sections.join(", ")),
                missing.is_empty(),
                if missing.is_empty() {
                    "all present".to_owned()
                } else {
                    format!("missing: {}", missing.join(", "))
                },
            )
        }
        Expectation::JsonSchema(schema) => {
            let schema = if schema.as_str() == Some("shape") {
                ctx.shape_schema
            } else {
                Some(schema)
            };
            let label = "json_schema".to_owned();
            match (schema, parse_json_output(output)) {
                (None, _) => result(label, false, "the step has no JSON shape".to_owned()),
                (Some(_), None) => result(label, false, "the output is not JSON".to_owned()),
                (Some(schema), Some(value)) => match jsonschema::validator_for(schema) {
                    Err(e) => result(label, false, format!("the schema is not valid: {e}")),
                    Ok(validator) => {
                        let errors: Vec<String> = validator
                            .iter_errors(&value)
                            .take(3)
                            .map(|e| {
                                let at = e.instance_path().to_string();
                                format!("{} {e}", if at.is_empty() { "/".to_owned() } else { at })
                            })
                            .collect();
                        result(
                            label,
                            errors.is_empty(),
                            if errors.is_empty() {
                                "valid".to_owned()
                            } else {
                                errors.join("; ")
                            },
                        )
                    }
                },
            }
        }
        Expectation::Regex(pattern) => match regex::Regex::new(pattern) {
            Ok(re) => {
                let passed = re.is_match(output);
                result(
                    format!("regex {pattern}"),
                    passed,
                    if passed { "matches" } else { "no match" }.to_owned(),
                )
            }
            Err(_) => result(
                format!("regex {pattern}"),
                false,
                "the pattern does not compile".to_owned(),
            ),
        },
        Expectation::Forbidden(phrases) => {
            let lower = output.to_lowercase();
            let found: Vec<&str> = phrases
                .iter()
                .filter(|p| !p.is_empty() && lower.contains(&p.to_lowercase()))
                .map(String::as_str)
                .collect();
            result(
                format!("forbidden {}", phrases.join(", ")),
                found.is_empty(),
                if found.is_empty() {
                    "none found".to_owned()
                } else {
                    format!("found: {}", found.join(", "))
                },
            )
        }
        Expectation::MustCiteSources(false) => result(
            "must_cite_sources false".to_owned(),
            true,
            "not required".to_owned(),
        ),
        Expectation::MustCiteSources(true) => {
            let cited = citations(output);
            let unknown: Vec<&String> = cited
                .iter()
                .filter(|c| !ctx.citations.contains(c))
                .collect();
            let label = "must_cite_sources".to_owned();
            if ctx.citations.is_empty() {
                result(
                    label,
                    false,
                    "the step was given no sources to cite".to_owned(),
                )
            } else if cited.is_empty() {
                result(label, false, "no source is cited (cite as [S1])".to_owned())
            } else if !unknown.is_empty() {
                result(
                    label,
                    false,
                    format!(
                        "cites sources it was not given: {}",
                        unknown
                            .iter()
                            .map(|c| format!("[{c}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            } else {
                result(
                    label,
                    true,
                    format!(
                        "cites {}",
                        cited
                            .iter()
                            .map(|c| format!("[{c}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }
        }
        Expectation::Rubric(_) => return None,
    })
}

/// A count's value: a number, or a template over the parameters that renders to one.
pub fn resolve_count(count: &Count, context: &Value) -> Result<u32, String> {
    match count {
        Count::Literal(n) => Ok(*n),
        Count::Template(t) => {
            let text = template::render(t, context)?;
            text.trim()
                .parse()
                .map_err(|_| format!("`{t}` gives `{}`, not a whole number", text.trim()))
        }
    }
}

fn count_text(count: &Count) -> String {
    match count {
        Count::Literal(n) => n.to_string(),
        Count::Template(t) => t.clone(),
    }
}

/// Words: whitespace-separated runs holding a letter or digit (Markdown marks do not count).
pub fn word_count(text: &str) -> u32 {
    let n = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The ATX and setext headings of Markdown text, outside fenced code.
pub fn headings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut previous: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            previous = None;
            continue;
        }
        if fenced {
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with([' ', '\t']) {
            out.push(
                trimmed[hashes..]
                    .trim()
                    .trim_end_matches('#')
                    .trim()
                    .to_owned(),
            );
        } else if let Some(prev) = previous
            && !prev.trim().is_empty()
            && !trimmed.is_empty()
            && (trimmed.chars().all(|c| c == '=') || trimmed.chars().all(|c| c == '-'))
            && trimmed.len() >= 2
        {
            out.push(prev.trim().to_owned());
        }
        previous = Some(line);
    }
    out
}

/// The citation ids in `[S1]` form, in order of first appearance.
pub fn citations(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 3 < bytes.len() {
        if bytes[i] == b'[' && bytes[i + 1] == b'S' {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 && bytes.get(i + 2 + digits) == Some(&b']') {
                let id = format!("S{}", &text[i + 2..i + 2 + digits]);
                if !out.contains(&id) {
                    out.push(id);
                }
                i += 3 + digits;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The output as JSON: the whole text, or the one fenced block it consists of.
pub fn parse_json_output(output: &str) -> Option<Value> {
    let trimmed = output.trim();
    if let Ok(v) = serde_json::from_str(trimmed) {
        return Some(v);
    }
    let inner = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))?
        .strip_suffix("```")?;
    serde_json::from_str(inner.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(e: Expectation, output: &str) -> GateResult {
        let citations = vec!["S1".to_owned(), "S2".to_owned()];
        let schema = json!({"type": "object", "required": ["name"]});
        let context = json!({"length": 5});
        let ctx = GateContext {
            citations: &citations,
            shape_schema: Some(&schema),
            template_context: &context,
        };
        check(&e, output, &ctx).expect("machine-checked")
    }

    #[test]
    fn word_limits_count_words_not_markdown_marks() {
        assert!(
            run(
                Expectation::MaxWords(Count::Literal(3)),
                "## One two\n- three"
            )
            .passed
        );
        assert!(!run(Expectation::MaxWords(Count::Literal(2)), "one two three").passed);
        assert!(run(Expectation::MinWords(Count::Literal(3)), "one two three").passed);
        assert!(!run(Expectation::MinWords(Count::Literal(4)), "one two three").passed);
        let templated = run(
            Expectation::MaxWords(Count::Template("{{ length }}".to_owned())),
            "a b c d e f",
        );
        assert_eq!(
            (templated.passed, templated.expectation.as_str()),
            (false, "max_words 5")
        );
        let broken = run(
            Expectation::MaxWords(Count::Template("{{ nope }}".to_owned())),
            "a",
        );
        assert!(
            !broken.passed && broken.detail.contains("nope"),
            "{broken:?}"
        );
    }

    #[test]
    fn required_sections_read_headings_outside_code() {
        let text = "# Voice\ntext\nWants\n-----\n```\n# Fears\n```\n";
        let r = run(
            Expectation::RequiredSections(vec!["voice".into(), "Wants".into(), "Fears".into()]),
            text,
        );
        assert!(!r.passed);
        assert_eq!(r.detail, "missing: Fears");
    }

    #[test]
    fn json_schema_checks_the_output_or_its_one_fenced_block() {
        let shape = Expectation::JsonSchema(json!("shape"));
        assert!(run(shape.clone(), "{\"name\": \"Mara\"}").passed);
        assert!(run(shape.clone(), "```json\n{\"name\": \"Mara\"}\n```").passed);
        let missing = run(shape.clone(), "{\"age\": 3}");
        assert!(
            !missing.passed && missing.detail.contains("name"),
            "{missing:?}"
        );
        assert_eq!(run(shape, "Mara").detail, "the output is not JSON");
        assert!(run(Expectation::JsonSchema(json!({"type": "array"})), "[1]").passed);
    }

    #[test]
    fn regex_forbidden_and_citations() {
        assert!(run(Expectation::Regex("^# ".into()), "# Title").passed);
        assert!(!run(Expectation::Regex("^# ".into()), "Title").passed);
        let f = run(
            Expectation::Forbidden(vec!["As an AI".into(), "delve".into()]),
            "Let us DELVE in.",
        );
        assert_eq!((f.passed, f.detail.as_str()), (false, "found: delve"));
        assert!(
            run(
                Expectation::MustCiteSources(true),
                "Mara keeps the light [S1][S2]."
            )
            .passed
        );
        assert!(!run(Expectation::MustCiteSources(true), "Mara keeps the light.").passed);
        let unknown = run(Expectation::MustCiteSources(true), "See [S1] and [S9].");
        assert_eq!(
            (unknown.passed, unknown.detail.as_str()),
            (false, "cites sources it was not given: [S9]")
        );
    }

    #[test]
    fn rubrics_are_left_to_the_judge() {
        let ctx = GateContext {
            citations: &[],
            shape_schema: None,
            template_context: &Value::Null,
        };
        assert!(check(&Expectation::Rubric("vivid".into()), "x", &ctx).is_none());
    }
}
