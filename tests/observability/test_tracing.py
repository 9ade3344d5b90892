"""OpenTelemetry spans sent to a real OTLP/HTTP receiver on loopback, decoded with opentelemetry-proto."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from switchyard.observability.tracing import traces_endpoint, tracing_from_env
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY
from tests.server.configs import config, openai_model

PROMPT = "the secret plan is pineapple"


class Receiver:
    """An OTLP/HTTP traces endpoint: keeps every decoded export request and its raw body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.paths.append(self.path)
                received.bodies.append(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self) -> list[dict[str, Any]]:
        out = []
        for body in self.bodies:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            for rs in req.resource_spans:
                service = {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        attrs = {a.key: _value(a.value) for a in span.attributes}
                        events = [{a.key: _value(a.value) for a in e.attributes} for e in span.events]
                        out.append(
                            {"name": span.name, "attrs": attrs, "events": events, "service": service,
                             "error": span.status.code == 2, "duration": span.end_time_unix_nano - span.start_time_unix_nano}
                        )  # fmt: skip
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_spans_follow_the_genai_conventions(upstream: MockUpstream, gateway_factory, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    cfg = config(
        openai_model("gpt-mock", upstream.url),
        openai_model("cheap-mock", upstream.url, upstream_model="mock-b"),
        routes={"auto": ["cheap-mock", "gpt-mock"]},
    )
    gw = gateway_factory(cfg, otlp_endpoint=receiver.url)
    client = openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0, timeout=20)
    msgs: Any = [{"role": "user", "content": PROMPT}]
    answer = client.chat.completions.create(model="auto", messages=msgs, max_tokens=16)
    stream = client.chat.completions.create(
        model="gpt-mock", messages=msgs, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    upstream.set_default(Fault.status(500), model="mock-model")
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="gpt-mock", messages=msgs)
    gw.flush()
    assert gw.gateway.tracing is not None and gw.gateway.tracing.flush()

    spans = {(s["name"], s["attrs"]["switchyard.stream"], s["error"]): s for s in receiver.spans()}
    assert set(spans) == {("chat auto", False, False), ("chat gpt-mock", True, False), ("chat gpt-mock", False, True)}
    assert set(receiver.paths) == {"/v1/traces"}
    routed = spans["chat auto", False, False]
    assert answer.usage is not None
    assert routed["service"] == "switchyard"
    assert (
        routed["attrs"].items()
        >= {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "auto",
            "gen_ai.response.model": "cheap-mock",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "openai",
            "gen_ai.usage.input_tokens": answer.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": answer.usage.completion_tokens,
            "switchyard.route": "auto",
            "switchyard.team": "admin",
        }.items()
    )
    assert routed["duration"] > 0 and routed["events"] == [
        {"gen_ai.response.model": "cheap-mock", "switchyard.status": "ok"}
    ]
    streamed = spans["chat gpt-mock", True, False]
    usage = next(c.usage for c in chunks if c.usage)
    assert streamed["attrs"]["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert streamed["attrs"]["switchyard.time_to_first_token_ms"] > 0
    failed = spans["chat gpt-mock", False, True]
    assert failed["attrs"]["error.type"] == "UpstreamStatusError"
    assert [e["error.type"] for e in failed["events"]] == ["UpstreamStatusError"] * 2  # one retry
    assert not any(PROMPT.encode() in body or b"pineapple" in body for body in receiver.bodies)


def test_endpoint_resolution() -> None:
    assert traces_endpoint(None, {}) is None
    assert traces_endpoint(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    assert traces_endpoint(None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/x"}) == "http://c/x"
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/x"}
    assert traces_endpoint("http://mine:4318", env) == "http://mine:4318/v1/traces"
    assert traces_endpoint("http://c:4318", {"OTEL_SDK_DISABLED": "true"}) is None


def test_missing_sdk_turns_tracing_off_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with caplog.at_level(logging.WARNING, logger="switchyard.observability.tracing"):
        assert tracing_from_env("http://127.0.0.1:4318", {}) is None
    assert "OpenTelemetry tracing is off" in caplog.text and "switchyard[otel]" in caplog.text
    assert tracing_from_env(None, {}) is None
