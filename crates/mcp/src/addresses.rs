//! `atelier://` addresses: the URI templates a host can fill in, a URI parsed into the
//! [`Address`] it names, which subscribed URIs an audit target touches, and resource pages.

use crate::bounded;
use atelier_core::access::audit;
use rmcp::ErrorData;
use rmcp::model::{ErrorCode, Resource, ResourceTemplate};
use serde_json::json;

/// The URI templates a host can fill in.
pub fn templates() -> Vec<ResourceTemplate> {
    [
        (
            "atelier://canon/{id}",
            "canon",
            "A canon block: curated facts of the project, as Markdown.",
            "text/markdown",
        ),
        (
            "atelier://docs/{project}/{path}",
            "document",
            "A document of a project folder, as the vault holds it (its passages in order).",
            "text/markdown",
        ),
        (
            "atelier://roles/{name}",
            "role",
            "A role: its system prompt, models and capabilities, as JSON.",
            "application/json",
        ),
        (
            "atelier://shapes/{id}",
            "shape",
            "An output shape by name: a Markdown template or a JSON Schema.",
            "text/markdown",
        ),
        (
            "atelier://tasks/{id}",
            "task",
            "A task with its children and dependencies, as JSON.",
            "application/json",
        ),
        (
            "atelier://threads/{id}",
            "thread",
            "A thread: its newest messages in order and your cursor, as JSON. Subscribe to hear of new messages.",
            "application/json",
        ),
    ]
    .into_iter()
    .map(|(uri, name, description, mime)| {
        ResourceTemplate::new(uri, name)
            .with_description(description)
            .with_mime_type(mime)
    })
    .collect()
}

/// What a URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `atelier://canon/{id}`
    Canon(i64),
    /// `atelier://docs/{project}/{path}`
    Document { project: String, path: String },
    /// `atelier://roles/{name}`
    Role(String),
    /// `atelier://shapes/{name}`
    Shape(String),
    /// `atelier://tasks/{id}`
    Task(i64),
    /// `atelier://threads/{id}`
    Thread(i64),
}

/// Parses an `atelier://` URI (a `#…` fragment, as search results carry, is ignored).
pub fn parse(uri: &str) -> Result<Address, ErrorData> {
    let bad = || {
        ErrorData::new(
            ErrorCode::INVALID_PARAMS,
            format!("uri: `{uri}` is not an atelier:// resource (see resources/templates/list)"),
            Some(json!({ "code": "INVALID_INPUT", "field": "uri" })),
        )
    };
    let rest = uri.strip_prefix("atelier://").ok_or_else(bad)?;
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (kind, name) = rest.split_once('/').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let id = || name.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(bad);
    Ok(match kind {
        "canon" => Address::Canon(id()?),
        "tasks" => Address::Task(id()?),
        "threads" => Address::Thread(id()?),
        "roles" => Address::Role(name.to_owned()),
        "shapes" => Address::Shape(name.to_owned()),
        "docs" => {
            let (project, path) = name.split_once('/').ok_or_else(bad)?;
            if project.is_empty() || path.is_empty() {
                return Err(bad());
            }
            Address::Document {
                project: project.to_owned(),
                path: path.to_owned(),
            }
        }
        _ => return Err(bad()),
    })
}

/// The subscribed URIs a change to `target` (an audit target such as `task:3`) touches.
pub fn touched<'a>(target: &str, subscribed: impl Iterator<Item = &'a String>) -> Vec<String> {
    let Ok(target) = target.parse::<audit::Target>();
    let exact = match &target {
        audit::Target::Task(id) => Some(format!("atelier://tasks/{id}")),
        audit::Target::Canon(id) => Some(format!("atelier://canon/{id}")),
        audit::Target::Shape(name) => Some(format!("atelier://shapes/{name}")),
        audit::Target::Thread(id) => Some(format!("atelier://threads/{id}")),
        _ => None,
    };
    let project_prefix = match &target {
        audit::Target::Project(name) => Some(format!("atelier://docs/{name}/")),
        _ => None,
    };
    subscribed
        .filter(|uri| {
            let bare = uri.split_once('#').map_or(uri.as_str(), |(b, _)| b);
            exact.as_deref() == Some(bare)
                || project_prefix
                    .as_deref()
                    .is_some_and(|prefix| bare.starts_with(prefix))
        })
        .cloned()
        .collect()
}

/// A page of `resources` from `cursor`, and the cursor of the next.
pub fn page_of(
    resources: Vec<Resource>,
    cursor: Option<&str>,
) -> Result<(Vec<Resource>, Option<String>), ErrorData> {
    let start = bounded::start_of(cursor)?;
    let total = resources.len();
    let page: Vec<Resource> = resources
        .into_iter()
        .skip(start)
        .take(bounded::PAGE * 4)
        .collect();
    let end = start + page.len();
    Ok((page, (end < total).then(|| format!("at:{end}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_targets_and_bad_ones_are_refused() {
        assert_eq!(parse("atelier://canon/3").ok(), Some(Address::Canon(3)));
        assert_eq!(parse("atelier://threads/4").ok(), Some(Address::Thread(4)));
        assert_eq!(
            parse("atelier://docs/novel/Places/Lighthouse.md#L3-L9").ok(),
            Some(Address::Document {
                project: "novel".into(),
                path: "Places/Lighthouse.md".into()
            })
        );
        assert_eq!(
            parse("atelier://roles/writer").ok(),
            Some(Address::Role("writer".into()))
        );
        for bad in [
            "file:///etc/passwd",
            "atelier://canon/x",
            "atelier://canon/-1",
            "atelier://tasks/",
            "atelier://docs/novel",
            "atelier://planets/3",
            "atelier://threads/0",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_touch_exactly_the_subscribed_uris_they_name() {
        let subscribed: Vec<String> = [
            "atelier://tasks/3",
            "atelier://tasks/30",
            "atelier://docs/novel/a.md",
            "atelier://docs/other/a.md",
            "atelier://canon/1",
            "atelier://threads/2",
            "atelier://threads/20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(touched("task:3", subscribed.iter()), ["atelier://tasks/3"]);
        assert_eq!(
            touched("thread:2", subscribed.iter()),
            ["atelier://threads/2"]
        );
        assert_eq!(
            touched("project:novel", subscribed.iter()),
            ["atelier://docs/novel/a.md"]
        );
        assert!(touched("grant:1", subscribed.iter()).is_empty());
    }
}
