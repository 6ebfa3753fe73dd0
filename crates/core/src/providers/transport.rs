//! HTTP for providers. Each call runs ureq on a worker thread and hands bytes over a channel,
//! so the caller notices a cancel (or the kill switch) within one poll interval even while the
//! socket is silent; an abandoned worker ends at its own timeouts.
//!
//! The key enters only here, as one header added at sending time. Redirects are never
//! followed (a redirect is [`ProviderError::Redirected`]), so the key goes only to the
//! configured origin. Everything the provider says back passes through one place before this
//! module returns it: every text of an error (whether from a status body, an error event inside
//! a stream of any wire format, or a `Location` header) is scrubbed of the key and cut to
//! [`MAX_PROVIDER_TEXT`] characters ([`clean_error`]), and streamed text is scrubbed before it
//! reaches the caller, holding back just enough of its tail that a key split across two
//! events is still caught.

use super::sse::SseParser;
use super::wire::{self, Piece, WireRequest};
use super::{ChatRequest, ProviderError, Usage, WireFormat};
use crate::secrets::{Secret, scrub};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

/// How often a waiting call looks at its cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// Largest error body read, and largest non-streamed answer.
const MAX_BODY: u64 = 4 * 1024 * 1024;

/// The most characters of any one provider-supplied text kept in an error.
pub const MAX_PROVIDER_TEXT: usize = 300;

/// Time limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connecting.
    pub connect: Duration,
    /// From sending to the response head (a model may think before its first token).
    pub first_byte: Duration,
    /// Silence allowed between two reads of the body.
    pub idle: Duration,
    /// The whole call.
    pub total: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// A shared flag that cancels the calls holding it. A child is cancelled with its parent: a
/// run's token is a child of the kill switch's, so either stops the run.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelFlag>);

#[derive(Debug, Default)]
struct CancelFlag {
    cancelled: AtomicBool,
    parent: Option<Cancel>,
}

impl Cancel {
    /// A token cancelled by its own `cancel` or by this one's.
    pub fn child(&self) -> Cancel {
        Cancel(Arc::new(CancelFlag {
            cancelled: AtomicBool::new(false),
            parent: Some(self.clone()),
        }))
    }

    /// Asks every holder (and every child) to stop.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether this token or an ancestor was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
            || self.0.parent.as_ref().is_some_and(Cancel::is_cancelled)
    }
}

/// Where a provider is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its wire format.
    pub format: WireFormat,
    /// Its base URL (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`,
    /// `https://api.anthropic.com`, `https://generativelanguage.googleapis.com`).
    pub base_url: String,
}

/// A finished generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// All generated text.
    pub text: String,
    /// Token counts as the provider reported them.
    pub usage: Usage,
    /// The provider's stop reason.
    pub stop: Option<String>,
}

enum Message {
    Chunk(Vec<u8>),
    End,
    Failed(ProviderError),
}

/// Streams one generation, calling `on_text` with each piece of text as it arrives.
pub fn stream_chat(
    endpoint: &Endpoint,
    key: Option<&Secret>,
    request: &ChatRequest,
    limits: &Limits,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str),
) -> Result<Completion, ProviderError> {
    let mut text = ScrubbedText::new(key);
    let streamed = stream_raw(
        endpoint,
        key,
        request,
        limits,
        cancel,
        &mut |piece: &str| {
            let clean = text.push(piece);
            if !clean.is_empty() {
                on_text(&clean);
            }
        },
    );
    let rest = text.finish();
    if !rest.is_empty() {
        on_text(&rest);
    }
    let mut completion = streamed.map_err(|e| clean_error(e, key))?;
    if let Some(key) = key {
        completion.text = scrub(&completion.text, key);
    }
    Ok(completion)
}

fn stream_raw(
    endpoint: &Endpoint,
    key: Option<&Secret>,
    request: &ChatRequest,
    limits: &Limits,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str),
) -> Result<Completion, ProviderError> {
    let wire = wire::chat_request(endpoint.format, &endpoint.base_url, request);
    let messages = spawn(endpoint.format, wire, key, *limits, true);
    let started = Instant::now();
    let mut parser = SseParser::default();
    let mut completion = Completion::default();
    let mut finished = false;
    let mut take = |pieces: Vec<Piece>, completion: &mut Completion, finished: &mut bool| {
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    on_text(&text);
                    completion.text.push_str(&text);
                }
                Piece::Usage { input, output } => {
                    if let Some(n) = input {
                        completion.usage.input_tokens = n;
                    }
                    if let Some(n) = output {
                        completion.usage.output_tokens = n;
                    }
                }
                Piece::Stop(reason) => {
                    completion.stop = Some(reason);
                    // Gemini has no end marker: its last event carries the finish reason.
                    if endpoint.format == WireFormat::Gemini {
                        *finished = true;
                    }
                }
                Piece::Done => *finished = true,
            }
        }
    };
    loop {
        match next(&messages, cancel, started, limits)? {
            Message::Chunk(bytes) => {
                let events = parser.push(&bytes).map_err(|e| ProviderError::Malformed {
                    detail: e.to_string(),
                })?;
                for event in events {
                    let pieces = wire::parse_event(endpoint.format, &event)?;
                    take(pieces, &mut completion, &mut finished);
                }
            }
            Message::End => {
                let last = parser.finish().map_err(|e| ProviderError::Malformed {
                    detail: e.to_string(),
                })?;
                if let Some(event) = last {
                    let pieces = wire::parse_event(endpoint.format, &event)?;
                    take(pieces, &mut completion, &mut finished);
                }
                return if finished {
                    Ok(completion)
                } else {
                    Err(ProviderError::Malformed {
                        detail: "the stream ended before the provider said it was complete"
                            .to_owned(),
                    })
                };
            }
            Message::Failed(error) => return Err(error),
        }
    }
}

/// Lists the provider's models: an authenticated read that generates nothing, to test a key.
pub fn list_models(
    endpoint: &Endpoint,
    key: Option<&Secret>,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<serde_json::Value, ProviderError> {
    list_raw(endpoint, key, limits, cancel).map_err(|e| clean_error(e, key))
}

fn list_raw(
    endpoint: &Endpoint,
    key: Option<&Secret>,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<serde_json::Value, ProviderError> {
    let wire = wire::models_request(endpoint.format, &endpoint.base_url);
    let messages = spawn(endpoint.format, wire, key, *limits, false);
    let started = Instant::now();
    let mut body = Vec::new();
    loop {
        match next(&messages, cancel, started, limits)? {
            Message::Chunk(bytes) => body.extend_from_slice(&bytes),
            Message::End => {
                return serde_json::from_slice(&body).map_err(|_| ProviderError::Malformed {
                    detail: "the model list is not JSON".to_owned(),
                });
            }
            Message::Failed(error) => return Err(error),
        }
    }
}

/// The next message from the worker, waiting in short slices so a cancel is seen quickly.
fn next(
    messages: &Receiver<Message>,
    cancel: &Cancel,
    started: Instant,
    limits: &Limits,
) -> Result<Message, ProviderError> {
    loop {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        if started.elapsed() > limits.total {
            return Err(ProviderError::Timeout);
        }
        match messages.recv_timeout(POLL) {
            Ok(message) => return Ok(message),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(ProviderError::Unreachable {
                    detail: "the connection worker stopped".to_owned(),
                });
            }
        }
    }
}

fn spawn(
    format: WireFormat,
    wire: WireRequest,
    key: Option<&Secret>,
    limits: Limits,
    post: bool,
) -> Receiver<Message> {
    let (tx, rx) = mpsc::sync_channel(64);
    let key = key.cloned();
    let worker = std::thread::Builder::new()
        .name("atelier-provider".to_owned())
        .spawn({
            let tx = tx.clone();
            move || call(format, wire, key.as_ref(), limits, post, &tx)
        });
    if worker.is_err() {
        let _ = tx.send(Message::Failed(ProviderError::Unreachable {
            detail: "could not start a connection thread".to_owned(),
        }));
    }
    rx
}

fn call(
    format: WireFormat,
    wire: WireRequest,
    key: Option<&Secret>,
    limits: Limits,
    post: bool,
    tx: &SyncSender<Message>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(limits.connect))
        .timeout_recv_response(Some(limits.first_byte))
        .timeout_per_read(Some(limits.idle))
        .timeout_global(Some(limits.total))
        // A redirect would carry the key's header to the `Location` (ureq strips only
        // `Authorization` and `Cookie`, not `x-api-key` or `x-goog-api-key`).
        .max_redirects(0)
        .user_agent(concat!("atelier/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let auth = key.map(|k| wire::auth_header(format, k.expose()));
    let sent = if post {
        let mut request = agent
            .post(&wire.url)
            .header("content-type", "application/json");
        for (name, value) in &wire.headers {
            request = request.header(*name, value);
        }
        if let Some((name, value)) = &auth {
            request = request.header(*name, value);
        }
        request.send(wire.body.to_string())
    } else {
        let mut request = agent.get(&wire.url);
        for (name, value) in &wire.headers {
            request = request.header(*name, value);
        }
        if let Some((name, value)) = &auth {
            request = request.header(*name, value);
        }
        request.call()
    };
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            let _ = tx.send(Message::Failed(transport_error(&e)));
            return;
        }
    };
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        let location = response
            .headers()
            .get("location")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_else(|| "nowhere given".to_owned());
        let _ = tx.send(Message::Failed(ProviderError::Redirected {
            status,
            location,
        }));
        return;
    }
    if !(200..300).contains(&status) {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .unwrap_or_default();
        let error = wire::status_error(status, retry_after.as_deref(), &body);
        let _ = tx.send(Message::Failed(error));
        return;
    }
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(if post { u64::MAX } else { MAX_BODY })
        .reader();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => {
                let _ = tx.send(Message::End);
                return;
            }
            Ok(n) => {
                if tx.send(Message::Chunk(buffer[..n].to_vec())).is_err() {
                    return; // the caller gave up (cancelled or timed out)
                }
            }
            Err(e) => {
                // ureq reports its own read timeout as an io error wrapping `ureq::Error`.
                let timed_out = e.kind() == std::io::ErrorKind::TimedOut
                    || e.get_ref()
                        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                        .is_some_and(|inner| matches!(inner, ureq::Error::Timeout(_)));
                let error = if timed_out {
                    ProviderError::Timeout
                } else {
                    ProviderError::Malformed {
                        detail: format!("the stream broke off ({})", e.kind()),
                    }
                };
                let _ = tx.send(Message::Failed(error));
                return;
            }
        }
    }
}

fn transport_error(error: &ureq::Error) -> ProviderError {
    match error {
        ureq::Error::Timeout(_) => ProviderError::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => ProviderError::Timeout,
        ureq::Error::Io(e) => ProviderError::Unreachable {
            detail: e.kind().to_string(),
        },
        ureq::Error::HostNotFound => ProviderError::Unreachable {
            detail: "host not found".to_owned(),
        },
        ureq::Error::ConnectionFailed => ProviderError::Unreachable {
            detail: "connection failed".to_owned(),
        },
        ureq::Error::BadUri(_) => ProviderError::Unreachable {
            detail: "the provider's base URL is not valid".to_owned(),
        },
        _ => ProviderError::Unreachable {
            detail: "the request could not be completed".to_owned(),
        },
    }
}

/// `error` with every text the provider supplied scrubbed of `key` and cut to
/// [`MAX_PROVIDER_TEXT`] characters: the one place provider text becomes error text.
pub fn clean_error(error: ProviderError, key: Option<&Secret>) -> ProviderError {
    let clean = |m: String| {
        let scrubbed = match key {
            Some(key) => scrub(&m, key),
            None => m,
        };
        let mut chars = scrubbed.chars();
        let mut cut: String = chars.by_ref().take(MAX_PROVIDER_TEXT).collect();
        if chars.next().is_some() {
            cut.push('…');
        }
        cut
    };
    match error {
        ProviderError::RateLimited {
            retry_after_ms,
            message,
        } => ProviderError::RateLimited {
            retry_after_ms,
            message: clean(message),
        },
        ProviderError::InProgress { message } => ProviderError::InProgress {
            message: clean(message),
        },
        ProviderError::Server { status, message } => ProviderError::Server {
            status,
            message: clean(message),
        },
        ProviderError::Rejected { status, message } => ProviderError::Rejected {
            status,
            message: clean(message),
        },
        ProviderError::Malformed { detail } => ProviderError::Malformed {
            detail: clean(detail),
        },
        ProviderError::Unreachable { detail } => ProviderError::Unreachable {
            detail: clean(detail),
        },
        ProviderError::Redirected { status, location } => ProviderError::Redirected {
            status,
            location: clean(location),
        },
        ProviderError::Unauthorized { status } => ProviderError::Unauthorized { status },
        ProviderError::Timeout => ProviderError::Timeout,
        ProviderError::Cancelled => ProviderError::Cancelled,
    }
}

/// Streamed text on its way to the caller, scrubbed of the key. The last `key length - 1`
/// characters wait for the next piece: a key split across two events is whole in the buffer
/// before any of it is let out, and what waits is too short to identify the key.
struct ScrubbedText<'k> {
    key: Option<&'k Secret>,
    hold: usize,
    pending: String,
}

impl<'k> ScrubbedText<'k> {
    fn new(key: Option<&'k Secret>) -> Self {
        let hold = key.map_or(0, |k| k.expose().chars().count().saturating_sub(1));
        ScrubbedText {
            key,
            hold,
            pending: String::new(),
        }
    }

    /// What of the text so far may be shown now.
    fn push(&mut self, piece: &str) -> String {
        let Some(key) = self.key else {
            return piece.to_owned();
        };
        self.pending.push_str(piece);
        let scrubbed = scrub(&self.pending, key);
        let count = scrubbed.chars().count();
        if count <= self.hold {
            self.pending = scrubbed;
            return String::new();
        }
        let split = scrubbed
            .char_indices()
            .nth(count - self.hold)
            .map_or(scrubbed.len(), |(at, _)| at);
        self.pending = scrubbed[split..].to_owned();
        scrubbed[..split].to_owned()
    }

    /// The rest, at the end of the stream.
    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        match self.key {
            Some(key) => scrub(&rest, key),
            None => rest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_split_across_streamed_pieces_is_caught() {
        let key = Secret::new("sk-canary-0123456789abcdef".to_owned());
        let mut text = ScrubbedText::new(Some(&key));
        let mut shown = String::new();
        for piece in [
            "Your key is sk-can",
            "ary-0123456",
            "789abcdef, ",
            "keep it safe.",
        ] {
            shown.push_str(&text.push(piece));
        }
        shown.push_str(&text.finish());
        let key: Vec<char> = key.expose().chars().collect();
        for run in key.windows(8) {
            let run: String = run.iter().collect();
            assert!(!shown.contains(&run), "{shown}");
        }
        assert!(shown.starts_with("Your key is [key]"), "{shown}");
        assert!(shown.ends_with(", keep it safe."), "{shown}");
    }

    #[test]
    fn every_provider_text_in_an_error_is_scrubbed_and_bounded() {
        let key = Secret::new("sk-canary-0123456789abcdef".to_owned());
        let long = format!("bad key sk-canary-0123456789abcdef {}", "x".repeat(1000));
        for error in [
            ProviderError::Rejected {
                status: 0,
                message: long.clone(),
            },
            ProviderError::Server {
                status: 0,
                message: long.clone(),
            },
            ProviderError::Malformed {
                detail: long.clone(),
            },
            ProviderError::Redirected {
                status: 302,
                location: long.clone(),
            },
        ] {
            let text = clean_error(error, Some(&key)).to_string();
            assert!(!text.contains("0123456789"), "{text}");
            assert!(text.chars().count() < 600, "{text}");
        }
    }
}
