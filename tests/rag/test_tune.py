"""`switchyard rag tune` on a tiny collection: a few training steps, a new version on disk with its
manifest, measured on held-out queries, and the collection switched only when the tuned model won."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchyard.config import embedded_embedding_model_path
from switchyard.rag.cli import app
from switchyard.rag.lab.beir import half
from switchyard.rag.serving.tuned import TunedModels
from switchyard.rag.stores.sqlite import SQLiteRagStore
from switchyard.testing import Fault, MockUpstream

from .conftest import needs_model
from .corpus import DOCS

pytestmark = needs_model
runner = CliRunner()

ASKED = {
    "heart": ["blood thinners for atrial fibrillation", "irregular heart rhythm drugs", "anticoagulant heart"],
    "tumour": ["shrinking a tumour before an operation", "chemotherapy breast cancer", "cancer drugs before surgery"],
    "bones": ["brittle bones", "vitamin D and bone loss", "osteoporosis calcium"],
    "sleep": ["snoring at night", "CPAP for apnoea", "tired all day and snoring"],
    "kidney": ["kidney failure treatment", "filtering blood by machine", "dialysis"],
    "skin": ["pigment cell cancer", "melanoma", "skin cancer types"],
}


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SWITCHYARD_DB_PATH", str(tmp_path / "gw.db"))
    monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
    folder = tmp_path / "docs"
    folder.mkdir()
    for d in DOCS:
        (folder / f"{d.id}.txt").write_text(f"{d.title}\n\n{d.text}")
    assert runner.invoke(app, ["create", "med"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "med", str(folder)]).exit_code == 0
    return folder


def _labelled(tmp_path: Path) -> tuple[Path, Path, int]:
    queries = tmp_path / "q.jsonl"
    qrels = tmp_path / "qrels.tsv"
    rows = [(f"{doc}-{i}", text, f"{doc}.txt") for doc, texts in ASKED.items() for i, text in enumerate(texts)]
    queries.write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t, _ in rows))
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in rows))
    return queries, qrels, len(rows)


def test_refit_switches_to_a_fit_on_every_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(tmp_path, monkeypatch)
    queries, qrels, n = _labelled(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["tune", "med", "--queries", str(queries), "--qrels", str(qrels), "--batch-size", "4", "--refit"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout.strip().splitlines()[-1])
    versions = TunedModels(tmp_path / "rag-models").versions("med")
    store = SQLiteRagStore(tmp_path / "gw.rag.db")
    try:
        collection = store.get_collection("med")
        assert collection is not None
        if result["accepted"]:  # measured on the half-a fit, then fitted again on all pairs
            assert [v.version for v in versions] == [1, 2] and versions[1].model_id == result["refit_model_id"]
            assert versions[1].manifest["refit_of"] == result["model_id"]
            assert versions[1].manifest["train_pairs"] == n and result["train_pairs"] < n
            assert collection.embed_model == result["refit_model_id"]
        else:  # nothing measured better: no refit, the collection keeps its model
            assert result["refit_model_id"] is None and [v.version for v in versions] == [1]
            assert collection.embed_model == versions[0].manifest["base"]
    finally:
        store.close()


@pytest.mark.parametrize("method", ["adapter", "full"])
def test_tune_from_labelled_pairs_versions_and_measures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    _setup(tmp_path, monkeypatch)
    queries = tmp_path / "q.jsonl"
    qrels = tmp_path / "qrels.tsv"
    rows = [(f"{doc}-{i}", text, f"{doc}.txt") for doc, texts in ASKED.items() for i, text in enumerate(texts)]
    queries.write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t, _ in rows))
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in rows))
    assert {half(q) for q, _, _ in rows} == {"a", "b"}
    monkeypatch.chdir(tmp_path)
    models = tmp_path / "rag-models"  # the default rag.models_dir, relative to the working directory
    args = ["tune", "med", "--queries", str(queries), "--qrels", str(qrels), "--batch-size", "4", "--method", method]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["version"] == 1 and result["train_pairs"] + result["heldout_queries"] == len(rows)
    versions = TunedModels(models).versions("med")
    assert [v.version for v in versions] == [1] and versions[0].model_id == result["model_id"]
    manifest = versions[0].manifest
    assert manifest["method"] == method
    assert manifest["base"].startswith(Path(embedded_embedding_model_path() or "").name)
    weights = {"adapter": "adapter.npy", "full": "model.safetensors"}
    assert sorted(p.name for p in versions[0].path.iterdir() if p.name in weights.values()) == [weights[method]]
    # the held-out questions, split by whether training questions asked about their documents
    groups = result["tuned"]["groups"]
    assert sum(g["queries"] for g in groups.values()) == result["heldout_queries"]
    assert groups.keys() == result["base"]["groups"].keys() <= {"seen_documents", "new_documents"}
    assert manifest["accepted"] == result["accepted"]
    assert manifest["tuned_figures"]["final"]["ndcg@10"] == result["tuned"]["final"]["ndcg@10"]
    store = SQLiteRagStore(tmp_path / "gw.rag.db")
    try:
        collection = store.get_collection("med")
        assert collection is not None
        ids, _ = store.vectors("med", result["model_id"])
        # a full fine-tune embeds the documents again; an adapter reuses the base model's vectors
        expected_rows = len(DOCS) if method == "full" and result["accepted"] else 0
        assert len(ids) == expected_rows
        base_ids, _ = store.vectors("med", manifest["base"])
        assert len(base_ids) == len(DOCS)
        if result["accepted"]:
            assert result["tuned"]["final"]["ndcg@10"] > result["base"]["final"]["ndcg@10"]
            assert collection.embed_model == result["model_id"]
        else:
            assert collection.embed_model == manifest["base"]
    finally:
        store.close()
    # the collection still answers searches with whichever model it uses now
    found = runner.invoke(app, ["search", "med", "-q", "dialysis", "-k", "1"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["document"] == "kidney.txt"


def test_tune_from_synthetic_questions_of_a_chat_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "gw.yaml"
    with MockUpstream(models=["writer"]) as up:
        up.set_default(Fault.ok("What does this passage describe?\nextra line"))
        config.write_text(
            f"models:\n  - name: writer\n    provider: openai\n    base_url: {up.url}/v1\n    upstream_model: writer\n    locality: on_prem\n"
            f"  - name: local-embed\n    provider: sentence_transformers\n    kind: embedding\n    locality: on_prem\n"
            f"    path: {embedded_embedding_model_path()}\n"
        )
        out = runner.invoke(
            app,
            ["tune", "med", "--synthetic", "6", "--chat-model", "writer", "--batch-size", "2", "--config", str(config)],
        )
        assert out.exit_code == 0, out.output
        assert len(up.requests) == len(DOCS)
        assert "passage" in up.requests[0].body["messages"][0]["content"]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["train_pairs"] + result["heldout_queries"] == len(DOCS)
