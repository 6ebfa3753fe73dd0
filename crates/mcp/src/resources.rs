//! Resources: the vault's canon, documents, roles, shapes and tasks under `atelier://` URIs,
//! listed, read, and watched (a subscribed URI gets `notifications/resources/updated` when the
//! change feed names its target).

use crate::addresses::{Address, parse};
use crate::bounded;
use crate::server::VaultServer;
use atelier_core::access::auth::Principal;
use rmcp::ErrorData;
use rmcp::model::{Resource, ResourceContents};

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
            Address::Canon(id) => {
                let block = self.call(move |a| a.canon_show(&who, id)).await?;
                (
                    format!("# {}\n\n{}", block.title, block.body),
                    "text/markdown",
                )
            }
            Address::Document { project, path } => {
                let reference = format!("{project}:{path}");
                let text = self
                    .call(move |a| a.document_text(&who, &reference))
                    .await?;
                let body: Vec<&str> = text.passages.iter().map(|p| p.body.as_str()).collect();
                match text.media {
                    // An attachment reads as its facts, then its text (a PDF's pages).
                    Some(media) => (
                        format!("{}\n\n{}", media.describe(), body.join("\n\n")),
                        "text/markdown",
                    ),
                    None => (body.join("\n\n"), "text/markdown"),
                }
            }
            Address::Role(name) => {
                let role = self.call(move |a| a.role_show(&who, &name)).await?;
                (pretty(&role), "application/json")
            }
            Address::Shape(name) => {
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
            Address::Task(id) => {
                let task = self.call(move |a| a.task_show(&who, id)).await?;
                (pretty(&task), "application/json")
            }
            Address::Thread(id) => {
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
