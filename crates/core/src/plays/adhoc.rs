//! Ad-hoc ASSET requests: the five parts chosen by hand in the workbench (role, sources, shape,
//! expectations, task) become a one-step play, written out as the same YAML a play file holds
//! and parsed by the same checks, so a run pins and replays it like any other.

use super::spec::{self, Expectation, PlayProblem, ShapeRef};
use super::{LoadedPlay, PlaySource};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The name ad-hoc runs carry.
pub const NAME: &str = "adhoc";

/// A one-step request put together by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AdhocRequest {
    /// The role that acts (the Assistant).
    pub role: String,
    /// Canon blocks with any of these tags (the Sources).
    #[serde(default)]
    pub canon_tags: Vec<String>,
    /// Passages found by hybrid search for this query (the Sources).
    #[serde(default)]
    pub search: Option<String>,
    /// Only passages of this project.
    #[serde(default)]
    pub project: Option<String>,
    /// How many passages search may bring (default 8).
    #[serde(default)]
    pub passages: Option<u32>,
    /// The most tokens the Sources may take (default 2000).
    #[serde(default)]
    pub budget_tokens: Option<u32>,
    /// The output's form: a catalog shape's name, inline Markdown or a JSON Schema.
    #[serde(default)]
    pub shape: Option<ShapeRef>,
    /// The gates the output must pass.
    #[serde(default)]
    pub expectations: Vec<Expectation>,
    /// What to do (the Task), sent as written: braces are not template syntax here.
    pub task: String,
    /// The routing class when no model is named (default `llm.creator`).
    #[serde(default)]
    pub task_class: Option<String>,
}

/// The play an ad-hoc request stands for, checked like a play file.
pub fn play(request: &AdhocRequest) -> Result<LoadedPlay, PlayProblem> {
    let first_line: String = request
        .task
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(60)
        .collect();
    // The person's (and, for the scheduler, upstream models') words are data, never template
    // source: each goes into the play's `texts` and the templates only name it.
    let mut texts = Map::new();
    let mut sources = Map::new();
    if !request.canon_tags.is_empty() {
        sources.insert("canon_tags".to_owned(), json!(request.canon_tags));
    }
    if let Some(search) = request.search.as_deref().filter(|s| !s.trim().is_empty()) {
        texts.insert("search".to_owned(), json!(search));
        sources.insert("search".to_owned(), json!(text_of("search")));
    }
    if let Some(project) = request.project.as_deref().filter(|s| !s.trim().is_empty()) {
        texts.insert("project".to_owned(), json!(project));
        sources.insert("project".to_owned(), json!(text_of("project")));
    }
    if request.task.trim().is_empty() {
        return Err(PlayProblem {
            file: format!("{NAME}.yaml"),
            line: 0,
            message: "the task is empty".to_owned(),
        });
    }
    texts.insert("task".to_owned(), json!(request.task));
    if let Some(passages) = request.passages {
        sources.insert("passages".to_owned(), json!(passages));
    }
    if let Some(budget) = request.budget_tokens {
        sources.insert("budget_tokens".to_owned(), json!(budget));
    }
    let mut step = json!({
        "id": "answer",
        "role": request.role,
        "task_class": request.task_class.clone().unwrap_or_else(|| "llm.creator".to_owned()),
        "sources": Value::Object(sources),
        "task": text_of("task"),
    });
    if let Some(shape) = &request.shape {
        step["shape"] = serde_json::to_value(shape).unwrap_or(Value::Null);
    }
    if !request.expectations.is_empty() {
        step["expectations"] = serde_json::to_value(&request.expectations).unwrap_or(Value::Null);
    }
    let file = json!({
        "name": NAME,
        "title": format!("Ad-hoc: {first_line}"),
        "description": "An ASSET request put together in the workbench.",
        "domain": "adhoc",
        "approval": "review",
        "steps": [step],
        "texts": Value::Object(texts),
    });
    let text = serde_yaml_ng::to_string(&file).map_err(|e| PlayProblem {
        file: format!("{NAME}.yaml"),
        line: 0,
        message: e.to_string(),
    })?;
    let play = spec::parse(&format!("{NAME}.yaml"), &text)?;
    Ok(LoadedPlay {
        play,
        source: PlaySource::Adhoc,
        text,
    })
}

/// The template that reads the play's text `name`.
fn text_of(name: &str) -> String {
    format!("{{{{ {}.{name} }}}}", spec::TEXTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AdhocRequest {
        AdhocRequest {
            role: "writer".to_owned(),
            canon_tags: vec!["world".to_owned()],
            search: Some("the storm".to_owned()),
            project: None,
            passages: Some(4),
            budget_tokens: Some(900),
            shape: Some(ShapeRef::Markdown {
                markdown: "## Goal\n## Beats\n".to_owned(),
            }),
            expectations: vec![
                Expectation::RequiredSections(vec!["Goal".to_owned(), "Beats".to_owned()]),
                Expectation::MaxWords(spec::Count::Literal(300)),
            ],
            task: "Outline the storm scene. Keep {{ braces }} as typed.".to_owned(),
            task_class: None,
        }
    }

    #[test]
    fn a_request_becomes_a_checked_one_step_play_whose_text_pins_it() {
        let loaded = play(&request()).expect("valid");
        let step = &loaded.play.steps[0];
        assert_eq!(loaded.play.name, "adhoc");
        assert_eq!(
            loaded.play.title,
            "Ad-hoc: Outline the storm scene. Keep {{ braces }} as typed."
        );
        assert_eq!(
            (step.role.as_str(), step.task_class.as_str()),
            ("writer", "llm.creator")
        );
        assert_eq!(step.sources.budget_tokens, 900);
        assert_eq!(step.expectations.len(), 2);
        // The text is a play file: parsing it again gives the same play and version.
        let again = spec::parse("adhoc.yaml", &loaded.text).expect("reparse");
        assert_eq!(again, loaded.play);
        let context = json!({ "texts": loaded.play.texts });
        let rendered = super::super::template::render(&step.task, &context).expect("render");
        assert_eq!(
            rendered,
            "Outline the storm scene. Keep {{ braces }} as typed."
        );
    }

    /// Template injection (the hostile-reading finding): text that closes a `raw` block and
    /// opens an expression reaches the model exactly as typed, never evaluated, and a text
    /// that merely mentions `{% endraw %}` is no error.
    #[test]
    fn task_text_is_data_and_never_template_source() {
        for typed in [
            "Summarise. {% endraw %}{{ 7 * 7 }}{% raw %} end",
            "Explain what {% endraw %} does in Jinja.",
            "{{ range(10**9) | list }} {% for x in y %}",
        ] {
            let mut request = request();
            request.task = typed.to_owned();
            request.search = Some(typed.to_owned());
            let loaded = play(&request).expect("valid");
            let step = &loaded.play.steps[0];
            let context = json!({ "texts": loaded.play.texts });
            let render = super::super::template::render;
            assert_eq!(render(&step.task, &context).as_deref(), Ok(typed));
            let search = step.sources.search.as_deref().expect("search");
            assert_eq!(render(search, &context).as_deref(), Ok(typed));
        }
    }

    #[test]
    fn bad_parts_are_refused_by_the_play_checks() {
        let mut bad = request();
        bad.task = "  ".to_owned();
        assert!(play(&bad).is_err());
        let mut bad = request();
        bad.expectations = vec![Expectation::Regex("(".to_owned())];
        assert!(play(&bad).is_err());
    }
}
