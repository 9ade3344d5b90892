"""API keys: created once and shown once, stored only as a SHA-256 hash, resolved to a Principal.

Keys are 256-bit random tokens, so a fast unsalted hash is safe (there is nothing to brute-force) and
lets a request be authenticated with one indexed look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from .errors import AuthenticationFailed
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


class Authenticator:
    """Resolves a presented secret to a Principal; caches look-ups (positive and negative) briefly."""

    def __init__(self, store: KeyStore, admin_key: str | None, *, cache_seconds: float = 5.0) -> None:
        self.store = store
        self._admin_hash = hash_secret(admin_key) if admin_key else None
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self.cache_seconds = cache_seconds

    def forget(self) -> None:
        """Drop cached look-ups (after a key is revoked)."""
        self._cache.clear()

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationFailed("missing API key: send 'Authorization: Bearer <key>'")
        digest = hash_secret(secret)
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return ADMIN_PRINCIPAL
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_seconds:
            principal = hit[1]
        else:
            record = self.store.find_key(digest)
            principal = (
                # Only the configured admin key is the admin: a stored key's roles grant what the config's
                # access.roles says, whatever they are called.
                Principal(key_id=record.id, team=record.team, roles=record.roles)
                if record is not None and not record.revoked
                else None
            )
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        if principal is None:
            raise AuthenticationFailed("invalid API key")
        return principal
