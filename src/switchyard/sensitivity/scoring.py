"""Detection quality, label-blind (the router only needs "sensitive or not").

A gold span is *found* when predicted spans cover at least half of its characters; a predicted span is
*correct* when at least half of its characters lie in gold spans. A document is positive when it has a
gold span and flagged when it has a predicted span. F2 weighs recall four times as much as precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Interval = tuple[int, int]
MIN_COVERAGE = 0.5


def coverage(span: Interval, others: Sequence[Interval]) -> float:
    """The share of ``span``'s characters inside the union of ``others``."""
    start, end = span
    if end <= start:
        return 0.0
    covered = [False] * (end - start)
    for s, e in others:
        for i in range(max(s, start), min(e, end)):
            covered[i - start] = True
    return sum(covered) / (end - start)


def f_beta(precision: float | None, recall: float | None, beta: float = 2.0) -> float | None:
    if precision is None or recall is None:
        return None
    if precision == 0 and recall == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Tally:
    """Running counts over documents; ``metrics()`` turns them into the benchmark's figures."""

    docs: int = 0
    positive_docs: int = 0
    flagged_docs: int = 0
    flagged_positive_docs: int = 0
    negative_docs: int = 0
    flagged_negative_docs: int = 0
    gold_spans: int = 0
    found_spans: int = 0
    predicted_spans: int = 0
    correct_spans: int = 0
    chars: int = 0
    seconds: float = 0.0

    def add(
        self, text_length: int, gold: Sequence[Interval], predicted: Sequence[Interval], seconds: float = 0.0
    ) -> None:
        self.docs += 1
        self.chars += text_length
        self.seconds += seconds
        flagged = bool(predicted)
        self.flagged_docs += flagged
        if gold:
            self.positive_docs += 1
            self.flagged_positive_docs += flagged
        else:
            self.negative_docs += 1
            self.flagged_negative_docs += flagged
        self.gold_spans += len(gold)
        self.found_spans += sum(coverage(g, predicted) >= MIN_COVERAGE for g in gold)
        self.predicted_spans += len(predicted)
        self.correct_spans += sum(coverage(p, gold) >= MIN_COVERAGE for p in predicted)

    def metrics(self) -> dict[str, float | int | None]:
        span_recall = _ratio(self.found_spans, self.gold_spans)
        span_precision = _ratio(self.correct_spans, self.predicted_spans)
        if span_precision is None and span_recall is not None:
            span_precision = 1.0  # nothing predicted: no wrong predictions
        kb = self.chars / 1024
        return {
            "docs": self.docs,
            "doc_recall": _ratio(self.flagged_positive_docs, self.positive_docs),
            "doc_precision": _ratio(self.flagged_positive_docs, self.flagged_docs),
            "span_recall": span_recall,
            "span_precision": span_precision,
            "span_f2": f_beta(span_precision, span_recall),
            "fp_rate": _ratio(self.flagged_negative_docs, self.negative_docs),
            "ms_per_kb": self.seconds * 1000 / kb if kb else None,
        }
