from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchyard.rag.cli import app
from switchyard.rag.lab.beir import half

from .conftest import SCIFACT, needs_model
from .corpus import DOCS, QUERIES

ASKED = [
    ("blood thinners for atrial fibrillation", "heart"),
    ("dialysis machine for kidneys", "kidney"),
    ("vitamin D and bone loss", "bones"),
    ("snoring and tiredness at night", "sleep"),
]

runner = CliRunner()
KEYS = {"ndcg@10", "mrr@10", "hit@1", "hit@10", "recall@100", "stages"}


def _beir(folder: Path) -> tuple[Path, Path, Path]:
    corpus, queries, qrels = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv"
    corpus.write_text("".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n" for d in DOCS))
    rows = [{"_id": q, "text": t} for q, (t, _) in QUERIES.items()] + [{"_id": "unjudged", "text": "ignored"}]
    queries.write_text("".join(json.dumps(r) + "\n" for r in rows))
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in QUERIES.items()))
    return corpus, queries, qrels


@needs_model
def test_eval_reports_every_stage_and_reuses_its_store(tmp_path: Path) -> None:
    corpus, queries, qrels = _beir(tmp_path)
    args = ["eval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels)]
    args += ["--store", str(tmp_path / "e.rag.db")]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "bm25" in out.stdout.splitlines()[1]  # the table comes before the JSON line
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report.keys() >= KEYS and set(report["stages"]) == {"bm25", "dense", "fused"}
    assert report["queries"] == len(QUERIES)  # the unjudged query is ignored
    assert report["hit@10"] == 1.0 and report["ndcg@10"] > 0.8
    assert report["ingest_docs_per_s"] > 0 and report["query_p95_ms"] >= report["query_p50_ms"] > 0
    again = runner.invoke(app, [*args, "--json", "--fusion", "rrf", "--sweep-fusion"])
    report = json.loads(again.stdout.strip().splitlines()[-1])
    assert report["ingest_reused_docs"] == len(DOCS) and report["ingest_docs_per_s"] is None
    assert report["fusion"]["method"] == "rrf"
    sweep = report["sweep"]
    assert sweep["best"]["fusion"] in ("rrf", "weighted") and len(sweep["grid"]) > 10
    assert sweep["current"]["fusion"] == "rrf" and set(sweep["current_halves"]) == {"a", "b"}
    # The embedding model reads 128 tokens by default; another length is another set of vectors.
    assert report["embed_model"].endswith("/seq128")
    full = runner.invoke(app, [*args, "--json", "--max-seq-length", "0"])
    report = json.loads(full.stdout.strip().splitlines()[-1])
    assert "/seq" not in report["embed_model"] and report["hit@10"] == 1.0


def test_eval_names_a_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jsonl")
    out = runner.invoke(app, ["eval", "--corpus", missing, "--queries", missing, "--qrels", missing])
    assert out.exit_code == 2 and "nope.jsonl" in out.output


def test_halves_split_queries_about_evenly() -> None:
    halves = [half(str(i)) for i in range(1000)]
    assert 400 < halves.count("a") < 600


@needs_model
@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").is_file(), reason="SciFact not found at ../shared/data/scifact")
def test_scifact_slice_smoke(tmp_path: Path) -> None:
    args = ["eval", "--corpus", str(SCIFACT / "corpus.jsonl"), "--queries", str(SCIFACT / "queries_train.jsonl")]
    args += ["--qrels", str(SCIFACT / "qrels_train.tsv"), "--limit-docs", "40", "--limit-queries", "10"]
    out = runner.invoke(app, [*args, "--store", str(tmp_path / "s.rag.db"), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report.keys() >= KEYS and report["documents"] == 40 and report["queries"] == 10


@needs_model
def test_eval_tunes_a_query_adapter_leaving_out_the_evaluated_queries(tmp_path: Path) -> None:
    corpus, queries, qrels = _beir(tmp_path)
    # labelled tuning queries: the evaluated ones (left out) plus other phrasings about the same documents
    extra = {f"t{i}": (text, doc) for i, (text, doc) in enumerate(ASKED)}
    tune_q, tune_r = tmp_path / "tune.jsonl", tmp_path / "tune.tsv"
    labelled = {**QUERIES, **extra}
    tune_q.write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, (t, _) in labelled.items()))
    tune_r.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in labelled.items()))
    base = ["eval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels), "--json"]
    base += ["--store", str(tmp_path / "e.rag.db"), "--models-dir", str(tmp_path / "models")]
    out = runner.invoke(app, [*base, "--tune-queries", str(tune_q), "--tune-qrels", str(tune_r)])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout.strip().splitlines()[-1])
    tuning = report["tuning"]
    assert tuning["train_queries"] == len(extra) and tuning["left_out_queries"] == len(QUERIES)
    assert report["embed_model"] == tuning["model_id"] and tuning["base"].endswith("/seq128")
    assert (Path(tuning["path"]) / "adapter.npy").is_file() and report["hit@10"] == 1.0
    # the collection stays tuned for later evals of the same corpus, unless the base model is asked for
    again = json.loads(runner.invoke(app, base).stdout.strip().splitlines()[-1])
    assert again["embed_model"] == tuning["model_id"] and again["tuning"]["path"] == tuning["path"]
    plain = json.loads(runner.invoke(app, [*base, "--base-model"]).stdout.strip().splitlines()[-1])
    assert plain["tuning"] is None and plain["embed_model"] == tuning["base"]
    # tuning only on the evaluated queries leaves nothing to learn from
    only_evaluated = runner.invoke(app, [*base, "--tune-queries", str(queries), "--tune-qrels", str(qrels)])
    assert only_evaluated.exit_code != 0 and "too few labelled pairs" in only_evaluated.output
