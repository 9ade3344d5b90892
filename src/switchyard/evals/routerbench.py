"""RouterBench CSVs -> eval items, replay recordings and per-token prices.

RouterBench (withmartian; the subset committed in shuhao02/RouterDC) recorded, per prompt, what 11 models
answered, a 0/1 score for each answer and the USD each call was billed. Columns: ``prompt``,
``eval_name``, per model ``<model>`` (the score), ``<model>|model_response`` and ``<model>|total_cost``;
the models are the columns that have both companions. ``prompt`` and each response are Python list
literals holding one string (parsed with :func:`ast.literal_eval`, nothing else is evaluated); the
multiple-choice prompts carry five worked examples, then the question with its options (``A) ...``)
and ``Answer:``. Other columns (the unnamed index, ``sample_id``, ``oracle_model_to_route_to``) are unused.

What a loaded set holds (:class:`RouterBench`):

- ``rows``: every usable row; ``dropped`` counts the others by reason: ``incomplete`` (a model's score,
  response or cost is empty: 20 arc-challenge rows, 8 scored for gpt-3.5 only and 12 for every model but
  gpt-3.5, 7 sample ids among them appearing once of each kind), ``malformed`` (a cell that is not a
  list of one string, a score other than 0/1, a cost that is not a number >= 0),
  ``not_multiple_choice`` (no ``A) ...`` options in the last question), ``duplicate_prompt``;
- ``items``: eval items, JSONL-ready: ``{"id", "prompt", "reference": [letters], "scorer": {"name":
  "choice", "choices": [letters]}, "tags": [eval_name]}``. The reference holds the choice letters of the
  answers RouterBench scored correct (an answer's letter: its first character, after an optional ``(``,
  followed by ``)``, ``.``, ``:``, ``,``, whitespace or the end). The choices are the option letters of
  the last question (arc-challenge: A-D, and A-C or A-E for 8 questions; winogrande: A-B). Rows where no
  answer was scored correct (``no_correct_answer``: 14 arc rows) or where no correct answer carries a
  letter (``unclear_reference``) are counted in ``dropped`` and left out of the items only; the
  recordings and the price fit keep them. An item's ``id`` is the first 16 hex digits of the prompt's
  SHA-256, so it is stable across files and runs; :func:`split` puts an item on the test side by the same
  prompt hash as ``bench/router.py`` (:func:`switchyard.routing.data.hash_fraction`);
- ``recordings()``: one :class:`~switchyard.testing.Recording` per row and model, the response text as
  recorded, tokens counted with cl100k_base (:func:`switchyard.tokens.cl100k_count`, the gateway's
  fallback counter) for the prompt and the response. RouterBench billed exactly these counts: with them
  every billed cost is reproduced to float precision;
- ``fit_prices()``: per model, the non-negative input and output USD-per-token prices that best
  reproduce ``total_cost`` from those token counts (least squares; one price for input, one for output),
  rounded to the fewest significant digits that fit as well, with the median and largest relative error.
  A model whose largest relative error exceeds ``LINEAR_TOLERANCE`` is marked ``linear=False``: its
  billing is not (input tokens x price + output tokens x price) with these counts.

As a command: ``python -m switchyard.evals.routerbench CSV [CSV...] [--out DIR] [--test-fraction F]``
prints the counts and the price fit, and with ``--out`` writes ``items.jsonl``, ``train.jsonl``,
``test.jsonl``, ``recordings.jsonl`` and ``prices.json`` (USD per 1M tokens, as the config takes them).
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..routing.costs import TokenPrice
from ..routing.data import hash_fraction
from ..testing.replay import Recording

LINEAR_TOLERANCE = 1e-3  # largest relative error of a fitted price still called linear
DEFAULT_TEST_FRACTION = 0.2
_RESPONSE, _COST = "|model_response", "|total_cost"
_OPTION = re.compile(r"^([A-Z])\) ", re.MULTILINE)
_LETTER = re.compile(r"\s*\(?([A-Z])(?:[).:,\s]|$)")

FloatArray = NDArray[np.float64]
TokenCount = Callable[[str], int]


class RouterBenchError(ConfigError):
    """A RouterBench CSV cannot be read (a missing column, models that differ between files)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One usable CSV row: the prompt and, per model, the score, answer, billed cost and output tokens."""

    id: str
    eval_name: str
    prompt: str
    choices: tuple[str, ...]
    reference: tuple[str, ...]  # letters of the answers scored correct; empty when none was
    scores: Mapping[str, int]  # 0 or 1
    responses: Mapping[str, str]
    costs: Mapping[str, float]  # USD billed
    prompt_tokens: int
    completion_tokens: Mapping[str, int]

    def item(self) -> dict[str, Any]:
        """The eval item (one JSONL line)."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "reference": list(self.reference),
            "scorer": {"name": "choice", "choices": list(self.choices)},
            "tags": [self.eval_name],
        }


@dataclass(frozen=True, slots=True)
class PriceFit:
    """A model's fitted prices (USD per token) and how well they reproduce its billed costs."""

    model: str
    input_per_token: float
    output_per_token: float
    rows: int
    median_relative_error: float
    max_relative_error: float
    linear: bool  # max_relative_error <= the tolerance the fit was asked for

    @property
    def price(self) -> TokenPrice:
        """The same prices in USD per 1M tokens (the config's and ``routing.costs``' unit)."""
        return TokenPrice(_round(self.input_per_token * 1e6, 15), _round(self.output_per_token * 1e6, 15))

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token


@dataclass(frozen=True)
class RouterBench:
    """RouterBench rows read from one or more CSVs (see the module's docstring)."""

    models: tuple[str, ...]
    rows: tuple[Row, ...]
    dropped: Mapping[str, int] = field(default_factory=dict)

    @property
    def items(self) -> list[dict[str, Any]]:
        """Eval items of the rows with a reference, in file order."""
        return [row.item() for row in self.rows if row.reference]

    def recordings(self) -> list[Recording]:
        """One recording per row and model (rows without a correct answer included)."""
        return [
            Recording(m, r.prompt, r.responses[m], r.prompt_tokens, r.completion_tokens[m])
            for r in self.rows
            for m in self.models
        ]

    def fit_prices(self, tolerance: float = LINEAR_TOLERANCE) -> dict[str, PriceFit]:
        """Per model, the prices that reproduce the billed costs from the recordings' token counts."""
        prompt = np.array([r.prompt_tokens for r in self.rows], dtype=np.float64)
        fits: dict[str, PriceFit] = {}
        for m in self.models:
            output = np.array([r.completion_tokens[m] for r in self.rows], dtype=np.float64)
            cost = np.array([r.costs[m] for r in self.rows], dtype=np.float64)
            fits[m] = fit_price(m, prompt, output, cost, tolerance)
        return fits


def load(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, count: TokenCount | None = None
) -> RouterBench:
    """Read RouterBench CSVs (their models must be the same); tokens counted with ``count`` (default
    cl100k_base). Rows are dropped and counted as the module's docstring says."""
    if count is None:
        from ..tokens import cl100k_count

        count = cl100k_count
    files = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    models: tuple[str, ...] | None = None
    rows: list[Row] = []
    dropped: Counter[str] = Counter()
    seen: set[str] = set()
    for path in files:
        file_models, records = _read(path)
        if models is None:
            models = file_models
        elif set(file_models) != set(models):
            raise RouterBenchError(
                f"{path}: models {sorted(file_models)} differ from the first file's {sorted(models)}"
            )
        for record in records:
            row, reason = _row(record, models, count)
            if row is not None and row.id in seen:
                row, reason = None, "duplicate_prompt"
            if row is None:
                dropped[reason] += 1
                continue
            seen.add(row.id)
            rows.append(row)
            if not row.reference:
                dropped["no_correct_answer" if not any(row.scores.values()) else "unclear_reference"] += 1
    if models is None:
        raise RouterBenchError("no CSV given")
    return RouterBench(models, tuple(rows), dict(dropped))


def _read(path: Path) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """The file's models and its rows. The csv module's field size limit is raised while reading (the
    cells hold whole prompts) and restored after."""
    previous = csv.field_size_limit(sys.maxsize)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or ())
            models = tuple(c for c in columns if c + _RESPONSE in columns and c + _COST in columns)
            missing = [c for c in ("prompt", "eval_name") if c not in columns]
            if missing or not models:
                what = ", ".join(missing) if missing else "'<model>', '<model>|model_response', '<model>|total_cost'"
                raise RouterBenchError(f"{path}: missing column(s) {what}")
            return models, list(reader)
    finally:
        csv.field_size_limit(previous)


def _row(record: dict[str, str], models: Sequence[str], count: TokenCount) -> tuple[Row | None, str]:
    """The row, or ``None`` and the reason it is dropped."""
    cells = [record.get(m + suffix) for m in models for suffix in ("", _RESPONSE, _COST)]
    if any(c is None or not c.strip() for c in cells):
        return None, "incomplete"
    prompt = _one_string(record["prompt"])
    responses = {m: _one_string(record[m + _RESPONSE]) for m in models}
    scores = {m: _score(record[m]) for m in models}
    costs = {m: _cost(record[m + _COST]) for m in models}
    if prompt is None or None in responses.values() or None in scores.values() or None in costs.values():
        return None, "malformed"
    choices = tuple(dict.fromkeys(_OPTION.findall(prompt.rsplit("\n\n", 1)[-1])))
    if not choices:
        return None, "not_multiple_choice"
    answers = {m: str(responses[m]) for m in models}
    correct = {letter for m in models if scores[m] == 1 and (letter := choice_letter(answers[m], choices))}
    return (
        Row(
            id=prompt_id(prompt),
            eval_name=record["eval_name"],
            prompt=prompt,
            choices=choices,
            reference=tuple(sorted(correct)),
            scores={m: int(scores[m] or 0) for m in models},
            responses=answers,
            costs={m: float(costs[m] or 0.0) for m in models},
            prompt_tokens=count(prompt),
            completion_tokens={m: count(answers[m]) for m in models},
        ),
        "",
    )


def _one_string(cell: str) -> str | None:
    """The string in a Python list literal of one string, else ``None``."""
    text = cell.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value[0] if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) else None


def _score(cell: str) -> int | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return int(value) if value in (0.0, 1.0) else None


def _cost(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def choice_letter(answer: str, choices: Sequence[str]) -> str | None:
    """The letter an answer starts with ("B", "B)", "(B", "B. ...", " B\\n"), when it is one of
    ``choices``; else ``None``. Only to read RouterBench's own correct answers: not a scorer."""
    found = _LETTER.match(answer)
    return found.group(1) if found and found.group(1) in choices else None


def prompt_id(prompt: str) -> str:
    """An item's id: the first 16 hex digits of the prompt's SHA-256."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def split(
    items: Iterable[dict[str, Any]], test_fraction: float = DEFAULT_TEST_FRACTION, *, salt: str = ""
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(train, test)``: an item is on the test side when ``hash_fraction(prompt, salt) < test_fraction``
    (deterministic, independent of order and of the other items)."""
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for item in items:
        (test if hash_fraction(_item_text(item), salt) < test_fraction else train).append(item)
    return train, test


def _item_text(item: Mapping[str, Any]) -> str:
    if isinstance(item.get("prompt"), str):
        return str(item["prompt"])
    return json.dumps(item.get("messages"), sort_keys=True)


def write_jsonl(items: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> int:
    """One JSON object a line; returns the number of lines."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
            n += 1
    return n


# --- prices -------------------------------------------------------------------------------------------


def fit_price(
    model: str, prompt_tokens: FloatArray, completion_tokens: FloatArray, costs: FloatArray, tolerance: float
) -> PriceFit:
    """Non-negative least squares of ``costs ~ prompt_tokens * input + completion_tokens * output`` (two
    unknowns: the unconstrained solution, else the better single-price one), then the prices rounded to
    the fewest significant digits whose largest relative error is no worse."""
    a = np.column_stack([prompt_tokens, completion_tokens]).astype(np.float64)
    b = costs.astype(np.float64) * 1e6  # per 1M tokens: better conditioned
    solution = np.linalg.lstsq(a, b, rcond=None)[0]
    best = (float(solution[0]), float(solution[1]))
    if min(best) < 0:  # the optimum lies on a bound: one price is 0, the other its own least squares
        candidates = [(0.0, 0.0)]
        for j in (0, 1):
            col = a[:, j]
            norm = float(col @ col)
            value = max(0.0, float(col @ b) / norm) if norm else 0.0
            candidates.append((value, 0.0) if j == 0 else (0.0, value))
        best = min(candidates, key=lambda c: float(np.sum((a @ np.array(c) - b) ** 2)))
    best_max = float(np.max(_relative_errors(a, b, best), initial=0.0))
    for digits in range(1, 16):
        rounded = (_round(best[0], digits), _round(best[1], digits))
        if float(np.max(_relative_errors(a, b, rounded), initial=0.0)) <= best_max + 1e-9:
            best = rounded
            break
    errors = _relative_errors(a, b, best)
    worst = float(np.max(errors, initial=0.0))
    median = float(np.median(errors)) if len(errors) else 0.0
    return PriceFit(model, best[0] / 1e6, best[1] / 1e6, len(b), median, worst, worst <= tolerance)


def _relative_errors(a: FloatArray, b: FloatArray, prices: tuple[float, float]) -> FloatArray:
    """|predicted - billed| / billed per row; a row billed 0 counts 0 when predicted 0, else infinity."""
    predicted = a @ np.array(prices)
    diff = np.abs(predicted - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b > 0, diff / np.where(b > 0, b, 1.0), np.where(diff > 0, np.inf, 0.0))
    return np.asarray(rel, dtype=np.float64)


def _round(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


# --- command ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Convert RouterBench CSVs: counts and price fit on stdout, files under ``--out``."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("csv", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="write items, train/test, recordings, prices here")
    ap.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    args = ap.parse_args(argv)
    bench = load(args.csv)
    items = bench.items
    train, test = split(items, args.test_fraction)
    fits = bench.fit_prices()
    prices = {m: {"input": f.price.input, "output": f.price.output} for m, f in fits.items()}
    summary = {
        "rows": len(bench.rows),
        "items": len(items),
        "train": len(train),
        "test": len(test),
        "dropped": bench.dropped,
        "prices": {
            m: {
                **prices[m],
                "median_relative_error": f.median_relative_error,
                "max_relative_error": f.max_relative_error,
                "linear": f.linear,
            }
            for m, f in fits.items()
        },
    }
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_jsonl(items, args.out / "items.jsonl")
        write_jsonl(train, args.out / "train.jsonl")
        write_jsonl(test, args.out / "test.jsonl")
        Recording.dump(bench.recordings(), args.out / "recordings.jsonl")
        (args.out / "prices.json").write_text(json.dumps(prices, indent=2) + "\n")
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{len(bench.rows)} rows, {len(items)} items ({len(train)} train, {len(test)} test); dropped {bench.dropped}")
    for m, f in fits.items():
        flag = "" if f.linear else "  NOT LINEAR"
        print(
            f"{m:40s} ${f.price.input:g} / ${f.price.output:g} per 1M tokens; relative error median "
            f"{f.median_relative_error:.2e} max {f.max_relative_error:.2e} over {f.rows} rows{flag}"
        )


if __name__ == "__main__":
    main()
