"""Tables of per-prompt outcomes (was each model's answer correct?) that the router is trained and
measured on. CSV layout as RouteLLM's eval files: ``prompt``, one boolean column per model, optional
``<model>_response`` columns with the recorded answers."""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError

DEFAULT_CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"
DEFAULT_PREMIUM = "gpt-4-1106-preview"
_TRUE = {"true", "1", "1.0", "yes"}
_FALSE = {"false", "0", "0.0", "no"}


class RouterDataError(ConfigError):
    """An outcome table or a router artifact cannot be used."""


@dataclass(frozen=True)
class OutcomeTable:
    prompts: list[str]
    cheap_ok: NDArray[np.bool_]
    premium_ok: NDArray[np.bool_]
    cheap_responses: list[str | None]
    premium_responses: list[str | None]

    @classmethod
    def of(
        cls,
        prompts: Sequence[str],
        cheap_ok: Sequence[bool] | NDArray[np.bool_],
        premium_ok: Sequence[bool] | NDArray[np.bool_],
        cheap_responses: Sequence[str | None] | None = None,
        premium_responses: Sequence[str | None] | None = None,
    ) -> OutcomeTable:
        """A table from plain sequences (responses optional)."""
        n = len(prompts)
        return cls(
            list(prompts),
            np.asarray(cheap_ok, dtype=bool),
            np.asarray(premium_ok, dtype=bool),
            list(cheap_responses) if cheap_responses is not None else [None] * n,
            list(premium_responses) if premium_responses is not None else [None] * n,
        )

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def has_cheap_responses(self) -> bool:
        return bool(self.prompts) and all(r is not None for r in self.cheap_responses)

    def digest(self) -> str:
        """sha256 over prompts, outcomes and responses: identifies the training data of an artifact."""
        h = hashlib.sha256()
        for i, p in enumerate(self.prompts):
            row = (
                p,
                bool(self.cheap_ok[i]),
                bool(self.premium_ok[i]),
                self.cheap_responses[i],
                self.premium_responses[i],
            )
            h.update(repr(row).encode())
        return h.hexdigest()

    def subset(self, index: Sequence[int] | NDArray[np.int64]) -> OutcomeTable:
        idx = [int(i) for i in index]
        return OutcomeTable(
            [self.prompts[i] for i in idx],
            self.cheap_ok[idx],
            self.premium_ok[idx],
            [self.cheap_responses[i] for i in idx],
            [self.premium_responses[i] for i in idx],
        )


def _flag(value: str, path: Path, line: int, column: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise RouterDataError(f"{path}:{line}: column {column!r} is {value!r}, not a boolean")


def read_outcomes(paths: Sequence[Path], cheap: str = DEFAULT_CHEAP, premium: str = DEFAULT_PREMIUM) -> OutcomeTable:
    """Read and concatenate outcome CSVs. Rows whose outcome cells are empty are skipped."""
    csv.field_size_limit(sys.maxsize)
    prompts: list[str] = []
    cheap_ok: list[bool] = []
    premium_ok: list[bool] = []
    cheap_resp: list[str | None] = []
    premium_resp: list[str | None] = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or ())
            missing = [c for c in ("prompt", cheap, premium) if c not in columns]
            if missing:
                raise RouterDataError(f"{path}: missing column(s) {', '.join(map(repr, missing))}")
            for line, row in enumerate(reader, start=2):
                if not (row[cheap] or "").strip() or not (row[premium] or "").strip():
                    continue
                prompts.append(row["prompt"])
                cheap_ok.append(_flag(row[cheap], path, line, cheap))
                premium_ok.append(_flag(row[premium], path, line, premium))
                cheap_resp.append(row.get(f"{cheap}_response"))
                premium_resp.append(row.get(f"{premium}_response"))
    return OutcomeTable(prompts, np.array(cheap_ok, bool), np.array(premium_ok, bool), cheap_resp, premium_resp)


def hash_fraction(text: str, salt: str = "") -> float:
    """A stable number in [0, 1) from the text: split tables by prompt hash."""
    return int(hashlib.sha256((salt + text).encode()).hexdigest()[:12], 16) / 16**12
