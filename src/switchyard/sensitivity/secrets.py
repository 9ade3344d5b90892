"""Secrets: private keys, provider API keys and tokens of known shape, credentials in URLs, and values
assigned to password/secret/token/key fields.
"""

from __future__ import annotations

import re

from .base import Span

PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"
)
# Token shapes published by their issuers.
API_KEYS = re.compile(
    r"(?<![\w-])(?:"
    r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|sk-ant-[A-Za-z0-9_-]{20,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"  # OpenAI
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"  # SendGrid
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}"  # JWT
    r")(?![\w-])"
)
BEARER = re.compile(r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/-]{20,}=*)")
# A URL with a password: ``scheme://user:password@``. The search is anchored on each "://": the user
# and password after it are one pattern match, the scheme before it is checked within MAX_SCHEME
# characters. (``\b[a-zA-Z][a-zA-Z0-9+.-]*://...`` tried at every start was quadratic: "a." * n + "://".)
URL_USERINFO = re.compile(r"[^\s:/@]+:([^\s@/]+)@")
# A scheme: a letter at a word start, then letters, digits, "+", "." or "-", up to "://" (``endpos``).
SCHEME = re.compile(r"(?<!\w)[a-zA-Z][a-zA-Z0-9+.-]*\Z")
SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
MAX_SCHEME = 64  # registered schemes are short ("ms-settings-notifications" is among the longest)
ASSIGNED = re.compile(
    r"(?i)(?<![a-z])(password|passwd|pwd|passcode|passphrase|pin|secret|client[_-]?secret|api[_-]?key|apikey|"
    r"access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|token)"
    r"[\"']?\s*(?:[:=]|=>|\bis\b|\bwas\b)\s*[\"'`]?([^\s\"'`,;]{4,200})"
)
API_KEY_PREFIXES = (
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "gh",
    "github_pat_",
    "glpat-",
    "xox",
    "k_",
    "sk-",
    "AIza",
    "hf_",
    "SG.",
    "npm_",
    "eyJ",
)
ASSIGNED_HINTS = ("pass", "pwd", "pin", "secret", "key", "token")
PLACEHOLDER = re.compile(r"(?i)^(?:x+|\*+|\.+|<.*>|\$\{.*\}|\{\{.*\}\}|%.*%|none|null|true|false|redacted|changeme)$")


def _secret_like(field: str, value: str) -> bool:
    """A value that could be a real secret, not prose ("the password is required") or a placeholder."""
    if PLACEHOLDER.match(value):
        return False
    if field.casefold() in {"password", "passwd", "pwd", "passcode", "passphrase", "pin"}:
        # Passwords may be words; prose after "password is" rarely has digits or symbols or is long.
        return any(not c.isalpha() for c in value) or len(value) >= 10 or (value.isalpha() and not value.islower())
    return len(value) >= 12 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def url_credentials(text: str) -> list[Span]:
    """Passwords in ``scheme://user:password@host``: linear in the text (see ``URL_USERINFO``)."""
    spans = []
    sep = text.find("://")
    while sep != -1:
        m = URL_USERINFO.match(text, sep + 3)
        if m is not None and _scheme_before(text, sep):
            spans.append(Span(m.start(1), m.end(1), "URL_CREDENTIALS", "secret"))
            sep = text.find("://", m.end())
        else:
            sep = text.find("://", sep + 3)
    return spans


def _scheme_before(text: str, sep: int) -> bool:
    """Whether a scheme ends at ``sep``. A run of scheme characters longer than ``MAX_SCHEME`` is
    given the benefit of the doubt when it holds a letter (a password is flagged, not missed)."""
    lo = max(0, sep - MAX_SCHEME)
    if lo > 0 and text[lo - 1] in SCHEME_CHARS and SCHEME_CHARS.issuperset(text[lo:sep]):
        return any(c.isascii() and c.isalpha() for c in text[lo:sep])
    return SCHEME.search(text, lo, sep) is not None


class SecretDetector:
    name = "secrets"

    def detect(self, text: str) -> list[Span]:
        spans: list[Span] = []
        if "PRIVATE KEY" in text:
            spans += [Span(m.start(), m.end(), "PRIVATE_KEY", "secret") for m in PRIVATE_KEY.finditer(text)]
        if any(p in text for p in API_KEY_PREFIXES):
            spans += [Span(m.start(), m.end(), "API_KEY", "secret") for m in API_KEYS.finditer(text)]
        if "://" in text:
            spans += url_credentials(text)
        low = text.lower()
        if "bearer" in low or "token" in low:
            spans += [Span(m.start(1), m.end(1), "API_KEY", "secret") for m in BEARER.finditer(text)]
        if any(h in low for h in ASSIGNED_HINTS):
            for m in ASSIGNED.finditer(text):
                value = m.group(2).rstrip(".)")
                if _secret_like(m.group(1), value):
                    spans.append(Span(m.start(2), m.start(2) + len(value), "PASSWORD", "secret"))
        return spans
