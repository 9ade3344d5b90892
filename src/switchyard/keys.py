"""API keys: created once and shown once, stored only as a SHA-256 hash, resolved to a Principal.

Keys are 256-bit random tokens, so a fast unsalted hash is safe (there is nothing to brute-force) and
lets a request be authenticated with one indexed look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from .errors import AuthenticationFailed, RateLimited
from .store.base import KeyRecord, KeyStore
from .types import Principal

KEY_PREFIX = "sy-"
ADMIN_PRINCIPAL = Principal(key_id="admin", team="admin", roles=("admin",), is_admin=True)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(store: KeyStore, team: str, *, name: str = "", roles: tuple[str, ...] = ()) -> tuple[KeyRecord, str]:
    """Create a key; returns the stored record and the secret, which is never stored or shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    record = KeyRecord(
        id="key_" + secrets.token_hex(6),
        team=team,
        name=name,
        prefix=secret[:10],
        secret_hash=hash_secret(secret),
        roles=roles,
        created=time.time(),
    )
    store.add_key(record)
    return record, secret


class FailedAuthLimiter:
    """Failed authentications per client address: past ``max_failures`` in ``window`` seconds, the
    address's uncached look-ups are refused with 429 until the window ends (a guessing client stops costing
    store look-ups). Tracks at most ``max_clients`` addresses, forgetting the oldest."""

    def __init__(
        self,
        max_failures: int = 30,
        window: float = 60.0,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def check(self, client: str | None) -> None:
        if client is None:
            return
        entry = self._failures.get(client)
        if entry is None:
            return
        started, count = entry
        left = started + self.window - self.clock()
        if left <= 0:
            del self._failures[client]
        elif count >= self.max_failures:
            err = RateLimited(
                f"too many failed authentications from this address; try again in {max(1, int(left + 0.999))}s",
                code="auth_rate_limited",
            )
            err.headers = {"retry-after": str(max(1, int(left + 0.999)))}
            raise err

    def failed(self, client: str | None) -> None:
        if client is None:
            return
        now = self.clock()
        started, count = self._failures.pop(client, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        self._failures[client] = (started, count + 1)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)


class Authenticator:
    """Resolves a presented secret to a Principal.

    Valid keys are cached for ``cache_seconds`` (so a key revoked in another process stops working within
    that time; in this process ``forget`` ends it at once), in a bounded LRU that unknown keys never
    enter: flooding random keys cannot evict the real ones. Failed look-ups count against the client's
    address (``FailedAuthLimiter``)."""

    def __init__(
        self,
        store: KeyStore,
        admin_key: str | None,
        *,
        cache_seconds: float = 1.0,
        max_cached: int = 10_000,
        limiter: FailedAuthLimiter | None = None,
    ) -> None:
        self.store = store
        self._admin_hash = hash_secret(admin_key) if admin_key else None
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self.cache_seconds = cache_seconds
        self.max_cached = max_cached
        self.limiter = limiter or FailedAuthLimiter()

    def forget(self) -> None:
        """Drop cached look-ups (after a key is revoked)."""
        self._cache.clear()

    def authenticate(self, secret: str | None, client: str | None = None) -> Principal:
        """The principal of ``secret``; ``client`` (the caller's address) is charged for failures."""
        if not secret:
            raise AuthenticationFailed("missing API key: send 'Authorization: Bearer <key>'")
        digest = hash_secret(secret)
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return ADMIN_PRINCIPAL
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_seconds:
            self._cache.move_to_end(digest)
            return hit[1]
        if hit is None:  # a key seen valid before is re-checked even from a blocked address
            self.limiter.check(client)
        record = self.store.find_key(digest)
        if record is None or record.revoked:
            self._cache.pop(digest, None)
            self.limiter.failed(client)
            raise AuthenticationFailed("invalid API key")
        # Only the configured admin key is the admin: a stored key's roles grant what the config's
        # access.roles says, whatever they are called.
        principal = Principal(key_id=record.id, team=record.team, roles=record.roles)
        self._cache[digest] = (now, principal)
        self._cache.move_to_end(digest)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return principal
