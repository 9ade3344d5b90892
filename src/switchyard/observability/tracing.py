"""OpenTelemetry spans, following the GenAI semantic conventions, exported over OTLP/HTTP.

Off unless an endpoint is configured: ``SWITCHYARD_OTLP_ENDPOINT`` or the standard
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the full URL) / ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base URL,
``/v1/traces`` appended). The SDK is an optional dependency (``pip install 'switchyard[otel]'``); without
it the feature stays off and says so once in the log.

One span per request, built from its ledger record when the outcome is final (so nothing is done on
the request path while the call runs): ``chat {requested model}`` with ``gen_ai.*`` attributes, the
route, team and cost, and one event per upstream attempt. Prompt and answer content never go into a span.
The tracer provider belongs to the gateway (no global provider is installed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..store.base import LedgerRecord

log = logging.getLogger(__name__)

OPERATIONS = {"embeddings": "embeddings"}  # ledger endpoint -> gen_ai.operation.name (default: chat)


def traces_endpoint(configured: str | None, environ: Mapping[str, str]) -> str | None:
    """Where spans go, or None: the switchyard setting wins over the standard OTel variables."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    full = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not configured and full:
        return full
    base = (configured or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").rstrip("/")
    if not base:
        return None
    return base if base.endswith("/v1/traces") else base + "/v1/traces"


class Tracing:
    """Exports one span per finished request to ``endpoint`` (an OTLP/HTTP traces URL)."""

    def __init__(self, endpoint: str, *, service_name: str = "switchyard", timeout: float = 10.0) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, StatusCode

        self.endpoint = endpoint
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=timeout)))
        self._tracer = self._provider.get_tracer("switchyard")
        self._client_kind = SpanKind.CLIENT
        self._error = StatusCode.ERROR

    def record(self, rec: LedgerRecord) -> None:
        """Export one finished request as a span; a tracing fault never fails the request."""
        try:
            self._record(rec)
        except Exception:
            log.warning("tracing: dropped the span of request %s", rec.id, exc_info=True)

    def _record(self, rec: LedgerRecord) -> None:
        operation = OPERATIONS.get(rec.endpoint, "chat")
        start = int(rec.ts * 1e9)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": rec.requested,
            "switchyard.request_id": rec.id,
            "switchyard.endpoint": rec.endpoint,
            "switchyard.stream": rec.stream,
            "http.response.status_code": rec.status,
        }
        if rec.served_model:
            attrs["gen_ai.response.model"] = rec.served_model
        if rec.provider:
            # The configured provider kind: openai (any OpenAI-compatible server), anthropic, llamacpp, ...
            attrs["gen_ai.provider.name"] = rec.provider
            attrs["gen_ai.system"] = rec.provider  # the older attribute name, still read by many backends
        if rec.status < 400 or rec.input_tokens or rec.output_tokens:
            attrs["gen_ai.usage.input_tokens"] = rec.input_tokens
            attrs["gen_ai.usage.output_tokens"] = rec.output_tokens
        if rec.route:
            attrs["switchyard.route"] = rec.route
        if rec.team:
            attrs["switchyard.team"] = rec.team
        if rec.locality:
            attrs["switchyard.locality"] = rec.locality
        attrs["switchyard.cost_usd"] = rec.cost
        attrs["switchyard.counterfactual_cost_usd"] = rec.counterfactual_cost
        if rec.reasons:
            attrs["switchyard.reasons"] = list(rec.reasons)
        if rec.ttft_ms is not None and rec.stream:
            attrs["switchyard.time_to_first_token_ms"] = rec.ttft_ms
        if rec.error_class:
            attrs["error.type"] = rec.error_class
        span = self._tracer.start_span(
            f"{operation} {rec.requested}", kind=self._client_kind, start_time=start, attributes=attrs
        )
        for a in rec.attempts:
            event: dict[str, Any] = {"gen_ai.response.model": a.model, "switchyard.status": a.status}
            if a.error_class:
                event["error.type"] = a.error_class
            span.add_event("attempt", event, timestamp=int(a.ts * 1e9))
        if rec.status >= 400:
            span.set_status(self._error, rec.error_class or str(rec.status))
        span.end(end_time=start + int(rec.latency_ms * 1e6))

    def flush(self, timeout_ms: int = 10_000) -> bool:
        return bool(self._provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        """Export what is queued and stop (blocking: call it from a thread)."""
        self._provider.shutdown()


def tracing_from_env(
    configured: str | None, environ: Mapping[str, str], *, service_name: str | None = None
) -> Tracing | None:
    endpoint = traces_endpoint(configured, environ)
    if endpoint is None:
        return None
    name = service_name or environ.get("OTEL_SERVICE_NAME") or "switchyard"
    try:
        tracing = Tracing(endpoint, service_name=name)
    except ImportError:
        log.warning(
            "OpenTelemetry tracing is off: an OTLP endpoint is configured but the SDK is not installed "
            "(pip install 'switchyard[otel]')"
        )
        return None
    log.info("OpenTelemetry: exporting spans to %s", endpoint)
    return tracing
