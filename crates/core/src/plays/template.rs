//! Task templates: Jinja syntax (minijinja) where an undefined variable is an error that names
//! it, never an empty string in a prompt. Templates get the play's parameters and, under
//! `steps.<id>.output`, the outputs of the steps they need.

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Template work one render may do: a loop gone wrong stops instead of hanging a run. minijinja
/// (3.1) also charges every byte a template builds (string repetition and joins included) and
/// writes against the same fuel, 64 bytes a unit, so one render builds at most about 12 MiB.
const FUEL: u64 = 200_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

/// Checks that `source` is a template, without rendering it.
pub fn compile_check(source: &str) -> Result<(), String> {
    environment()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// The variables `source` reads from outside (`character`, `steps.outline.output`), sorted.
pub fn variables(source: &str) -> Result<Vec<String>, String> {
    let env = environment();
    let template = env.template_from_str(source).map_err(|e| describe(&e))?;
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    let mut names: Vec<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter(|name| {
            let root = name.split('.').next().unwrap_or(name);
            !globals.contains(&root)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Renders `source` with `context` (a JSON object). A variable the context lacks is an error
/// naming it.
pub fn render(source: &str, context: &Value) -> Result<String, String> {
    for name in variables(source)? {
        if !defined(context, &name) {
            return Err(format!("`{name}` is not defined here"));
        }
    }
    let env = environment();
    let template = env.template_from_str(source).map_err(|e| describe(&e))?;
    template
        .render(minijinja::Value::from(Serde(context)))
        .map_err(|e| describe(&e))
}

/// Whether the dotted `path` leads to a value in `context`.
fn defined(context: &Value, path: &str) -> bool {
    let mut at = context;
    for part in path.split('.') {
        match at.get(part) {
            Some(next) => at = next,
            None => return false,
        }
    }
    true
}

fn describe(error: &minijinja::Error) -> String {
    let what = error
        .detail()
        .map_or_else(|| error.kind().to_string(), str::to_owned);
    match error.line() {
        Some(line) => format!("{what} (template line {line})"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_parameters_and_step_outputs() {
        let context = json!({"character": "Mara", "steps": {"research": {"output": "a keeper"}}});
        assert_eq!(
            render(
                "Write {{ character }}: {{ steps.research.output }}",
                &context
            ),
            Ok("Write Mara: a keeper".to_owned())
        );
    }

    #[test]
    fn an_undefined_variable_is_an_error_naming_it() {
        let context = json!({"character": "Mara", "steps": {}});
        let err = render("{{ charcter }}", &context).expect_err("undefined");
        assert!(err.contains("`charcter`"), "{err}");
        let err = render("{{ steps.outline.output }}", &context).expect_err("undefined");
        assert!(err.contains("`steps.outline.output`"), "{err}");
        // Also where static analysis cannot see it: a computed lookup.
        let err = render("{{ steps['out' ~ 'line'] }}", &context).expect_err("undefined");
        assert!(!err.is_empty());
    }

    #[test]
    fn loops_and_filters_work_and_a_runaway_loop_stops() {
        let context = json!({"tags": ["sea", "bell"]});
        assert_eq!(
            render("{% for t in tags %}{{ t | upper }} {% endfor %}", &context),
            Ok("SEA BELL ".to_owned())
        );
        assert!(
            render(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                &context
            )
            .is_err()
        );
    }

    /// The memory a template may build is bounded: repeating a string a hundred million times
    /// (which minijinja's own cap allows) runs out of fuel before the string exists.
    #[test]
    fn a_template_cannot_build_a_huge_string() {
        let context = json!({});
        for source in [
            "{{ 'a' * 100000000 }}",
            "{% set x = 'a' * 1000000 %}{% for i in range(100) %}{{ x }}{% endfor %}",
            "{{ ('ab' * 5000000) ~ ('cd' * 5000000) }}",
        ] {
            let err = render(source, &context).expect_err(source);
            assert!(err.contains("fuel"), "{source}: {err}");
        }
    }

    #[test]
    fn syntax_errors_are_reported_with_their_line() {
        let err = compile_check("line one\n{{ unclosed").expect_err("syntax");
        assert!(err.contains("line 2"), "{err}");
    }
}
