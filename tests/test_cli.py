from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.keys import hash_secret
from switchyard.store.sqlite import SQLiteStore
from tests.store.test_sqlite import record

ROOT = Path(__file__).parent.parent
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("SWITCHYARD_DB_PATH", str(path))
    monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
    return path


def test_keys_create_shows_the_secret_once_and_stores_its_hash(db: Path) -> None:
    out = runner.invoke(app, ["keys", "create", "--team", "research", "--name", "ci"])
    assert out.exit_code == 0, out.output
    secret = re.search(r"secret: (\S+)", out.stdout).group(1)  # type: ignore[union-attr]
    key_id = re.search(r"id:\s+(\S+)", out.stdout).group(1)  # type: ignore[union-attr]
    store = SQLiteStore(db)
    found = store.find_key(hash_secret(secret))
    assert found is not None and found.team == "research" and found.id == key_id
    assert secret.encode() not in db.read_bytes() + Path(str(db) + "-wal").read_bytes()
    listed = runner.invoke(app, ["keys", "list"])
    assert key_id in listed.stdout and secret not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 1


def test_usage_table_and_json(db: Path) -> None:
    store = SQLiteStore(db)
    store.write([record(1, team="a", cost=0.25), record(2, team="a", cost=0.5), record(3, team="b", cost=1.0)])
    store.write([record(4, team="old", cost=9.0, ts=time.time() - 30 * 86400)])
    store.close()
    out = runner.invoke(app, ["usage", "--since", "7d", "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["team"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["requests"] == 2 and rows["a"]["cost"] == pytest.approx(0.75)
    assert rows["a"]["input_tokens"] == 20 and rows["a"]["model"] == "m"
    table = runner.invoke(app, ["usage"])
    assert "old" in table.stdout and "total: 4 requests" in table.stdout
    assert runner.invoke(app, ["usage", "--since", "yesterday-ish"]).exit_code != 0


def test_config_check(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["config", "check", str(ROOT / "examples" / "switchyard.yaml")])
    assert ok.exit_code == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - {name: a, provider: openai}\n")
    out = runner.invoke(app, ["config", "check", str(bad)])
    assert out.exit_code == 1 and "models.0.locality" in out.output and str(bad) in out.output


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make serve" in readme and "make test" in readme
    for command in (
        "serve",
        "config check",
        "keys create",
        "usage",
        "report",
        "tco",
        "rag eval",
        "rag tune",
        "rag erase",
    ):
        assert f"switchyard {command}" in readme, command
    for group in ([], ["config"], ["keys"], ["rag"]):
        assert runner.invoke(app, [*group, "--help"]).exit_code == 0
