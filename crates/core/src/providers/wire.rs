//! The three wire formats: how a [`ChatRequest`] becomes an HTTP request, how the key is
//! presented, and how each streamed event becomes [`Piece`]s. Pure functions over bytes, so each
//! format is tested without a socket; `transport` does the I/O.
//!
//! The request built here never holds the key: [`auth_header`] is added by the transport at
//! the moment of sending, so a request can be logged, previewed or stored safely.

use super::sse::SseEvent;
use super::{ChatRequest, OutputFormat, ProviderError, WireFormat};
use serde_json::{Value, json};

/// An HTTP request without its credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct WireRequest {
    /// Full URL.
    pub url: String,
    /// Headers other than the credential.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Value,
}

/// What one streamed event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Generated text.
    Text(String),
    /// Token counts reported so far (a later report replaces an earlier one field by field).
    Usage {
        /// Prompt tokens.
        input: Option<u64>,
        /// Generated tokens.
        output: Option<u64>,
    },
    /// Why generation stopped (`stop`, `length`, `end_turn`, `max_tokens`, `STOP`, …).
    Stop(String),
    /// The stream is complete (OpenAI's `[DONE]`, Anthropic's `message_stop`).
    Done,
}

/// The header that carries `key` for `format`.
pub fn auth_header(format: WireFormat, key: &str) -> (&'static str, String) {
    match format {
        WireFormat::OpenAi => ("authorization", format!("Bearer {key}")),
        WireFormat::Anthropic => ("x-api-key", key.to_owned()),
        WireFormat::Gemini => ("x-goog-api-key", key.to_owned()),
    }
}

/// The streaming generation request.
pub fn chat_request(format: WireFormat, base_url: &str, req: &ChatRequest) -> WireRequest {
    let base = base_url.trim_end_matches('/');
    let mut wire = match format {
        WireFormat::OpenAi => openai_request(base, req),
        WireFormat::Anthropic => anthropic_request(base, req),
        WireFormat::Gemini => gemini_request(base, req),
    };
    if let Some(key) = &req.idempotency_key {
        wire.headers.push(("idempotency-key", key.clone()));
    }
    wire
}

/// A cheap authenticated read (the model list), for `keys test` and `providers test`.
pub fn models_request(format: WireFormat, base_url: &str) -> WireRequest {
    let base = base_url.trim_end_matches('/');
    let (url, headers) = match format {
        WireFormat::OpenAi => (format!("{base}/models"), Vec::new()),
        WireFormat::Anthropic => (format!("{base}/v1/models"), anthropic_headers()),
        WireFormat::Gemini => (format!("{base}/v1beta/models"), Vec::new()),
    };
    WireRequest {
        url,
        headers,
        body: Value::Null,
    }
}

fn openai_request(base: &str, req: &ChatRequest) -> WireRequest {
    let mut body = json!({
        "model": req.model,
        "messages": [
            {"role": "system", "content": req.system},
            {"role": "user", "content": req.prompt},
        ],
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": req.max_tokens,
    });
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    match &req.output {
        OutputFormat::Text => {}
        OutputFormat::Json { schema: None } => {
            body["response_format"] = json!({"type": "json_object"});
        }
        OutputFormat::Json {
            schema: Some(schema),
        } => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            });
        }
    }
    WireRequest {
        url: format!("{base}/chat/completions"),
        headers: Vec::new(),
        body,
    }
}

fn anthropic_headers() -> Vec<(&'static str, String)> {
    vec![("anthropic-version", "2023-06-01".to_owned())]
}

fn anthropic_request(base: &str, req: &ChatRequest) -> WireRequest {
    let mut body = json!({
        "model": req.model,
        "system": req.system,
        "messages": [{"role": "user", "content": req.prompt}],
        "max_tokens": req.max_tokens,
        "stream": true,
    });
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    // Anthropic constrains output to a schema (`output_config.format`); plain JSON mode has no
    // switch of its own, so it is asked for in the prompt by the assembly and checked by gates.
    if let OutputFormat::Json {
        schema: Some(schema),
    } = &req.output
    {
        body["output_config"] = json!({"format": {"type": "json_schema", "schema": schema}});
    }
    WireRequest {
        url: format!("{base}/v1/messages"),
        headers: anthropic_headers(),
        body,
    }
}

fn gemini_request(base: &str, req: &ChatRequest) -> WireRequest {
    let mut config = json!({"maxOutputTokens": req.max_tokens});
    if let Some(t) = req.temperature {
        config["temperature"] = json!(t);
    }
    if let OutputFormat::Json { schema } = &req.output {
        config["responseMimeType"] = json!("application/json");
        if let Some(schema) = schema {
            config["responseJsonSchema"] = schema.clone();
        }
    }
    WireRequest {
        url: format!(
            "{base}/v1beta/models/{}:streamGenerateContent?alt=sse",
            req.model
        ),
        headers: Vec::new(),
        body: json!({
            "systemInstruction": {"parts": [{"text": req.system}]},
            "contents": [{"role": "user", "parts": [{"text": req.prompt}]}],
            "generationConfig": config,
        }),
    }
}

/// The pieces one event of a `format` stream carries.
pub fn parse_event(format: WireFormat, event: &SseEvent) -> Result<Vec<Piece>, ProviderError> {
    if format == WireFormat::OpenAi && event.data.trim() == "[DONE]" {
        return Ok(vec![Piece::Done]);
    }
    let value: Value = serde_json::from_str(&event.data).map_err(|_| ProviderError::Malformed {
        detail: "a stream event is not JSON".to_owned(),
    })?;
    if let Some(error) = value.get("error") {
        return Err(stream_error(error));
    }
    match format {
        WireFormat::OpenAi => Ok(openai_pieces(&value)),
        WireFormat::Anthropic => anthropic_pieces(&value),
        WireFormat::Gemini => Ok(gemini_pieces(&value)),
    }
}

/// An error reported inside a stream after a 200: overloads and server faults may be retried.
fn stream_error(error: &Value) -> ProviderError {
    let kind = error
        .get("type")
        .or_else(|| error.get("status"))
        .or_else(|| error.get("code"))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned();
    let overloaded = [
        "overloaded",
        "rate_limit",
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
        "api_error",
        "server_error",
        "INTERNAL",
    ]
    .iter()
    .any(|k| kind.contains(k));
    if overloaded {
        ProviderError::Server {
            status: 0,
            message: format!("{kind}: {message}"),
        }
    } else {
        ProviderError::Rejected {
            status: 0,
            message: format!("{kind}: {message}"),
        }
    }
}

fn openai_pieces(value: &Value) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if let Some(choice) = value.pointer("/choices/0") {
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            pieces.push(Piece::Text(text.to_owned()));
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            pieces.push(Piece::Stop(reason.to_owned()));
        }
    }
    if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
        pieces.push(Piece::Usage {
            input: usage.get("prompt_tokens").and_then(Value::as_u64),
            output: usage.get("completion_tokens").and_then(Value::as_u64),
        });
    }
    pieces
}

fn anthropic_pieces(value: &Value) -> Result<Vec<Piece>, ProviderError> {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    let mut pieces = Vec::new();
    match kind {
        "message_start" => {
            if let Some(usage) = value.pointer("/message/usage") {
                pieces.push(Piece::Usage {
                    input: usage.get("input_tokens").and_then(Value::as_u64),
                    output: usage.get("output_tokens").and_then(Value::as_u64),
                });
            }
        }
        "content_block_delta" => {
            if let Some(text) = value.pointer("/delta/text").and_then(Value::as_str) {
                pieces.push(Piece::Text(text.to_owned()));
            }
        }
        "message_delta" => {
            if let Some(reason) = value.pointer("/delta/stop_reason").and_then(Value::as_str) {
                pieces.push(Piece::Stop(reason.to_owned()));
            }
            if let Some(usage) = value.get("usage") {
                pieces.push(Piece::Usage {
                    input: usage.get("input_tokens").and_then(Value::as_u64),
                    output: usage.get("output_tokens").and_then(Value::as_u64),
                });
            }
        }
        "message_stop" => pieces.push(Piece::Done),
        "ping" | "content_block_start" | "content_block_stop" => {}
        "" => {
            return Err(ProviderError::Malformed {
                detail: "a stream event has no type".to_owned(),
            });
        }
        // New event types are documented as possible; they carry nothing we use.
        _ => {}
    }
    Ok(pieces)
}

fn gemini_pieces(value: &Value) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if let Some(candidate) = value.pointer("/candidates/0") {
        if let Some(parts) = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
        {
            for part in parts {
                // Thought summaries are not output.
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    pieces.push(Piece::Text(text.to_owned()));
                }
            }
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            pieces.push(Piece::Stop(reason.to_owned()));
        }
    }
    if let Some(usage) = value.get("usageMetadata") {
        pieces.push(Piece::Usage {
            input: usage.get("promptTokenCount").and_then(Value::as_u64),
            output: usage.get("candidatesTokenCount").and_then(Value::as_u64),
        });
    }
    pieces
}

/// The error an HTTP status (with its `Retry-After` and body) means.
pub fn status_error(status: u16, retry_after: Option<&str>, body: &str) -> ProviderError {
    let message = error_message(body);
    match status {
        401 | 403 => ProviderError::Unauthorized { status },
        408 => ProviderError::Timeout,
        409 => ProviderError::InProgress { message },
        429 => ProviderError::RateLimited {
            retry_after_ms: retry_after.and_then(parse_retry_after),
            message,
        },
        500..=599 => ProviderError::Server { status, message },
        _ => ProviderError::Rejected { status, message },
    }
}

/// `Retry-After` in seconds (the providers send seconds, never an HTTP date), as milliseconds.
fn parse_retry_after(value: &str) -> Option<u64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// The provider's own message from an error body, bounded; never the body's other fields.
fn error_message(body: &str) -> String {
    let value: Option<Value> = serde_json::from_str(body).ok();
    let message = value
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
        })
        .unwrap_or("");
    message.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(output: OutputFormat) -> ChatRequest {
        ChatRequest {
            model: "m-1".to_owned(),
            system: "You are terse.".to_owned(),
            prompt: "Say hi.".to_owned(),
            max_tokens: 64,
            temperature: Some(0.5),
            output,
            idempotency_key: None,
        }
    }

    fn event(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
        }
    }

    #[test]
    fn requests_follow_each_documented_shape() {
        let schema = json!({"type": "object"});
        let openai = chat_request(
            WireFormat::OpenAi,
            "http://h/v1/",
            &request(OutputFormat::Json {
                schema: Some(schema.clone()),
            }),
        );
        assert_eq!(openai.url, "http://h/v1/chat/completions");
        assert_eq!(openai.body["messages"][0]["role"], "system");
        assert_eq!(openai.body["stream"], true);
        assert_eq!(openai.body["response_format"]["type"], "json_schema");
        assert_eq!(
            openai.body["response_format"]["json_schema"]["schema"],
            schema
        );

        let anthropic = chat_request(
            WireFormat::Anthropic,
            "http://h",
            &request(OutputFormat::Text),
        );
        assert_eq!(anthropic.url, "http://h/v1/messages");
        assert_eq!(anthropic.body["system"], "You are terse.");
        assert_eq!(anthropic.body["max_tokens"], 64);
        assert!(
            anthropic
                .headers
                .iter()
                .any(|(k, _)| *k == "anthropic-version")
        );

        let gemini = chat_request(
            WireFormat::Gemini,
            "http://h",
            &request(OutputFormat::Json { schema: None }),
        );
        assert_eq!(
            gemini.url,
            "http://h/v1beta/models/m-1:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            gemini.body["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert_eq!(gemini.body["contents"][0]["parts"][0]["text"], "Say hi.");
    }

    #[test]
    fn no_request_carries_the_key_until_the_transport_adds_it() {
        for format in [
            WireFormat::OpenAi,
            WireFormat::Anthropic,
            WireFormat::Gemini,
        ] {
            let r = chat_request(format, "http://h", &request(OutputFormat::Text));
            let text = format!("{r:?}");
            assert!(!text.contains("canary-key"));
            let (_, value) = auth_header(format, "canary-key");
            assert!(value.contains("canary-key"));
        }
    }

    #[test]
    fn openai_stream_pieces() {
        let f = WireFormat::OpenAi;
        assert_eq!(
            parse_event(
                f,
                &event(r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}"#)
            ),
            Ok(vec![Piece::Text("Hi".to_owned())])
        );
        assert_eq!(
            parse_event(
                f,
                &event(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#)
            ),
            Ok(vec![Piece::Stop("stop".to_owned())])
        );
        assert_eq!(
            parse_event(
                f,
                &event(r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#)
            ),
            Ok(vec![Piece::Usage {
                input: Some(9),
                output: Some(2)
            }])
        );
        assert_eq!(parse_event(f, &event("[DONE]")), Ok(vec![Piece::Done]));
    }

    #[test]
    fn anthropic_stream_pieces() {
        let f = WireFormat::Anthropic;
        assert_eq!(
            parse_event(
                f,
                &event(
                    r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}"#
                )
            ),
            Ok(vec![Piece::Usage {
                input: Some(12),
                output: Some(1)
            }])
        );
        assert_eq!(
            parse_event(
                f,
                &event(
                    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#
                )
            ),
            Ok(vec![Piece::Text("Hi".to_owned())])
        );
        assert_eq!(
            parse_event(
                f,
                &event(
                    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#
                )
            ),
            Ok(vec![
                Piece::Stop("end_turn".to_owned()),
                Piece::Usage {
                    input: None,
                    output: Some(5)
                }
            ])
        );
        assert_eq!(
            parse_event(f, &event(r#"{"type":"message_stop"}"#)),
            Ok(vec![Piece::Done])
        );
        assert!(matches!(
            parse_event(
                f,
                &event(
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
                )
            ),
            Err(ProviderError::Server { .. })
        ));
    }

    #[test]
    fn gemini_stream_pieces() {
        let f = WireFormat::Gemini;
        assert_eq!(
            parse_event(
                f,
                &event(
                    r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}}"#
                )
            ),
            Ok(vec![
                Piece::Text("Hi".to_owned()),
                Piece::Stop("STOP".to_owned()),
                Piece::Usage {
                    input: Some(4),
                    output: Some(1)
                }
            ])
        );
    }

    #[test]
    fn a_stream_event_that_is_not_json_is_malformed() {
        for f in [
            WireFormat::OpenAi,
            WireFormat::Anthropic,
            WireFormat::Gemini,
        ] {
            assert!(matches!(
                parse_event(f, &event("{\"choices\": [")),
                Err(ProviderError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        assert_eq!(
            status_error(401, None, ""),
            ProviderError::Unauthorized { status: 401 }
        );
        assert_eq!(
            status_error(429, Some("2"), r#"{"error":{"message":"slow down"}}"#),
            ProviderError::RateLimited {
                retry_after_ms: Some(2000),
                message: "slow down".to_owned()
            }
        );
        assert_eq!(
            status_error(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), ""),
            ProviderError::RateLimited {
                retry_after_ms: None,
                message: String::new()
            }
        );
        assert_eq!(
            status_error(409, None, r#"{"error":{"message":"still processing"}}"#),
            ProviderError::InProgress {
                message: "still processing".to_owned()
            }
        );
        assert!(matches!(
            status_error(503, None, "oops"),
            ProviderError::Server { status: 503, .. }
        ));
        assert!(matches!(
            status_error(400, None, "{}"),
            ProviderError::Rejected { status: 400, .. }
        ));
    }
}
