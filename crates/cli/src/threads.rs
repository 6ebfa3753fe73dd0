//! `atelier threads`: start, post, read, acknowledge and list agent threads.

use crate::args::ThreadCommand;
use crate::out::{Failure, Out};
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{ThreadAck, ThreadCreate, ThreadPage, ThreadPost, ThreadRead, ThreadView};
use atelier_core::error::Error;

pub fn threads(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: ThreadCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        ThreadCommand::New { title, with } => {
            let participants = with
                .iter()
                .map(|p| {
                    p.parse::<Principal>()
                        .map_err(|e| Error::invalid("with", format!("`{p}`: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?;
            let thread = atelier
                .thread_create(
                    who,
                    &ThreadCreate {
                        title,
                        participants,
                    },
                )
                .map_err(fail)?;
            out.show(&thread, |t| {
                format!(
                    "Started thread {} {:?}. Post to it: atelier threads post {} \"…\"",
                    t.thread.id, t.thread.title, t.thread.id
                )
            });
        }
        ThreadCommand::Post { thread, body, key } => {
            let posted = atelier
                .thread_post(who, &ThreadPost { thread, body, key })
                .map_err(fail)?;
            out.show(&posted, |p| {
                if p.created {
                    format!("Posted message {} to thread {}.", p.message.seq, thread)
                } else {
                    format!(
                        "Already posted with this key: message {} of thread {thread}.",
                        p.message.seq
                    )
                }
            });
        }
        ThreadCommand::Read {
            thread,
            after,
            limit,
        } => {
            let page = atelier
                .thread_read(
                    who,
                    &ThreadRead {
                        thread,
                        after,
                        limit: Some(limit),
                    },
                )
                .map_err(fail)?;
            out.show(&page, render_page);
        }
        ThreadCommand::Ack { thread, seq } => {
            let cursor = atelier
                .thread_ack(who, ThreadAck { thread, seq })
                .map_err(fail)?;
            out.show(
                &serde_json::json!({ "thread": thread, "cursor": cursor }),
                |_| format!("Thread {thread}: handled up to message {cursor}."),
            );
        }
        ThreadCommand::Ls => {
            let list = atelier.threads_list(who).map_err(fail)?;
            out.show(&list, |l| render_list(l));
        }
    }
    Ok(())
}

fn render_page(page: &ThreadPage) -> String {
    let mut lines = vec![format!(
        "Thread {} {:?} (your cursor: {}):",
        page.thread.id, page.thread.title, page.cursor
    )];
    if page.messages.is_empty() {
        lines.push("  nothing new".to_owned());
    }
    for m in &page.messages {
        lines.push(format!("  #{} {}: {}", m.seq, m.author, m.body));
    }
    if page.more {
        lines.push("  … more: read again with --after the last seq".to_owned());
    }
    lines.join("\n")
}

fn render_list(list: &[ThreadView]) -> String {
    if list.is_empty() {
        return "No threads yet: atelier threads new TITLE".to_owned();
    }
    list.iter()
        .map(|t| {
            let who: Vec<String> = t
                .participants
                .iter()
                .map(|p| format!("{} (read to {})", p.principal, p.acked))
                .collect();
            format!(
                "{} {:?}: {} message(s), {} unread — {}",
                t.thread.id,
                t.thread.title,
                t.thread.last_seq,
                t.unread,
                who.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
