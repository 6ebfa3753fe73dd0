#!/usr/bin/env python3
"""A local stand-in for remote LLM providers: it speaks the documented wire formats of OpenAI
chat completions, Anthropic Messages and Gemini generateContent, streaming included, and their
errors. It is the only stand-in Atelier's tests use (remote providers are unreachable here).

    python3 tests/providers/stub.py [--log FILE] [--replies FILE]

It prints `port N` on its first line of stdout, then serves on 127.0.0.1:N until killed.

What a request gets is chosen by its model name:
    anything else   200, a stream of the reply (from --replies, else "Hello from the stub.")
    fail-401        401 with the provider's error body
    leaky-400       400 whose message repeats the key it was sent (some providers echo part of
                    it), so tests can check that Atelier never passes it on
    leaky-stream    200, then an error event inside the stream (in the format's own shape)
                    whose message repeats the key it was sent
    fail-429        429 with Retry-After: 1
    fail-500        500
    flaky-429       429 (Retry-After: 1) on the first request for that model, then a stream
    flaky-500       500 on the first request for that model, then a stream
    malformed       200, then a stream event that is not JSON
    truncated       200, then the stream stops before its end marker
    hang            no response head for 60 s (the client's timeout fires first)
    stall           200 and one event, then 60 s of silence
    slow-*          like anything else, after 0.3 s (so calls overlap and limits show)
    instant*        like anything else, without the 5 ms pause between stream events
A key containing "invalid" is refused with 401 on every route.
A path under /redirect/ (a provider whose base URL is {stub}/redirect) is answered with 302 to
the same path under /stolen/ on this server; /stolen/ answers as the provider would, so a client
that follows the redirect sees success, and the log shows which headers went there.

An `Idempotency-Key` header makes a generation request idempotent, as the IETF Idempotency-Key
draft has a server do: the first request with a key is executed and its 200 reply remembered; a
later request with the same key gets that reply again without executing (logged
`"replayed": true`); a request arriving while the first with its key is still being executed
(its client may have died and a new one retried) gets 409 without executing (logged
`"in_progress": true`).
Each log line also says how many generation requests were in flight when it arrived
(`"inflight"`), so tests can check concurrency limits.

--replies FILE is a JSON object {model: [reply, ...]}; a model's replies are given in turn, the
last one repeated. The file is read on every request, so a test may rewrite it.
--log FILE gets one JSON line per request: method, path, headers, body, and when it arrived
(`"at"`, seconds since the epoch).
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {}
COUNTS_LOCK = threading.Lock()
# Idempotency-Key -> the events of its executed 200 reply.
REPLIES = {}
# Idempotency-Keys whose first request is being executed.
EXECUTING = set()
INFLIGHT = [0]


def count(model):
    with COUNTS_LOCK:
        COUNTS[model] = COUNTS.get(model, 0) + 1
        return COUNTS[model]


def pieces(text, size=12):
    """The reply cut into deltas of a few characters, as models stream them."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def openai_events(model, text, prompt_tokens):
    base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model}
    yield None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "finish_reason": None}]}
    for piece in pieces(text):
        yield None, {**base, "choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": None}]}
    yield None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield None, {**base, "choices": [], "usage": {"prompt_tokens": prompt_tokens,
                                                  "completion_tokens": len(text.split()),
                                                  "total_tokens": prompt_tokens + len(text.split())}}
    yield None, "[DONE]"


def anthropic_events(model, text, prompt_tokens):
    yield "message_start", {"type": "message_start", "message": {
        "id": "msg_stub", "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}
    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}}
    yield "ping", {"type": "ping"}
    for piece in pieces(text):
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": piece}}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"output_tokens": len(text.split())}}
    yield "message_stop", {"type": "message_stop"}


def gemini_events(model, text, prompt_tokens):
    parts = pieces(text)
    for i, piece in enumerate(parts):
        event = {"candidates": [{"content": {"parts": [{"text": piece}], "role": "model"},
                                 "index": 0}],
                 "usageMetadata": {"promptTokenCount": prompt_tokens,
                                   "candidatesTokenCount": i + 1,
                                   "totalTokenCount": prompt_tokens + i + 1},
                 "modelVersion": model}
        if i == len(parts) - 1:
            event["candidates"][0]["finishReason"] = "STOP"
            event["usageMetadata"]["candidatesTokenCount"] = len(text.split())
            event["usageMetadata"]["totalTokenCount"] = prompt_tokens + len(text.split())
        yield None, event


def error_body(fmt, status, message):
    if fmt == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error", 500: "api_error"}.get(
            status, "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if fmt == "gemini":
        kind = {401: "UNAUTHENTICATED", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL"}.get(
            status, "INVALID_ARGUMENT")
        return {"error": {"code": status, "message": message, "status": kind}}
    kind = {401: "invalid_request_error", 429: "rate_limit_error", 500: "server_error"}.get(
        status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that was killed mid-request (the crash tests do this) is not a stub error.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stub-provider/1"

    def log_message(self, fmt, *args):  # quiet: tests read --log instead
        pass

    def record(self, body, **extra):
        if not self.server.log_path:
            return
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                 "at": time.time(), **extra}
        with self.server.log_lock, open(self.server.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def key(self):
        auth = self.headers.get("authorization", "")
        return (auth[7:] if auth.startswith("Bearer ") else auth) or \
            self.headers.get("x-api-key", "") or self.headers.get("x-goog-api-key", "")

    def send_json(self, status, value, extra=()):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def redirected(self):
        """Answers a path under /redirect/ with 302 to /stolen/, and strips /stolen from a
        path that followed one; True when the request was answered here."""
        if self.path.startswith("/redirect/"):
            target = "/stolen/" + self.path[len("/redirect/"):]
            self.send_response(302)
            self.send_header("location", target)
            self.send_header("content-length", "0")
            self.end_headers()
            return True
        if self.path.startswith("/stolen/"):
            self.path = self.path[len("/stolen"):]
        return False

    def do_GET(self):
        self.record(None)
        if self.redirected():
            return
        fmt = self.format_of(self.path)
        if self.path == "/api/tags":  # Ollama's model list, for the local fallback probe
            return self.send_json(200, {"models": [{"name": "stub-local", "model": "stub-local"}]})
        if "invalid" in self.key():
            return self.send_json(401, error_body(fmt, 401, "invalid x-api-key"))
        if fmt == "gemini":
            return self.send_json(200, {"models": [{"name": "models/stub-model"}]})
        return self.send_json(200, {"object": "list", "data": [{"id": "stub-model",
                                                                 "object": "model"}]})

    @staticmethod
    def format_of(path):
        if path.startswith("/v1beta/"):
            return "gemini"
        if path.startswith("/v1/messages") or path == "/v1/models":
            return "anthropic"
        return "openai"

    def do_POST(self):
        with COUNTS_LOCK:
            INFLIGHT[0] += 1
            inflight = INFLIGHT[0]
        try:
            self.post(inflight)
        finally:
            with COUNTS_LOCK:
                INFLIGHT[0] -= 1

    def post(self, inflight):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/redirect/"):
            self.record(None, inflight=inflight)
            self.redirected()
            return
        if self.path.startswith("/stolen/"):
            self.record(None, inflight=inflight)
            self.redirected()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        key = self.headers.get("idempotency-key")
        fmt = self.format_of(self.path)
        with COUNTS_LOCK:
            remembered = REPLIES.get(key) if key else None
            in_progress = remembered is None and key in EXECUTING
            if key and remembered is None and not in_progress:
                EXECUTING.add(key)
        self.record(body, inflight=inflight, replayed=remembered is not None,
                    in_progress=in_progress)
        if remembered is not None:
            return self.stream(remembered, "")
        if in_progress:
            return self.send_json(409, error_body(
                fmt, 409, "A request with this Idempotency-Key is still being processed"))
        try:
            self.execute(body, fmt, key)
        finally:
            if key:
                with COUNTS_LOCK:
                    EXECUTING.discard(key)

    def execute(self, body, fmt, key):
        if body is None:
            return self.send_json(400, error_body(fmt, 400, "the body is not JSON"))
        if fmt == "gemini":
            match = re.match(r"^/v1beta/models/([^:]+):streamGenerateContent", self.path)
            model = match.group(1) if match else ""
        else:
            model = body.get("model", "")
        if "invalid" in self.key():
            return self.send_json(401, error_body(fmt, 401, "invalid x-api-key"))
        nth = count(model)
        if model == "fail-401":
            return self.send_json(401, error_body(fmt, 401, "invalid x-api-key"))
        if model == "leaky-400":
            return self.send_json(400, error_body(
                fmt, 400, f"The key {self.key()} has no access to this model"))
        if model == "fail-429" or (model == "flaky-429" and nth == 1):
            return self.send_json(429, error_body(fmt, 429, "Rate limit reached"),
                                  [("retry-after", "1")])
        if model == "fail-500" or (model == "flaky-500" and nth == 1):
            return self.send_json(500, error_body(fmt, 500, "The server had an error"))
        if model == "hang":
            time.sleep(60)
            return
        if model.startswith("slow-"):
            time.sleep(0.3)
        text = self.reply(model, nth)
        prompt_tokens = len(json.dumps(body).split())
        events = {"openai": openai_events, "anthropic": anthropic_events,
                  "gemini": gemini_events}[fmt](model, text, prompt_tokens)
        events = list(events)
        if model == "malformed":
            events = events[:2] + [(None, "RAW:{\"choices\": [")]
        if model == "truncated":
            events = events[:2]
        if model == "leaky-stream":
            message = f"The key {self.key()} was refused mid-stream"
            error = {"openai": (None, {"error": {"message": message, "type": "server_error"}}),
                     "anthropic": ("error", {"type": "error", "error": {
                         "type": "overloaded_error", "message": message}}),
                     "gemini": (None, {"error": {"code": 500, "message": message,
                                                 "status": "INTERNAL"}})}[fmt]
            events = events[:2] + [error]
        if key:
            with COUNTS_LOCK:
                REPLIES[key] = events
        self.stream(events, model)

    def stream(self, events, model):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for i, (name, data) in enumerate(events):
            text = data[4:] if isinstance(data, str) and data.startswith("RAW:") else \
                (data if isinstance(data, str) else json.dumps(data))
            frame = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
            self.chunk(frame.encode())
            if model == "stall" and i == 0:
                time.sleep(60)
            if not model.startswith("instant"):
                time.sleep(0.005)
        self.chunk(b"")

    def chunk(self, data):
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, model, nth):
        if self.server.replies_path:
            try:
                with open(self.server.replies_path) as f:
                    replies = json.load(f).get(model)
            except (OSError, ValueError):
                replies = None
            if replies:
                return replies[min(nth, len(replies)) - 1]
        return "Hello from the stub."


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log")
    parser.add_argument("--replies")
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.log_path = args.log
    server.log_lock = threading.Lock()
    server.replies_path = args.replies
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
