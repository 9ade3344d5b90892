"""Dashboard sessions: a signed cookie naming who logged in and until when; never the key itself.

The signature is an HMAC-SHA256 over the payload with a key derived from the dashboard secret and the
admin key's hash, so changing either ends every session. The cookie is HttpOnly and SameSite=Strict
(no cross-site request carries it), Secure when the page is served over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from ..types import Principal

COOKIE = "switchyard_session"


@dataclass(frozen=True)
class Session:
    principal: Principal
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes, admin_key: str | None, *, lifetime: float = 8 * 3600) -> None:
        binding = hashlib.sha256((admin_key or "").encode()).digest()
        self._key = hmac.new(secret, b"switchyard-dashboard-session" + binding, hashlib.sha256).digest()
        self.lifetime = lifetime

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, principal: Principal, now: float | None = None) -> str:
        expires = (now if now is not None else time.time()) + self.lifetime
        body = {"k": principal.key_id, "t": principal.team, "r": list(principal.roles), "a": principal.is_admin}
        payload = _b64(json.dumps({**body, "e": int(expires)}, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            principal = Principal(
                key_id=str(data["k"]), team=str(data["t"]), roles=tuple(map(str, data["r"])), is_admin=bool(data["a"])
            )
            expires = float(data["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= (now if now is not None else time.time()):
            return None
        return Session(principal, expires)
