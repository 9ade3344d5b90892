"""Fixtures for router tests: a deterministic stand-in encoder and a small synthetic outcome table."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from switchyard.routing.data import OutcomeTable

EASY = ["apple", "banana", "pear", "plum", "grape", "melon"]
HARD = ["quantum", "entropy", "tensor", "manifold", "spinor", "lattice"]


class HashEncoder:
    """Bag-of-words vectors (16 dims, unit length): similar prompts get similar vectors."""

    def __init__(self, model_id: str = "test/hash-encoder@1") -> None:
        self.model_id = model_id
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 16))
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.sha256(word.encode()).hexdigest()[:4], 16) % 16] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def synthetic_table(n: int = 160, seed: int = 0, answers: bool = False) -> OutcomeTable:
    """Easy prompts: the cheap model is usually right. Hard ones: only the premium model is."""
    rng = np.random.default_rng(seed)
    prompts, cheap, premium, cheap_resp, premium_resp = [], [], [], [], []
    for i in range(n):
        hard = i % 2 == 1
        words = rng.choice(HARD if hard else EASY, size=3)
        prompts.append(f"question {i}: " + " ".join(words) + " ?" + " filler" * int(rng.integers(0, 30)))
        c = bool(rng.random() < (0.15 if hard else 0.9))
        cheap.append(c)
        premium.append(bool(rng.random() < 0.9))
        cheap_resp.append("6 * 7 = <<6*7=42>>42\n#### 42" if c else "maybe 6 * 7 = <<6*7=40>>40, however unclear")
        premium_resp.append("the answer is 42 " + "because " * int(rng.integers(1, 20)))
    return OutcomeTable(
        prompts,
        np.array(cheap),
        np.array(premium),
        cheap_resp if answers else [None] * n,
        premium_resp if answers else [None] * n,
    )


@pytest.fixture
def encoder() -> HashEncoder:
    return HashEncoder()


# Three candidates with a known ground truth: P(correct) by prompt difficulty and model.
THREE = ("small", "medium", "large")
THREE_PRICES = {"small": (0.2, 0.2), "medium": (3.0, 9.0), "large": (10.0, 30.0)}  # USD per 1M in, out
TRUTH = {  # difficulty -> P(correct) of small, medium, large
    "easy": (0.92, 0.93, 0.95),
    "middling": (0.15, 0.9, 0.92),
    "hard": (0.05, 0.2, 0.9),
}
WORDS = {"easy": EASY, "middling": ["river", "castle", "violin", "harbor", "garden", "saddle"], "hard": HARD}


def difficulty(i: int) -> str:
    return ("easy", "middling", "hard")[i % 3]


def synthetic_results(
    n: int = 300, seed: int = 0
) -> tuple[dict[str, str], dict[str, dict[str, float]], dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Prompts, correctness, costs and output tokens per target and item id (``q<i>``, difficulty by i % 3)."""
    rng = np.random.default_rng(seed)
    prompts: dict[str, str] = {}
    correct: dict[str, dict[str, float]] = {m: {} for m in THREE}
    costs: dict[str, dict[str, float]] = {m: {} for m in THREE}
    tokens: dict[str, dict[str, float]] = {m: {} for m in THREE}
    for i in range(n):
        level = difficulty(i)
        item = f"q{seed}-{i}"
        words = " ".join(rng.choice(WORDS[level], size=3))
        prompts[item] = f"{words} ?" + " please" * int(rng.integers(0, 3))
        input_tokens = 8 + len(prompts[item].split())
        for j, m in enumerate(THREE):
            correct[m][item] = float(rng.random() < TRUTH[level][j])
            out = float(rng.integers(5, 40))
            p_in, p_out = THREE_PRICES[m]
            tokens[m][item] = out
            costs[m][item] = (input_tokens * p_in + out * p_out) / 1e6
    return prompts, correct, costs, tokens
