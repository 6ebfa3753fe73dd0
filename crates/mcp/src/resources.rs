//! Resources: the vault's canon, documents, roles, shapes and tasks under `atelier://` URIs,
//! listed, read, and watched (a subscribed URI gets `notifications/resources/updated` when the
//! change feed names its target).

use crate::bounded;
use crate::server::VaultServer;
use atelier_core::auth::Principal;
use rmcp::ErrorData;
use rmcp::model::{ErrorCode, Resource, ResourceContents, ResourceTemplate};
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
pub enum Target {
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
pub fn parse(uri: &str) -> Result<Target, ErrorData> {
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
        "canon" => Target::Canon(id()?),
        "tasks" => Target::Task(id()?),
        "threads" => Target::Thread(id()?),
        "roles" => Target::Role(name.to_owned()),
        "shapes" => Target::Shape(name.to_owned()),
        "docs" => {
            let (project, path) = name.split_once('/').ok_or_else(bad)?;
            if project.is_empty() || path.is_empty() {
                return Err(bad());
            }
            Target::Document {
                project: project.to_owned(),
                path: path.to_owned(),
            }
        }
        _ => return Err(bad()),
    })
}

/// The subscribed URIs a change to `target` (an audit target such as `task:3`) touches.
pub fn touched<'a>(target: &str, subscribed: impl Iterator<Item = &'a String>) -> Vec<String> {
    let (kind, name) = target.split_once(':').unwrap_or((target, ""));
    let exact = match kind {
        "task" => Some(format!("atelier://tasks/{name}")),
        "canon" => Some(format!("atelier://canon/{name}")),
        "shape" => Some(format!("atelier://shapes/{name}")),
        "thread" => Some(format!("atelier://threads/{name}")),
        _ => None,
    };
    let project_prefix = (kind == "project").then(|| format!("atelier://docs/{name}/"));
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

impl VaultServer {
    /// Reads `uri` as `who`.
    pub(crate) async fn read_uri(
        &self,
        who: Principal,
        uri: &str,
    ) -> Result<ResourceContents, ErrorData> {
        let target = parse(uri)?;
        let uri = uri.to_owned();
        let (text, mime) = match target {
            Target::Canon(id) => {
                let block = self.call(move |a| a.canon_show(&who, id)).await?;
                (
                    format!("# {}\n\n{}", block.title, block.body),
                    "text/markdown",
                )
            }
            Target::Document { project, path } => {
                let reference = format!("{project}:{path}");
                let text = self
                    .call(move |a| a.document_text(&who, &reference))
                    .await?;
                let body: Vec<&str> = text.passages.iter().map(|p| p.body.as_str()).collect();
                (body.join("\n\n"), "text/markdown")
            }
            Target::Role(name) => {
                let role = self.call(move |a| a.role_show(&who, &name)).await?;
                (pretty(&role), "application/json")
            }
            Target::Shape(name) => {
                let shape = self.call(move |a| a.shape_show(&who, &name)).await?;
                let mime = match serde_json::to_value(shape.kind)
                    .ok()
                    .as_ref()
                    .and_then(|v| v.as_str())
                {
                    Some("json") => "application/schema+json",
                    _ => "text/markdown",
                };
                (shape.body, mime)
            }
            Target::Task(id) => {
                let task = self.call(move |a| a.task_show(&who, id)).await?;
                (pretty(&task), "application/json")
            }
            Target::Thread(id) => {
                // The newest page: what a host that was told of an update wants to see.
                let page = self
                    .call(move |a| {
                        let last = a
                            .thread_read(
                                &who,
                                &atelier_core::api::ThreadRead {
                                    thread: id,
                                    after: Some(0),
                                    limit: Some(1),
                                },
                            )?
                            .thread
                            .last_seq;
                        let after = last.saturating_sub(bounded::PAGE as i64).max(0);
                        a.thread_read(
                            &who,
                            &atelier_core::api::ThreadRead {
                                thread: id,
                                after: Some(after),
                                limit: Some(bounded::PAGE as u32),
                            },
                        )
                    })
                    .await?;
                (pretty(&page), "application/json")
            }
        };
        Ok(ResourceContents::text(text, uri).with_mime_type(mime))
    }

    /// Every listable resource `who` may read: roles, shapes, canon blocks and tasks
    /// (documents are reached through their template or `search`).
    pub(crate) async fn listed(&self, who: Principal) -> Result<Vec<Resource>, ErrorData> {
        let (roles, shapes, canon, tasks) = self
            .call(move |a| {
                Ok((
                    a.role_list(&who)?,
                    a.shape_list(&who)?,
                    a.canon_list(&who, &Default::default())?,
                    a.task_list(&who, &Default::default())?,
                ))
            })
            .await?;
        let mut out = Vec::new();
        out.extend(roles.iter().map(|r| {
            Resource::new(
                format!("atelier://roles/{}", r.name),
                format!("role {}", r.name),
            )
            .with_title(r.display_name.clone())
            .with_mime_type("application/json")
        }));
        out.extend(shapes.iter().map(|s| {
            Resource::new(
                format!("atelier://shapes/{}", s.name),
                format!("shape {}", s.name),
            )
            .with_description(s.description.clone())
        }));
        out.extend(canon.iter().map(|c| {
            Resource::new(
                format!("atelier://canon/{}", c.id),
                format!("canon {}", c.id),
            )
            .with_title(c.title.clone())
            .with_mime_type("text/markdown")
        }));
        out.extend(tasks.iter().map(|t| {
            Resource::new(
                format!("atelier://tasks/{}", t.id),
                format!("task {}", t.id),
            )
            .with_title(t.title.clone())
            .with_mime_type("application/json")
        }));
        Ok(out)
    }
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
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
        assert_eq!(parse("atelier://canon/3").ok(), Some(Target::Canon(3)));
        assert_eq!(parse("atelier://threads/4").ok(), Some(Target::Thread(4)));
        assert_eq!(
            parse("atelier://docs/novel/Places/Lighthouse.md#L3-L9").ok(),
            Some(Target::Document {
                project: "novel".into(),
                path: "Places/Lighthouse.md".into()
            })
        );
        assert_eq!(
            parse("atelier://roles/writer").ok(),
            Some(Target::Role("writer".into()))
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
