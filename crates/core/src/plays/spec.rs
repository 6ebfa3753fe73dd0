//! A play's file: parameters, steps, their DAG and the approval policy, as YAML a person can
//! read and edit. Parsing checks everything that can be checked without the vault: unknown
//! fields, parameter types, step ids, the DAG (no unknown `needs`, no cycle), expectation kinds,
//! and that every template compiles.

use super::template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// A parsed, checked play.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Play {
    /// Its name (`character_bible`), equal to its file name.
    pub name: String,
    /// A title for people.
    pub title: String,
    /// What it makes.
    pub description: String,
    /// `writing`, `game_design`, `podcasting`, … (free text, for grouping).
    pub domain: String,
    /// Its parameters, in file order.
    pub parameters: Vec<Parameter>,
    /// Its steps, in file order (a valid topological order is computed at run time).
    pub steps: Vec<Step>,
    /// What happens to a passing run's output.
    pub approval: Approval,
    /// A decomposition play: its output is a JSON object `{"subtasks": [...]}` (title,
    /// description, role, play, priority, after) that the scheduler creates under the task it
    /// ran for. Its role needs `spawn_tasks`.
    #[serde(default)]
    pub decomposes: bool,
    /// Named texts the play carries as data: templates read them as `{{ texts.NAME }}`, and
    /// their content is never parsed as template syntax (the workbench's ad-hoc requests and
    /// the scheduler's role-only tasks put their users' and models' words here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, String>,
    /// The SHA-256 of the file's text: the version a run pins.
    pub version: String,
}

/// A parameter a person fills in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// The name templates use.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    /// What to enter.
    #[serde(default)]
    pub description: String,
    /// Whether it must be given (parameters with a default never need to be).
    #[serde(default = "yes")]
    pub required: bool,
    /// The value when none is given.
    #[serde(default)]
    pub default: Option<Value>,
    /// The allowed values of a `choice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Bounds of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// Bounds of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
}

fn yes() -> bool {
    true
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// One line of text.
    String,
    /// Several lines of text.
    Text,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// Yes or no.
    Boolean,
    /// One of `options`.
    Choice,
}

/// One model call of a play.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its id, used by `needs` and in templates as `steps.<id>.output`.
    pub id: String,
    /// The role that acts (the Assistant).
    pub role: String,
    /// Steps whose output this one reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// The routing class when no model is named.
    #[serde(default = "creator_class")]
    pub task_class: String,
    /// A `provider:model` that overrides routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What the step reads (the Sources).
    #[serde(default)]
    pub sources: Sources,
    /// The output's form (the Structured output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<ShapeRef>,
    /// The gates its output must pass (the Expectations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<Expectation>,
    /// The template of the request (the Task).
    pub task: String,
    /// Upper bound on generated tokens.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

fn creator_class() -> String {
    "llm.creator".to_owned()
}

fn default_max_tokens() -> u32 {
    2048
}

/// What a step reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Canon blocks carrying any of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canon_tags: Vec<String>,
    /// Passages found by hybrid search for this query template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Only passages of this project (a template; empty means every project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// How many passages search may bring.
    #[serde(default = "default_passages")]
    pub passages: u32,
    /// The most tokens the Sources section may take; what does not fit is cut and reported.
    #[serde(default = "default_budget")]
    pub budget_tokens: u32,
}

fn default_passages() -> u32 {
    8
}

fn default_budget() -> u32 {
    2000
}

/// A step's output shape: a shape of the vault's catalog by name, or one written inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(untagged)]
pub enum ShapeRef {
    /// A catalog shape's name.
    Named(String),
    /// An inline Markdown template whose headings are required sections.
    Markdown {
        /// The template.
        markdown: String,
    },
    /// An inline JSON Schema.
    Json {
        /// The schema.
        json_schema: Value,
    },
}

/// A gate on a step's output. Numbers may be templates over the parameters
/// (`max_words: "{{ length }}"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// At most this many words.
    MaxWords(Count),
    /// At least this many words.
    MinWords(Count),
    /// These Markdown headings, in any order.
    RequiredSections(Vec<String>),
    /// The output is JSON valid against this schema (`shape`: the step's JSON shape).
    JsonSchema(Value),
    /// The output matches this regular expression.
    Regex(String),
    /// None of these phrases appears (case-insensitive).
    Forbidden(Vec<String>),
    /// The output cites at least one source as `[S1]`, and only sources it was given.
    MustCiteSources(bool),
    /// A judge role reads the output against this rubric and returns a verdict.
    Rubric(String),
}

/// A count, literal or a template over the parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(untagged)]
pub enum Count {
    /// A number.
    Literal(u32),
    /// A template rendering to a number.
    Template(String),
}

/// What happens to a passing run's final output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Banked as an asset in review: someone with `approve_assets` approves or rejects it.
    #[default]
    Review,
    /// Banked as a draft its author submits for review.
    Draft,
    /// Not banked; a person banks it from the run if they want it.
    Manual,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlayFile {
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    parameters: Vec<Parameter>,
    steps: Vec<Step>,
    #[serde(default)]
    approval: Approval,
    #[serde(default)]
    decomposes: bool,
    #[serde(default)]
    texts: BTreeMap<String, String>,
}

/// The name templates read a play's [`Play::texts`] under.
pub const TEXTS: &str = "texts";

/// What is wrong with a play file, with its line when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PlayProblem {
    /// The file name.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Most steps a play may have.
const MAX_STEPS: usize = 32;

/// Parses and checks `text`, the contents of `file`.
pub fn parse(file: &str, text: &str) -> Result<Play, PlayProblem> {
    let problem = |line: usize, message: String| PlayProblem {
        file: file.to_owned(),
        line,
        message,
    };
    // Through JSON values: the YAML library reads enums only from YAML tags (`!max_words 600`),
    // and a person writes `max_words: 600`. Syntax errors keep their line; a type error is
    // placed at the first line naming the field it mentions.
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, message) = crate::input::yaml_problem(&e);
        problem(line, message)
    })?;
    let raw: PlayFile = serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let line = message.split('`').nth(1).map_or(0, |field| {
            text.lines()
                .position(|l| {
                    l.trim_start()
                        .trim_start_matches("- ")
                        .starts_with(&format!("{field}:"))
                })
                .map_or(0, |i| i + 1)
        });
        problem(line, message)
    })?;
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map_or(0, |i| i + 1)
    };
    if !valid_name(&raw.name) {
        return Err(problem(
            line_of("name:"),
            format!(
                "play name `{}` must be lowercase letters, digits and `_`, at most 64",
                raw.name
            ),
        ));
    }
    let stem = file.strip_suffix(".yaml").unwrap_or(file);
    let stem = stem.rsplit('/').next().unwrap_or(stem);
    if stem != raw.name {
        return Err(problem(
            line_of("name:"),
            format!("the play is named `{}` but its file is `{file}`", raw.name),
        ));
    }
    let mut names = BTreeSet::new();
    for p in &raw.parameters {
        if !valid_name(&p.name) || p.name == "steps" || p.name == TEXTS {
            return Err(problem(
                line_of(&format!("name: {}", p.name)),
                format!(
                    "parameter name `{}` must be lowercase letters, digits and `_` (and not `steps` or `texts`)",
                    p.name
                ),
            ));
        }
        if !names.insert(p.name.clone()) {
            return Err(problem(
                line_of(&format!("name: {}", p.name)),
                format!("parameter `{}` is declared twice", p.name),
            ));
        }
        if p.kind == ParameterKind::Choice && p.options.is_empty() {
            return Err(problem(
                line_of(&format!("name: {}", p.name)),
                format!("parameter `{}` is a choice without options", p.name),
            ));
        }
        if let Some(default) = &p.default {
            check_value(p, default).map_err(|m| {
                problem(
                    line_of(&format!("name: {}", p.name)),
                    format!("the default of `{}` {m}", p.name),
                )
            })?;
        }
    }
    if raw.steps.is_empty() || raw.steps.len() > MAX_STEPS {
        return Err(problem(
            line_of("steps:"),
            format!("a play has 1 to {MAX_STEPS} steps"),
        ));
    }
    let mut ids = BTreeSet::new();
    for step in &raw.steps {
        let at = line_of(&format!("id: {}", step.id));
        if !valid_name(&step.id) {
            return Err(problem(
                at,
                format!(
                    "step id `{}` must be lowercase letters, digits and `_`",
                    step.id
                ),
            ));
        }
        if !ids.insert(step.id.clone()) {
            return Err(problem(at, format!("step `{}` is declared twice", step.id)));
        }
        if let Some(model) = &step.model
            && !model
                .split_once(':')
                .is_some_and(|(p, m)| !p.is_empty() && !m.is_empty())
        {
            return Err(problem(
                at,
                format!(
                    "step `{}`: model `{model}` should be written `provider:model`",
                    step.id
                ),
            ));
        }
        if !step.task_class.starts_with("llm.") {
            return Err(problem(
                at,
                format!(
                    "step `{}`: task class `{}` should start with `llm.`",
                    step.id, step.task_class
                ),
            ));
        }
        if step.task.trim().is_empty() {
            return Err(problem(
                at,
                format!("step `{}`: the task is empty", step.id),
            ));
        }
        let mut templates = vec![("task", step.task.as_str())];
        if let Some(q) = &step.sources.search {
            templates.push(("sources.search", q));
        }
        if let Some(p) = &step.sources.project {
            templates.push(("sources.project", p));
        }
        for e in &step.expectations {
            match e {
                Expectation::MaxWords(Count::Template(t))
                | Expectation::MinWords(Count::Template(t)) => {
                    templates.push(("expectations", t));
                }
                Expectation::Regex(pattern) => {
                    regex_lite_check(pattern)
                        .map_err(|m| problem(at, format!("step `{}`: {m}", step.id)))?;
                }
                Expectation::JsonSchema(schema) => {
                    if schema.as_str() == Some("shape") {
                        if !matches!(
                            step.shape,
                            Some(ShapeRef::Json { .. }) | Some(ShapeRef::Named(_))
                        ) {
                            return Err(problem(
                                at,
                                format!(
                                    "step `{}`: `json_schema: shape` needs a JSON shape",
                                    step.id
                                ),
                            ));
                        }
                    } else {
                        jsonschema::validator_for(schema).map_err(|e| {
                            problem(
                                at,
                                format!("step `{}`: the JSON Schema is not valid: {e}", step.id),
                            )
                        })?;
                    }
                }
                _ => {}
            }
        }
        if let Some(ShapeRef::Json { json_schema }) = &step.shape {
            jsonschema::validator_for(json_schema).map_err(|e| {
                problem(
                    at,
                    format!(
                        "step `{}`: the shape's JSON Schema is not valid: {e}",
                        step.id
                    ),
                )
            })?;
        }
        for (field, t) in templates {
            template::compile_check(t)
                .map_err(|m| problem(at, format!("step `{}` {field}: {m}", step.id)))?;
        }
    }
    for step in &raw.steps {
        for need in &step.needs {
            if !ids.contains(need) {
                return Err(problem(
                    line_of(&format!("id: {}", step.id)),
                    format!(
                        "step `{}` needs `{need}`, which is not a step of this play",
                        step.id
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&raw.steps) {
        return Err(problem(
            line_of("steps:"),
            format!("the steps' `needs` make a cycle: {}", cycle.join(" → ")),
        ));
    }
    Ok(Play {
        name: raw.name,
        title: raw.title,
        description: raw.description,
        domain: raw.domain,
        parameters: raw.parameters,
        steps: raw.steps,
        approval: raw.approval,
        decomposes: raw.decomposes,
        texts: raw.texts,
        version: hex(&Sha256::digest(text.as_bytes())),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn regex_lite_check(pattern: &str) -> Result<(), String> {
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|_| format!("the regular expression `{pattern}` does not compile"))
}

/// The steps in an order where every step comes after those it needs, or the first cycle.
fn find_cycle(steps: &[Step]) -> Option<Vec<String>> {
    order(steps).err()
}

/// A topological order of `steps` (ties kept in file order), or a cycle.
pub fn order(steps: &[Step]) -> Result<Vec<usize>, Vec<String>> {
    let index: BTreeMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut state = vec![0u8; steps.len()]; // 0 new, 1 on the path, 2 done
    let mut out = Vec::with_capacity(steps.len());
    fn visit(
        i: usize,
        steps: &[Step],
        index: &BTreeMap<&str, usize>,
        state: &mut [u8],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|&p| steps[p].id.clone()).collect();
                cycle.push(steps[i].id.clone());
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for need in &steps[i].needs {
            if let Some(&j) = index.get(need.as_str()) {
                visit(j, steps, index, state, path, out)?;
            }
        }
        path.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    for i in 0..steps.len() {
        visit(i, steps, &index, &mut state, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// Whether `value` is acceptable for `p`; the error completes "the value of `x` …".
pub fn check_value(p: &Parameter, value: &Value) -> Result<(), String> {
    let in_bounds = |n: f64| -> Result<(), String> {
        if let Some(min) = p.minimum
            && n < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = p.maximum
            && n > max
        {
            return Err(format!("must be at most {max}"));
        }
        Ok(())
    };
    match (p.kind, value) {
        (ParameterKind::String, Value::String(s)) => {
            if s.contains('\n') {
                Err("must be one line".to_owned())
            } else if s.chars().count() > 500 {
                Err("must be at most 500 characters".to_owned())
            } else {
                Ok(())
            }
        }
        (ParameterKind::Text, Value::String(s)) => {
            if s.chars().count() > 20_000 {
                Err("must be at most 20,000 characters".to_owned())
            } else {
                Ok(())
            }
        }
        (ParameterKind::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            in_bounds(n.as_f64().unwrap_or(0.0))
        }
        (ParameterKind::Number, Value::Number(n)) => in_bounds(n.as_f64().unwrap_or(0.0)),
        (ParameterKind::Boolean, Value::Bool(_)) => Ok(()),
        (ParameterKind::Choice, Value::String(s)) if p.options.contains(s) => Ok(()),
        (ParameterKind::Choice, _) => Err(format!("must be one of: {}", p.options.join(", "))),
        (kind, _) => Err(format!(
            "must be {}",
            match kind {
                ParameterKind::String => "a line of text",
                ParameterKind::Text => "text",
                ParameterKind::Integer => "a whole number",
                ParameterKind::Number => "a number",
                ParameterKind::Boolean => "true or false",
                ParameterKind::Choice => "one of the options",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str =
        "name: demo\ntitle: Demo\nsteps:\n  - id: a\n    role: writer\n    task: Write {{ x }}.\n";

    fn problem(text: &str) -> PlayProblem {
        parse("demo.yaml", text).expect_err("refused")
    }

    #[test]
    fn a_minimal_play_parses_and_its_version_is_its_text_hash() {
        let play = parse("demo.yaml", BASE).expect("parses");
        assert_eq!(play.steps[0].task_class, "llm.creator");
        assert_eq!(play.version.len(), 64);
        assert_ne!(
            play.version,
            parse("demo.yaml", &format!("{BASE}# changed\n"))
                .expect("parses")
                .version
        );
    }

    #[test]
    fn bad_files_name_the_problem_and_its_line() {
        let p = problem(&BASE.replace("    task:", "    taks: x\n    task:"));
        assert!(
            p.message.contains("unknown field `taks`") && p.line == 6,
            "{p}"
        );
        let p = problem("name: other\ntitle: T\nsteps:\n  - {id: a, role: writer, task: t}\n");
        assert!(p.message.contains("its file is `demo.yaml`"), "{p}");
        let p = problem(&BASE.replace("Write {{ x }}.", "Write {{ x"));
        assert!(p.message.contains("step `a` task"), "{p}");
        let p = problem(&format!("{BASE}    needs: [b]\n"));
        assert!(p.message.contains("needs `b`"), "{p}");
        let cyclic = "name: demo\ntitle: D\nsteps:\n  - {id: a, role: w, task: t, needs: [b]}\n  - {id: b, role: w, task: t, needs: [a]}\n";
        assert!(
            problem(cyclic).message.contains("cycle"),
            "{}",
            problem(cyclic)
        );
        let p = problem(&format!(
            "{BASE}    expectations:\n      - max_sentences: 3\n"
        ));
        assert!(p.message.contains("max_sentences"), "{p}");
        let p = problem(&format!("{BASE}    expectations:\n      - regex: \"(\"\n"));
        assert!(p.message.contains("does not compile"), "{p}");
        let p = problem(&format!("{BASE}    model: gpt-4o\n"));
        assert!(p.message.contains("provider:model"), "{p}");
        let p = problem(
            "name: demo\ntitle: D\nparameters:\n  - {name: n, type: choice}\nsteps:\n  - {id: a, role: w, task: t}\n",
        );
        assert!(p.message.contains("without options"), "{p}");
    }
}
