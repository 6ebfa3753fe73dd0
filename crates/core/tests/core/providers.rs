//! Provider wire formats against the local stub that replays each provider's documented format:
//! streaming, and each error mapped to its typed error or to a retry.

use crate::fixture::StubProvider;
use atelier_core::providers::transport::{self, Cancel, Endpoint, Limits};
use atelier_core::providers::{ChatRequest, OutputFormat, ProviderError, RetryPolicy, WireFormat};
use atelier_core::secrets::Secret;
use std::time::{Duration, Instant};

fn endpoint(stub: &StubProvider, format: WireFormat) -> Endpoint {
    Endpoint {
        format,
        base_url: match format {
            WireFormat::OpenAi => stub.url("/v1"),
            _ => stub.url(""),
        },
    }
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        system: "Be brief.".to_owned(),
        prompt: "Say hello.".to_owned(),
        max_tokens: 64,
        temperature: None,
        output: OutputFormat::Text,
        idempotency_key: None,
    }
}

fn quick() -> Limits {
    Limits {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(2),
        idle: Duration::from_secs(2),
        total: Duration::from_secs(10),
    }
}

fn call(
    stub: &StubProvider,
    format: WireFormat,
    model: &str,
) -> (Result<transport::Completion, ProviderError>, String) {
    call_with(stub, format, &request(model))
}

fn call_with(
    stub: &StubProvider,
    format: WireFormat,
    request: &ChatRequest,
) -> (Result<transport::Completion, ProviderError>, String) {
    let mut streamed = String::new();
    let key = Secret::new("sk-test-0123456789abcdef".to_owned());
    let result = transport::stream_chat(
        &endpoint(stub, format),
        Some(&key),
        request,
        &quick(),
        &Cancel::default(),
        &mut |t| streamed.push_str(t),
    );
    (result, streamed)
}

const FORMATS: [WireFormat; 3] = [
    WireFormat::OpenAi,
    WireFormat::Anthropic,
    WireFormat::Gemini,
];

#[test]
fn each_format_streams_text_usage_and_sends_the_key_in_its_own_header() {
    let stub = StubProvider::start();
    stub.set_replies(serde_json::json!({"chat": ["The lighthouse keeper waves from the rail."]}));
    for format in FORMATS {
        let (result, streamed) = call(&stub, format, "chat");
        let completion = result.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(
            completion.text, "The lighthouse keeper waves from the rail.",
            "{format:?}"
        );
        assert_eq!(
            streamed, completion.text,
            "{format:?}: every piece was streamed"
        );
        assert!(
            completion.usage.input_tokens > 0 && completion.usage.output_tokens > 0,
            "{format:?}: {:?}",
            completion.usage
        );
        assert!(completion.stop.is_some(), "{format:?}");
    }
    let seen = stub.requests();
    let header = |i: usize, name: &str| seen[i]["headers"][name].as_str().unwrap_or("").to_owned();
    assert_eq!(
        header(0, "authorization"),
        "Bearer sk-test-0123456789abcdef"
    );
    assert_eq!(header(1, "x-api-key"), "sk-test-0123456789abcdef");
    assert_eq!(header(1, "anthropic-version"), "2023-06-01");
    assert_eq!(header(2, "x-goog-api-key"), "sk-test-0123456789abcdef");
    assert!(
        seen[2]["path"]
            .as_str()
            .unwrap_or("")
            .ends_with(":streamGenerateContent?alt=sse")
    );
}

#[test]
fn errors_map_to_typed_errors_in_every_format() {
    let stub = StubProvider::start();
    for format in FORMATS {
        let (r, _) = call(&stub, format, "fail-401");
        assert_eq!(
            r,
            Err(ProviderError::Unauthorized { status: 401 }),
            "{format:?}"
        );
        let (r, _) = call(&stub, format, "fail-429");
        assert!(
            matches!(
                r,
                Err(ProviderError::RateLimited {
                    retry_after_ms: Some(1000),
                    ..
                })
            ),
            "{format:?}: {r:?}"
        );
        let (r, _) = call(&stub, format, "fail-500");
        assert!(
            matches!(r, Err(ProviderError::Server { status: 500, .. })),
            "{format:?}: {r:?}"
        );
        let (r, _) = call(&stub, format, "malformed");
        assert!(
            matches!(r, Err(ProviderError::Malformed { .. })),
            "{format:?}: {r:?}"
        );
        if format != WireFormat::Gemini {
            // Gemini has no end marker: a cut stream is indistinguishable from a short answer
            // until the finish reason, which the truncated stream lacks too.
            let (r, _) = call(&stub, format, "truncated");
            assert!(
                matches!(r, Err(ProviderError::Malformed { .. })),
                "{format:?}: {r:?}"
            );
        }
    }
}

#[test]
fn silence_times_out_and_a_cancel_ends_a_call_at_once() {
    let stub = StubProvider::start();
    let started = Instant::now();
    let (r, _) = call(&stub, WireFormat::OpenAi, "hang");
    assert_eq!(r, Err(ProviderError::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the first-byte limit fired, not the total"
    );
    let (r, streamed) = call(&stub, WireFormat::Anthropic, "stall");
    assert_eq!(r, Err(ProviderError::Timeout));
    assert!(streamed.is_empty());

    let cancel = Cancel::default();
    let trigger = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.cancel();
    });
    let r = transport::stream_chat(
        &endpoint(&stub, WireFormat::OpenAi),
        None,
        &request("hang"),
        &Limits::default(),
        &cancel,
        &mut |_| {},
    );
    assert_eq!(r, Err(ProviderError::Cancelled));
}

/// A retry that reaches the provider while it still works on the first request with the same
/// `Idempotency-Key` (its client was killed, say) is told so with a 409: `InProgress`, retried
/// after a pause. The retry after the first has finished gets the first answer, and the work
/// was done once.
#[test]
fn a_retry_while_the_first_request_runs_is_told_to_wait_then_gets_the_first_answer() {
    let stub = StubProvider::start();
    let keyed = ChatRequest {
        idempotency_key: Some("task:7:0:work".to_owned()),
        // slow-*: the stub works 0.3 s before answering.
        ..request("slow-keyed")
    };
    std::thread::scope(|scope| {
        let first = scope.spawn(|| call_with(&stub, WireFormat::OpenAi, &keyed));
        while stub.requests().is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (retry, streamed) = call_with(&stub, WireFormat::OpenAi, &keyed);
        let error = retry.expect_err("409 while the first request runs");
        assert!(
            matches!(error, ProviderError::InProgress { ref message } if message.contains("still being processed")),
            "{error:?}"
        );
        assert!(streamed.is_empty());
        assert_eq!(
            RetryPolicy::default().wait_after(0, &error),
            Some(Duration::from_millis(500)),
            "retried after the backoff"
        );
        let (answer, text) = first.join().expect("first call");
        assert!(answer.is_ok(), "{answer:?}");
        let (again, again_text) = call_with(&stub, WireFormat::OpenAi, &keyed);
        assert!(again.is_ok(), "{again:?}");
        assert_eq!(again_text, text);
    });
    let outcomes: Vec<(bool, bool)> = stub
        .requests()
        .iter()
        .map(|r| (r["replayed"] == true, r["in_progress"] == true))
        .collect();
    assert_eq!(
        outcomes,
        vec![(false, false), (false, true), (true, false)],
        "executed once, refused while running, then replayed"
    );
}

#[test]
fn retry_policy_classifies_the_stub_errors() {
    let stub = StubProvider::start();
    let policy = RetryPolicy::default();
    let (r, _) = call(&stub, WireFormat::OpenAi, "fail-429");
    let error = r.expect_err("429");
    assert_eq!(
        policy.wait_after(0, &error),
        Some(Duration::from_secs(1)),
        "Retry-After is honoured"
    );
    let (r, _) = call(&stub, WireFormat::OpenAi, "fail-401");
    assert_eq!(
        policy.wait_after(0, &r.expect_err("401")),
        None,
        "a refused key is not retried"
    );
    // flaky-500 fails once, then answers: the retry a runner makes succeeds.
    let (first, _) = call(&stub, WireFormat::Gemini, "flaky-500");
    assert!(matches!(first, Err(ProviderError::Server { .. })));
    let (second, _) = call(&stub, WireFormat::Gemini, "flaky-500");
    assert!(second.is_ok());
}

#[test]
fn a_refused_key_is_not_echoed_back_in_errors() {
    let stub = StubProvider::start();
    let key = Secret::new("sk-invalid-canary-9f8e7d6c5b4a".to_owned());
    let r = transport::list_models(
        &endpoint(&stub, WireFormat::OpenAi),
        Some(&key),
        &quick(),
        &Cancel::default(),
    );
    let error = r.expect_err("refused");
    assert_eq!(error, ProviderError::Unauthorized { status: 401 });
    assert!(!format!("{error:?} {error}").contains("canary"));
}
