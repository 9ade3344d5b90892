"""httpx's exceptions and upstream error statuses -> switchyard's error types, for every HTTP provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson

from ..errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamStatusError,
    UpstreamTimeout,
)


def error_message(body: bytes) -> str:
    """The message of an OpenAI- or Anthropic-shaped error body, else the start of the body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])
    if isinstance(err, str) and err:
        return err
    return body.decode("utf-8", "replace").strip()[:500] or "(empty body)"


def status_error(status: int, body: bytes) -> UpstreamError:
    message = f"upstream answered {status}: {error_message(body)}"
    if status == 429:
        return UpstreamRateLimited(message)
    return UpstreamStatusError(message, upstream_status=status)


def transport_error(exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"upstream timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.DecodingError):
        return UpstreamProtocolError(f"upstream body could not be decoded: {exc}")
    return UpstreamConnectError(f"upstream connection failed ({type(exc).__name__})")


@contextmanager
def translate_transport_errors() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
