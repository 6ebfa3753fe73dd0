//! Thread commands (seed 004): start a thread, post to it (a retried post with the same key
//! answers the first message), read what came after a seq (by default, after your own cursor),
//! and acknowledge. Reading needs `vault_read`; starting, posting and acknowledging change the
//! vault and need `vault_write` (a host's cursor is its own, but it is still vault state).

use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::error::{Error, Result};
use crate::input::{self, positive_id};
use crate::threads::{self, Message, Thread, ThreadRefusal};
use crate::vault::{Atelier, Ctx};
use serde::{Deserialize, Serialize};

/// Longest message body, bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Most messages one read answers.
pub const MAX_READ: u32 = 500;

/// A thread to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ThreadCreate {
    /// What it is about, 1–200 characters.
    pub title: String,
    /// Who else takes part (`mcp:<client>`, `role:<name>`, `owner`).
    #[serde(default)]
    pub participants: Vec<Principal>,
}

/// A message to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ThreadPost {
    /// The thread.
    pub thread: i64,
    /// What it says, up to 64 KiB.
    pub body: String,
    /// A key of the poster's choosing: posting again with it answers the first message.
    #[serde(default)]
    pub key: Option<String>,
}

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ThreadRead {
    /// The thread.
    pub thread: i64,
    /// Messages after this seq; by default after the reader's own cursor.
    #[serde(default)]
    pub after: Option<i64>,
    /// At most this many (1–500, default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// An acknowledgement: the reader has handled everything up to `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ThreadAck {
    /// The thread.
    pub thread: i64,
    /// The seq handled; the cursor never moves back.
    pub seq: i64,
}

/// What a post did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PostView {
    /// The message (the first one, for a retried post).
    pub message: Message,
    /// False when the post was a retry and nothing was added.
    pub created: bool,
}

/// Messages of a thread after a seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ThreadPage {
    /// The thread.
    pub thread: Thread,
    /// The messages, oldest first.
    pub messages: Vec<Message>,
    /// The reader's cursor: the last seq it acknowledged.
    pub cursor: i64,
    /// More messages follow the last one answered.
    pub more: bool,
}

/// A thread with who takes part and how far each has read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ThreadView {
    /// The thread.
    #[serde(flatten)]
    pub thread: Thread,
    /// Participants and their cursors.
    pub participants: Vec<Participant>,
    /// Messages after the asker's cursor.
    pub unread: i64,
}

/// One participant of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Participant {
    /// Who.
    pub principal: String,
    /// The last seq it acknowledged.
    pub acked: i64,
}

impl From<ThreadRefusal> for Error {
    fn from(refusal: ThreadRefusal) -> Self {
        match refusal {
            ThreadRefusal::NoThread(id) => Error::not_found("thread", id),
            ThreadRefusal::BeyondEnd { thread, last, seq } => Error::invalid(
                "seq",
                format!("thread {thread} has {last} message(s); seq {seq} cannot be acknowledged"),
            ),
            ThreadRefusal::Storage(e) => Error::from(e),
        }
    }
}

fn view(ctx_db: &rusqlite::Connection, thread: Thread, who: &Principal) -> Result<ThreadView> {
    let participants = ctx_db
        .prepare_cached(
            "SELECT principal, acked_seq FROM thread_participants WHERE thread_id = ?1
             ORDER BY joined_at, principal",
        )?
        .query_map([thread.id], |r| {
            Ok(Participant {
                principal: r.get(0)?,
                acked: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let cursor = threads::cursor(ctx_db, thread.id, &who.as_text())?;
    Ok(ThreadView {
        unread: thread.last_seq - cursor,
        thread,
        participants,
    })
}

impl Atelier {
    /// Starts a thread; its starter and `participants` take part. Needs `vault_write`.
    pub fn thread_create(&self, who: &Principal, request: &ThreadCreate) -> Result<ThreadView> {
        let title = input::line("title", &request.title, 200)?;
        if request.participants.len() > 50 {
            return Err(Error::invalid("participants", "at most 50"));
        }
        let others: Vec<String> = request
            .participants
            .iter()
            .map(Principal::as_text)
            .collect();
        self.write(who, Capability::VaultWrite, |ctx: &Ctx<'_, '_>| {
            let thread = threads::create(ctx.tx, &title, &who.as_text(), &others, ctx.now)?;
            let id = thread.id;
            Ok((
                view(ctx.tx, thread, who)?,
                Entry {
                    action: "thread.create",
                    target: Target::Thread(id),
                    summary: format!("started thread {id} {title:?}"),
                },
            ))
        })
    }

    /// Posts to a thread as `who`, who joins it by posting; the message takes the next seq. A
    /// post with a key `who` used before in this thread answers that message and adds nothing.
    /// Needs `vault_write`.
    pub fn thread_post(&self, who: &Principal, post: &ThreadPost) -> Result<PostView> {
        positive_id("thread", post.thread)?;
        let body = input::text("body", &post.body, MAX_BODY, true)?;
        let key = post
            .key
            .as_deref()
            .map(|k| input::line("key", k, 200))
            .transpose()?;
        self.write(who, Capability::VaultWrite, |ctx| {
            let posted = threads::post(
                ctx.tx,
                post.thread,
                &who.as_text(),
                &body,
                key.as_deref(),
                ctx.now,
            )?;
            let seq = posted.message.seq;
            let summary = if posted.created {
                format!("posted message {seq} to thread {}", post.thread)
            } else {
                format!(
                    "a retried post to thread {} answered message {seq}",
                    post.thread
                )
            };
            Ok((
                PostView {
                    message: posted.message,
                    created: posted.created,
                },
                Entry {
                    action: "thread.post",
                    target: Target::Thread(post.thread),
                    summary,
                },
            ))
        })
    }

    /// Messages of a thread after a seq (by default after `who`'s cursor), oldest first.
    /// Needs `vault_read`.
    pub fn thread_read(&self, who: &Principal, request: &ThreadRead) -> Result<ThreadPage> {
        positive_id("thread", request.thread)?;
        if let Some(after) = request.after
            && after < 0
        {
            return Err(Error::invalid("after", "a seq is 0 or more"));
        }
        let limit = request.limit.unwrap_or(100);
        if !(1..=MAX_READ).contains(&limit) {
            return Err(Error::invalid("limit", format!("between 1 and {MAX_READ}")));
        }
        self.read(who, Capability::VaultRead, |db, _| {
            let thread = threads::get(db, request.thread)?;
            let cursor = threads::cursor(db, request.thread, &who.as_text())?;
            let after = request.after.unwrap_or(cursor);
            let messages = threads::read(db, request.thread, after, limit)?;
            let last = messages.last().map_or(after, |m| m.seq);
            Ok(ThreadPage {
                more: last < thread.last_seq,
                thread,
                messages,
                cursor,
            })
        })
    }

    /// Moves `who`'s cursor forward to `seq` (never back, never past the newest message).
    /// Needs `vault_write`.
    pub fn thread_ack(&self, who: &Principal, ack: ThreadAck) -> Result<i64> {
        positive_id("thread", ack.thread)?;
        if ack.seq < 0 {
            return Err(Error::invalid("seq", "a seq is 0 or more"));
        }
        self.write(who, Capability::VaultWrite, |ctx| {
            let cursor = threads::ack(ctx.tx, ack.thread, &who.as_text(), ack.seq, ctx.now)?;
            Ok((
                cursor,
                Entry {
                    action: "thread.ack",
                    target: Target::Thread(ack.thread),
                    summary: format!(
                        "{} read thread {} up to message {cursor}",
                        who.as_text(),
                        ack.thread
                    ),
                },
            ))
        })
    }

    /// Threads, newest first, with participants and how many messages `who` has not
    /// acknowledged. Needs `vault_read`.
    pub fn threads_list(&self, who: &Principal) -> Result<Vec<ThreadView>> {
        self.read(who, Capability::VaultRead, |db, _| {
            let ids: Vec<i64> = db
                .prepare("SELECT id FROM threads ORDER BY id DESC LIMIT 200")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter()
                .map(|id| view(db, threads::get(db, id)?, who))
                .collect()
        })
    }
}
