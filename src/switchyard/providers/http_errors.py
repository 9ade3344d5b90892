"""Upstream error statuses -> switchyard's error types, for every HTTP provider. (Transport errors are
translated by :mod:`switchyard.providers.transport`.)"""

from __future__ import annotations

import orjson

from ..errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamStatusError,
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
