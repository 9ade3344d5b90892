"""The error tree.

Every error switchyard raises derives from :class:`SwitchyardError` and carries the HTTP status and the
OpenAI error ``type`` it is reported with. Foreign exceptions (httpx, llama.cpp, pydantic) are translated
where they enter; the HTTP layer renders these in one place (``server/errors.py``).

    SwitchyardError
    ├── InvalidRequest          400 invalid_request_error   (names the offending ``param``)
    ├── AuthenticationFailed    401 authentication_error
    ├── PermissionDenied        403 permission_error
    ├── NotFound                404 not_found_error
    ├── Conflict                409 invalid_request_error   (the resource exists already)
    ├── PayloadTooLarge         413 invalid_request_error
    ├── RateLimited             429 rate_limit_error
    │   └── QuotaExceeded           429, code quota_exceeded (a team's RAG collections or documents)
    ├── ConfigError             500 (raised at start-up, never served)
    ├── StoreUnavailable        503 service_unavailable     (a server store, e.g. PostgreSQL, did not answer)
    └── UpstreamError           502 upstream_error          (``retryable`` decides retries/fallbacks)
        ├── UpstreamStatusError     status the upstream answered with (4xx passed on, 5xx -> 502)
        ├── UpstreamConnectError    502, retryable
        ├── UpstreamProtocolError   502, malformed upstream output, retryable
        ├── UpstreamTimeout         504, retryable
        ├── UpstreamRateLimited     429, retryable
        ├── VerifierRejected        a cascade escalates past an answer its verifier refused
        └── NoDeploymentAvailable   503, every deployment's circuit is open or its queue is full
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import Usage


class SwitchyardError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str | None = None
    retryable: bool = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers: dict[str, str] = {}  # extra response headers, e.g. retry-after
        if code is not None:
            self.code = code

    @property
    def error_class(self) -> str:
        """Stable name recorded in the ledger."""
        return type(self).__name__


class InvalidRequest(SwitchyardError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(SwitchyardError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(SwitchyardError):
    status = 403
    type = "permission_error"


class NotFound(SwitchyardError):
    status = 404
    type = "not_found_error"
    code = "model_not_found"


class Conflict(SwitchyardError):
    """The resource the request would create exists already (a RAG collection's name)."""

    status = 409
    type = "invalid_request_error"
    code = "already_exists"


class PayloadTooLarge(SwitchyardError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(SwitchyardError):
    status = 429
    type = "rate_limit_error"


class QuotaExceeded(RateLimited):
    code = "quota_exceeded"


class ConfigError(SwitchyardError):
    status = 500
    type = "config_error"


class UpstreamError(SwitchyardError):
    status = 502
    type = "upstream_error"
    retryable = True


class UpstreamStatusError(UpstreamError):
    """The upstream answered with an error status."""

    def __init__(self, message: str, *, upstream_status: int, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.upstream_status = upstream_status
        self.retryable = upstream_status in (408, 409, 425) or upstream_status >= 500
        if upstream_status in (400, 404, 413, 422):
            # The request itself was refused: the client should see it as its own error.
            self.status = 400 if upstream_status == 422 else upstream_status
            self.type = "invalid_request_error"
        else:
            self.status = 502


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"


class UpstreamRateLimited(UpstreamError):
    status = 429
    type = "rate_limit_error"


class VerifierRejected(UpstreamError):
    """A cascade's verifier refused a cheaper model's answer: escalate, do not retry, not a failure of
    the deployment."""

    retryable = False

    def __init__(self, message: str, *, usage: Usage | None = None) -> None:
        super().__init__(message, code="verifier_rejected")
        self.usage = usage  # the refused answer was still paid for


class InvalidModelOutput(UpstreamError):
    """The output guard found no valid answer: the tool call or JSON answer failed its checks after the
    repair and escalation the route allows. Never a silently invalid call: the client gets this instead."""

    code = "invalid_model_output"

    def __init__(self, message: str, *, problem: str) -> None:
        super().__init__(message, code="invalid_model_output")
        self.problem = problem  # the last check's kind, e.g. "arguments_schema"


class CountersUnavailable(SwitchyardError):
    """The shared budget counters (Redis) did not answer: budgets cannot be checked, so the request is
    refused rather than let through unmetered."""

    status = 503
    type = "service_unavailable"


class StoreUnavailable(SwitchyardError):
    """A server-side store (the RAG store on PostgreSQL) did not answer; the next call reconnects."""

    status = 503
    type = "service_unavailable"


class NoDeploymentAvailable(UpstreamError):
    status = 503
    type = "service_unavailable"
