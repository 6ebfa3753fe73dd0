//! Language-model providers: the three wire formats ([`wire`]), their event streams ([`sse`]),
//! the HTTP transport with cancellation ([`transport`]), and the retry policy.
//!
//! A provider is data (a format and a base URL, optionally a key reference); any
//! OpenAI-compatible server — OpenAI, Ollama, LM Studio, llama.cpp, vLLM, OpenRouter — is the
//! `openai` format at its own URL.

pub mod commands;
pub mod pricing;
pub mod routing;
pub mod slots;
pub mod sse;
pub mod store;
pub mod transport;
pub mod wire;

use crate::names::Named;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// OpenAI chat completions (`/chat/completions`), also spoken by Ollama, LM Studio,
    /// llama.cpp's server, vLLM and OpenRouter.
    // Spelled as everywhere else (files, CLI, database), not `open_ai`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// Google Gemini `generateContent` (`:streamGenerateContent?alt=sse`).
    Gemini,
}

impl WireFormat {
    /// Every format, for listings and parsing.
    pub const ALL: [WireFormat; 3] = [
        WireFormat::OpenAi,
        WireFormat::Anthropic,
        WireFormat::Gemini,
    ];

    /// The name used in files, the CLI and the database.
    pub fn name(self) -> &'static str {
        match self {
            WireFormat::OpenAi => "openai",
            WireFormat::Anthropic => "anthropic",
            WireFormat::Gemini => "gemini",
        }
    }

    /// The format named `name`.
    pub fn parse(name: &str) -> Option<WireFormat> {
        WireFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A provider Atelier knows without being told: the public APIs at their documented URLs and
/// the usual local servers at their default ports. `providers add` with the same name replaces
/// one (another URL, another key reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinProvider {
    /// Its name, the `provider` of `provider:model`.
    pub name: &'static str,
    /// Its wire format.
    pub format: WireFormat,
    /// Its base URL.
    pub base_url: &'static str,
    /// The key reference it reads, if it needs a key.
    pub key_ref: Option<&'static str>,
}

/// The built-in providers.
pub const BUILTIN: &[BuiltinProvider] = &[
    BuiltinProvider {
        name: "openai",
        format: WireFormat::OpenAi,
        base_url: "https://api.openai.com/v1",
        key_ref: Some("openai"),
    },
    BuiltinProvider {
        name: "anthropic",
        format: WireFormat::Anthropic,
        base_url: "https://api.anthropic.com",
        key_ref: Some("anthropic"),
    },
    BuiltinProvider {
        name: "gemini",
        format: WireFormat::Gemini,
        base_url: "https://generativelanguage.googleapis.com",
        key_ref: Some("gemini"),
    },
    BuiltinProvider {
        name: "openrouter",
        format: WireFormat::OpenAi,
        base_url: "https://openrouter.ai/api/v1",
        key_ref: Some("openrouter"),
    },
    BuiltinProvider {
        name: "ollama",
        format: WireFormat::OpenAi,
        base_url: "http://127.0.0.1:11434/v1",
        key_ref: None,
    },
    BuiltinProvider {
        name: "lmstudio",
        format: WireFormat::OpenAi,
        base_url: "http://127.0.0.1:1234/v1",
        key_ref: None,
    },
    BuiltinProvider {
        name: "llamacpp",
        format: WireFormat::OpenAi,
        base_url: "http://127.0.0.1:8080/v1",
        key_ref: None,
    },
    BuiltinProvider {
        name: "vllm",
        format: WireFormat::OpenAi,
        base_url: "http://127.0.0.1:8000/v1",
        key_ref: None,
    },
];

/// Whether `url` can be a provider's base URL: http or https, a host, no credentials, query or
/// fragment (a key never travels in a URL).
pub fn base_url_problem(url: &str) -> Option<&'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some("must start with http:// or https://");
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        Some("has no host")
    } else if host.contains('@') {
        Some("must not carry credentials; keys live in the keychain")
    } else if url.contains(['?', '#']) {
        Some("must not have a query or fragment")
    } else if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain spaces or control characters")
    } else if url.len() > 500 {
        Some("is longer than 500 characters")
    } else {
        None
    }
}

/// The output constraint sent with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    /// Free text (Markdown shapes).
    Text,
    /// JSON, constrained to `schema` where the provider supports schemas.
    Json {
        /// The JSON Schema of a JSON shape.
        schema: Option<serde_json::Value>,
    },
}

/// One generation: the assembled prompt and its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The provider's model name.
    pub model: String,
    /// The system prompt (the Assistant and Expectations of ASSET).
    pub system: String,
    /// The user prompt (Sources, Structured output and Task).
    pub prompt: String,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling temperature, when set.
    pub temperature: Option<f32>,
    /// Text or JSON.
    pub output: OutputFormat,
    /// Sent as the `Idempotency-Key` header: the same call retried after a crash carries the
    /// same key, so a provider that honours it answers the first result instead of working again.
    pub idempotency_key: Option<String>,
}

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// How a provider call failed. None of these carries a key: every text in them that came from
/// the provider (error bodies, errors inside a stream, a redirect's `Location`) passes through
/// [`transport`]'s one scrub, which removes the key and bounds the length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderError {
    /// The key was refused (401/403).
    #[error("the provider refused the key (HTTP {status}); set it again with `atelier keys set`")]
    Unauthorized {
        /// HTTP status.
        status: u16,
    },
    /// Too many requests (429).
    #[error("the provider is rate limiting ({}){}", retry_hint(*retry_after_ms), suffix(message))]
    RateLimited {
        /// The wait the provider asked for.
        retry_after_ms: Option<u64>,
        /// The provider's message.
        message: String,
    },
    /// The provider failed (5xx, or an overload reported inside the stream, status 0).
    #[error("the provider failed (HTTP {status}){}", suffix(message))]
    Server {
        /// HTTP status, 0 when reported inside a stream.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The provider is still working on an earlier request with the same `Idempotency-Key`
    /// (409): its client died and this is the retry. Asking again shortly gets the first
    /// request's answer, without the provider doing the work twice.
    #[error(
        "the provider is still working on an earlier request with this idempotency key (HTTP 409){}",
        suffix(message)
    )]
    InProgress {
        /// The provider's message.
        message: String,
    },
    /// The provider refused the request itself (4xx other than auth and rate limits).
    #[error("the provider rejected the request (HTTP {status}){}", suffix(message))]
    Rejected {
        /// HTTP status, 0 when reported inside a stream.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The response is not the documented format.
    #[error("the provider's response is malformed: {detail}")]
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// No answer, or no progress, within the time limit.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The connection could not be made.
    #[error("the provider could not be reached ({detail})")]
    Unreachable {
        /// The failure class.
        detail: String,
    },
    /// The call was cancelled (a run cancelled, or the kill switch).
    #[error("cancelled")]
    Cancelled,
    /// The provider answered with a redirect (3xx). It is not followed: the key would go
    /// with the request to wherever the `Location` points.
    #[error(
        "the provider answered with a redirect (HTTP {status}) to {location}; it is not followed, so the key stays here: set the provider's base URL to the address you trust"
    )]
    Redirected {
        /// HTTP status.
        status: u16,
        /// Where it pointed (`Location`, bounded), or `nowhere given`.
        location: String,
    },
}

fn retry_hint(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "no wait given".to_owned(),
        |ms| format!("asked to wait {:.1} s", ms as f64 / 1000.0),
    )
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl ProviderError {
    /// Whether the same model may succeed if asked again. A provider that cannot be reached
    /// is not asked again: most often it is a local server that is not running, and the next
    /// model should be tried at once.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::InProgress { .. }
                | ProviderError::Server { .. }
                | ProviderError::Timeout
                | ProviderError::Malformed { .. }
        )
    }
}

/// Retries of one model before falling back to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls per model, the first included.
    pub attempts: u32,
    /// The first wait; each later wait doubles.
    pub base: Duration,
    /// The longest wait. A provider asking for longer is not waited for: the next model is
    /// tried instead.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before call number `attempt + 1` (0-based `attempt` just failed with
    /// `error`), or `None` to stop trying this model.
    pub fn wait_after(&self, attempt: u32, error: &ProviderError) -> Option<Duration> {
        if !error.retryable() || attempt + 1 >= self.attempts {
            return None;
        }
        if let ProviderError::RateLimited {
            retry_after_ms: Some(ms),
            ..
        } = error
        {
            let asked = Duration::from_millis(*ms);
            return (asked <= self.max).then_some(asked);
        }
        let doubled = self.base.saturating_mul(2u32.saturating_pow(attempt));
        Some(doubled.min(self.max))
    }
}

impl Named for WireFormat {
    const ALL: &'static [Self] = &WireFormat::ALL;
    fn name(self) -> &'static str {
        WireFormat::name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_honour_retry_after_and_stop_at_the_attempt_limit() {
        let policy = RetryPolicy::default();
        let server = ProviderError::Server {
            status: 500,
            message: String::new(),
        };
        assert_eq!(
            policy.wait_after(0, &server),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            policy.wait_after(1, &server),
            Some(Duration::from_millis(1000))
        );
        assert_eq!(policy.wait_after(2, &server), None);
        let limited = |ms| ProviderError::RateLimited {
            retry_after_ms: Some(ms),
            message: String::new(),
        };
        assert_eq!(
            policy.wait_after(0, &limited(2000)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.wait_after(0, &limited(120_000)), None);
        assert_eq!(
            policy.wait_after(0, &ProviderError::Unauthorized { status: 401 }),
            None
        );
        assert_eq!(policy.wait_after(0, &ProviderError::Cancelled), None);
    }

    #[test]
    fn base_urls_refuse_credentials_queries_and_other_schemes() {
        assert_eq!(base_url_problem("http://127.0.0.1:11434/v1"), None);
        assert_eq!(base_url_problem("https://api.openai.com/v1"), None);
        assert!(base_url_problem("ftp://x").is_some());
        assert!(base_url_problem("https://user:sk-123@api.openai.com/v1").is_some());
        assert!(base_url_problem("https://api.openai.com/v1?key=sk-123").is_some());
        assert!(base_url_problem("https:///v1").is_some());
        for b in BUILTIN {
            assert_eq!(base_url_problem(b.base_url), None, "{}", b.name);
        }
    }

    #[test]
    fn format_names_round_trip() {
        for f in WireFormat::ALL {
            assert_eq!(WireFormat::parse(f.name()), Some(f));
        }
        assert_eq!(WireFormat::parse("OpenAI"), None);
    }
}
