"""RouterBench CSVs -> eval items, recordings and prices: on the real shared data (must be there in CI),
on small hand-made CSVs, and end to end: the gateway's ledger bills what RouterBench billed."""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from switchyard.config import GatewayConfig, Price
from switchyard.evals import routerbench
from switchyard.evals.routerbench import RouterBench, RouterBenchError, choice_letter, fit_price, load, split
from switchyard.keys import create_key
from switchyard.testing import ReplayUpstream
from switchyard.tokens import cl100k_count
from tests.conftest import RunningGateway
from tests.server.configs import openai_model

ROUTER = Path(__file__).resolve().parents[3] / "shared" / "data" / "router"
ARC = ROUTER / "routerbench_arc_challenge_train.csv"
WINOGRANDE = ROUTER / "routerbench_winograde_train.csv"
PRICE_TOLERANCE = 1e-9  # largest relative error of a fitted price against the billed cost (found: ~4e-16)


def need(*paths: Path) -> None:
    """The shared data: skip on a workstation without it, fail in CI (which must provide it)."""
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"RouterBench CSVs missing from {ROUTER}: {', '.join(missing)}")
        pytest.skip(f"RouterBench CSVs not found at {ROUTER}")


@pytest.fixture(scope="module")
def bench() -> RouterBench:
    need(ARC, WINOGRANDE)
    return load([ARC, WINOGRANDE])


# --- the real data ------------------------------------------------------------------------------------


def test_rows_items_and_what_was_dropped(bench: RouterBench) -> None:
    assert len(bench.models) == 11
    assert len(bench.rows) == 1906  # 1039 - 20 incomplete arc rows, + 887 winogrande
    assert bench.dropped == {"incomplete": 20, "no_correct_answer": 14}
    assert Counter(item["tags"][0] for item in bench.items) == {"arc-challenge": 1005, "winogrande": 887}
    assert len(bench.items) == len(bench.rows) - 14


def test_ids_are_unique_stable_prompt_hashes(bench: RouterBench) -> None:
    ids = [item["id"] for item in bench.items]
    assert len(set(ids)) == len(ids)
    assert all(
        i == hashlib.sha256(it["prompt"].encode()).hexdigest()[:16] for i, it in zip(ids, bench.items, strict=True)
    )
    alone = load(WINOGRANDE)  # the same prompt has the same id whatever else is loaded with it
    assert {it["id"] for it in alone.items} <= set(ids)


def test_prompts_are_the_parsed_strings(bench: RouterBench) -> None:
    for item in bench.items:
        prompt = item["prompt"]
        assert not prompt.startswith(("[", "'", '"')) and prompt.endswith("Answer:")
        assert "\\n" not in prompt and "\n" in prompt  # newlines decoded, not left escaped


def test_reference_letters_are_valid_and_agree_with_the_labels(bench: RouterBench) -> None:
    choices: Counter[str] = Counter()
    for row in bench.rows:
        choices["".join(row.choices)] += 1
        assert set(row.reference) <= set(row.choices)
        if not row.reference:
            assert not any(row.scores.values())
            continue
        for model in bench.models:
            letter = choice_letter(row.responses[model], row.choices)
            if row.scores[model] == 1:
                assert letter in row.reference
            elif letter is not None:
                assert letter not in row.reference  # no answer scored wrong names a correct letter
    assert choices == {"ABCD": 1011, "ABC": 5, "ABCDE": 3, "AB": 887}
    for item in bench.items:
        assert item["scorer"]["name"] == "choice"
        assert len(item["reference"]) == 1  # in these files every correct answer names the same letter
        assert item["tags"][0] in ("arc-challenge", "winogrande")
        if item["tags"][0] == "winogrande":
            assert item["scorer"]["choices"] == ["A", "B"]


def test_split_by_prompt_hash_is_deterministic(bench: RouterBench) -> None:
    items = bench.items
    train, test = split(items)
    assert len(train) + len(test) == len(items)
    assert {i["id"] for i in train}.isdisjoint(i["id"] for i in test)
    assert 0.15 < len(test) / len(items) < 0.25
    _, sub_test = split(list(reversed(items[::3])))  # order and company do not matter
    assert {i["id"] for i in sub_test} == {i["id"] for i in test} & {i["id"] for i in items[::3]}
    assert split(items, salt="other")[1] != test


def test_recordings_count_tokens_with_cl100k(bench: RouterBench) -> None:
    recordings = bench.recordings()
    assert len(recordings) == 1906 * 11
    assert len(ReplayUpstream(recordings)) == len(recordings)
    for rec in recordings[:: len(recordings) // 40]:
        assert rec.prompt_tokens == cl100k_count(rec.prompt) and rec.completion_tokens == cl100k_count(rec.response)


def test_price_fit_reproduces_the_billed_costs(bench: RouterBench) -> None:
    fits = bench.fit_prices()
    assert set(fits) == set(bench.models)
    for model, fit in fits.items():
        assert fit.linear and fit.rows == 1906, model
        assert fit.max_relative_error <= PRICE_TOLERANCE, (model, fit.max_relative_error)
        for row in bench.rows[::50]:
            billed = row.costs[model]
            assert fit.cost(row.prompt_tokens, row.completion_tokens[model]) == pytest.approx(billed, rel=1e-9)
    # the list prices of the day come out, rounded to what fits as well
    assert (fits["gpt-4-1106-preview"].price.input, fits["gpt-4-1106-preview"].price.output) == (10.0, 30.0)
    assert (fits["claude-instant-v1"].price.input, fits["claude-instant-v1"].price.output) == (0.8, 2.4)
    assert fits["meta/code-llama-instruct-34b-chat"].price.input == 0.776


def test_the_gateways_ledger_bills_what_routerbench_billed(
    bench: RouterBench, gateway_factory: Callable[..., RunningGateway]
) -> None:
    """Recordings behind a real gateway priced with the fitted prices: each ledger cost is the CSV's."""
    models = ["gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat", "claude-v2"]
    rows = bench.rows[::400]
    fits = bench.fit_prices()
    with ReplayUpstream(r for r in bench.recordings() if r.model in models) as upstream:
        cfg = GatewayConfig(
            models=[openai_model(m, upstream.url, upstream_model=m, price=Price(**vars(fits[m].price))) for m in models]
        )
        gw = gateway_factory(cfg)
        _, secret = create_key(gw.gateway.store, "evals")
        client = openai.OpenAI(base_url=gw.v1, api_key=secret, max_retries=0, timeout=10)
        expected: list[tuple[str, float, str]] = []
        for i, row in enumerate(rows):
            for m in models:
                messages: Any = [{"role": "user", "content": row.prompt}]
                if i % 2:
                    stream = client.chat.completions.create(
                        model=m, messages=messages, stream=True, stream_options={"include_usage": True}
                    )
                    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                else:
                    text = client.chat.completions.create(model=m, messages=messages).choices[0].message.content or ""
                assert text == row.responses[m]
                expected.append((m, row.costs[m], text))
        gw.flush()
        store = gw.ledger()
        records = [r for r in store.recent(limit=1000) if r.status == 200]
        store.close()
    assert len(records) == len(expected)
    billed = sorted((m, round(c, 12)) for m, c, _ in expected)
    ledger = sorted((r.served_model or "", round(r.cost, 12)) for r in records)
    assert billed == ledger
    assert all(not r.tokens_estimated for r in records)


# --- small hand-made CSVs -----------------------------------------------------------------------------

MODELS = ["m-cheap", "m-good"]
OPTIONS = "Q?\nA) one\nB) two\nC) three\nAnswer:"


def write(path: Path, rows: list[dict[str, str]], models: list[str] = MODELS) -> Path:
    fields = ["", "prompt", "eval_name", *models]
    fields += [m + "|model_response" for m in models] + [m + "|total_cost" for m in models]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"": str(i), **row})
    return path


def row(
    prompt: Any, answers: tuple[str, str], scores: tuple[str, str], costs: tuple[str, str] = ("1e-6", "2e-6")
) -> dict[str, str]:
    out = {"prompt": repr(prompt), "eval_name": "toy"}
    for m, a, s, c in zip(MODELS, answers, scores, costs, strict=True):
        out |= {m: s, m + "|model_response": repr([a]), m + "|total_cost": c}
    return out


def test_hand_made_rows_are_dropped_for_each_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path / "toy.csv",
        [
            row([OPTIONS], ("A", " (B) two"), ("0.0", "1.0")),  # kept: reference B
            row([OPTIONS + " "], ("C\n", "C."), ("1.0", "1.0")),  # kept: reference C
            row([OPTIONS + "  "], ("A", "B"), ("0.0", "")),  # incomplete
            row([OPTIONS, OPTIONS], ("A", "B"), ("0.0", "1.0")),  # malformed: two prompts
            row(OPTIONS, ("A", "B"), ("0.0", "1.0")),  # malformed: not a list
            row([OPTIONS + "\t"], ("A", "B"), ("0.0", "0.5")),  # malformed: a score that is not 0/1
            row(["Write a function."], ("def f(): pass", "x"), ("1.0", "1.0")),  # not multiple choice
            row([OPTIONS], ("A", "B"), ("0.0", "1.0")),  # duplicate prompt
            row(["Q2?\nA) x\nB) y\nAnswer:"], ("A", "B"), ("0.0", "0.0")),  # no correct answer
            row(["Q3?\nA) x\nB) y\nAnswer:"], ("I think so", "A"), ("1.0", "0.0")),  # unclear reference
        ],
    )
    bench = load(path, count=lambda text: len(text.split()))
    assert bench.models == ("m-cheap", "m-good")
    assert bench.dropped == {
        "incomplete": 1,
        "malformed": 3,
        "not_multiple_choice": 1,
        "duplicate_prompt": 1,
        "no_correct_answer": 1,
        "unclear_reference": 1,
    }
    assert [r.reference for r in bench.rows] == [("B",), ("C",), (), ()]
    assert [i["reference"] for i in bench.items] == [["B"], ["C"]]
    assert bench.items[0]["scorer"] == {"name": "choice", "choices": ["A", "B", "C"]}
    assert len(bench.recordings()) == 4 * 2  # rows without a reference are still recorded


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    good = write(tmp_path / "a.csv", [row([OPTIONS], ("A", "B"), ("0.0", "1.0"))])
    other = write(tmp_path / "b.csv", [], models=["m-cheap", "m-other"])
    with pytest.raises(RouterBenchError, match=r"b\.csv: models"):
        load([good, other], count=len)
    (tmp_path / "c.csv").write_text("prompt,score\n'x',1\n")
    with pytest.raises(RouterBenchError, match=r"c\.csv: missing column"):
        load(tmp_path / "c.csv", count=len)
    limit = csv.field_size_limit()
    load(good, count=len)
    assert csv.field_size_limit() == limit  # raised while reading only


def test_choice_letter_reads_only_a_leading_letter() -> None:
    abcd = ("A", "B", "C", "D")
    for answer, letter in [("B", "B"), ("B\n", "B"), ("(C) three", "C"), (" D)", "D"), ("A.", "A"), ("A chart", "A")]:
        assert choice_letter(answer, abcd) == letter
    for answer in ["E", "I do", "The answer is B", "", "b"]:
        assert choice_letter(answer, abcd) is None


def test_price_fit_is_non_negative_and_flags_non_linear_billing() -> None:
    rng = np.random.default_rng(0)
    prompt = rng.integers(50, 900, 200).astype(np.float64)
    output = rng.integers(1, 40, 200).astype(np.float64)
    exact = fit_price("m", prompt, output, (prompt * 0.5 + output * 1.5) / 1e6, routerbench.LINEAR_TOLERANCE)
    assert (exact.price.input, exact.price.output, exact.linear) == (0.5, 1.5, True)
    assert exact.input_per_token == pytest.approx(0.5e-6) and exact.max_relative_error < 1e-12
    # billed per call, whatever the tokens: not linear in them
    flat = fit_price("m", prompt, output, np.full(200, 1e-4), routerbench.LINEAR_TOLERANCE)
    assert not flat.linear and flat.max_relative_error > 0.1
    # costs falling with output tokens would need a negative output price: clamped to 0
    falling = fit_price("m", prompt, output, (prompt * 1.0 - output * 5.0 + 200) / 1e6, 1.0)
    assert falling.output_per_token == 0.0 and falling.input_per_token > 0
