"""Upstream error statuses -> switchyard's error types, for every HTTP provider. (Transport errors are
translated by :mod:`switchyard.providers.transport`.)

What the client sees of an upstream's error body: for a refusal of the request itself (400, 404, 413,
422) the upstream's message, with token-like strings redacted, so the client can fix its request; for
everything else (401 and 403 about the gateway's own key, 429, 5xx, redirects) only the status and its
meaning. The upstream's own words go to the log, redacted too: an OpenAI 401 quotes the tail of the key.
"""

from __future__ import annotations

import logging
import re

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


log = logging.getLogger(__name__)

# Runs of key-ish characters (one greedy pass: linear); a run is redacted when it looks like a credential
# or a masked fragment of one: a key prefix, or long with a digit or a mask character in it.
RUN = re.compile(r"[A-Za-z0-9_\-*.]{4,}")
KEY_PREFIX = re.compile(r"(?:sk|pk|rk|key|token|Bearer)[-_]", re.IGNORECASE)
CLIENT_FAULT = (400, 404, 413, 422)
MEANING = {
    401: "the upstream refused the gateway's credentials",
    403: "the upstream refused the gateway's credentials",
    429: "the upstream is rate limiting",
}


def _credential_like(run: str) -> bool:
    if KEY_PREFIX.match(run) or "*" in run:
        return True
    return len(run) >= 12 and any(c.isdigit() for c in run)


def redact(text: str) -> str:
    """The first 500 characters of an upstream's message with credential-like runs replaced."""
    return RUN.sub(lambda m: "[redacted]" if _credential_like(m.group()) else m.group(), text[:500])


def status_error(status: int, body: bytes) -> UpstreamError:
    detail = redact(error_message(body))
    if status in CLIENT_FAULT:
        message = f"upstream answered {status}: {detail}"
    else:
        what = MEANING.get(status) or (
            "the upstream failed"
            if status >= 500
            else "the upstream redirected (not followed)"
            if 300 <= status < 400
            else "unexpected upstream status"
        )
        message = f"upstream answered {status}: {what}"
        log.warning("upstream answered %d: %s", status, detail)
    if status == 429:
        return UpstreamRateLimited(message)
    return UpstreamStatusError(message, upstream_status=status)
