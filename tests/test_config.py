from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.config import GatewayConfig, Settings, embedded_defaults, load_config, server_options
from switchyard.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "examples" / "switchyard.yaml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_example_config_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert {m.name for m in cfg.models} >= {"local-chat", "local-embed", "gpt-4o"}
    assert cfg.route("auto") is not None


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("models:\n  - name: a\n    provider: openai\n", ["models.0.locality", "Field required"]),
        ("models:\n  - name: a\n    provider: openai\n    locality: mars!\n", ["models.0.locality", "pattern"]),
        (
            "models:\n  - {name: a, provider: openai, locality: us, price: {input: -1, output: 1}}\n",
            ["models.0.price.input", "greater than or equal"],
        ),
        ("models:\n  - {name: a, provider: openai, locality: us, colour: red}\n", ["models.0.colour", "Extra inputs"]),
        (
            "models:\n  - {name: a, provider: openai, locality: us}\nroutes:\n  - {name: r, models: [b]}\n",
            ["routes[0].models[0]", "unknown model 'b'"],
        ),
        (
            "models:\n  - {name: a, provider: openai, locality: us}\n  - {name: a, provider: openai, locality: us}\n",
            ["duplicate model name 'a'"],
        ),
        ("- just a list\n", ["top level must be a mapping"]),
        ("models: [\n", ["not valid YAML"]),
    ],
)
def test_invalid_config_names_file_field_and_problem(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = info.value.message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_embedded_defaults() -> None:
    cfg = embedded_defaults()
    chat, embed = cfg.model("local-chat"), cfg.model("local-embed")
    assert chat is not None and embed is not None
    assert chat.provider == "llamacpp" and chat.locality == "on_prem"
    assert embed.kind == "embedding"
    assert cfg.route("auto").models == ["local-chat"]  # type: ignore[union-attr]
    if chat.path is not None:  # the package is installed by `make`
        assert chat.path.endswith(".gguf") and Path(chat.path).is_file()


def test_environment_wins_over_file_over_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = GatewayConfig.model_validate({"server": {"port": 9001, "db_path": "from-file.db"}})
    monkeypatch.delenv("SWITCHYARD_PORT", raising=False)
    opts = server_options(Settings(), cfg)
    assert (opts.port, opts.db_path, opts.host) == (9001, "from-file.db", "127.0.0.1")
    monkeypatch.setenv("SWITCHYARD_PORT", "9002")
    assert server_options(Settings(), cfg).port == 9002


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:s3cret@db.internal:5432/rag",
        "host=db.internal dbname=rag password=s3cret",
        "postgresql://app@db/rag?password=x",
    ],
)
def test_a_password_in_the_config_file_is_refused(tmp_path, dsn: str) -> None:  # type: ignore[no-untyped-def]
    """Secrets never go in the file: a rag.postgres_dsn carrying a password is a config error naming the
    field and where the password belongs instead."""
    path = tmp_path / "gw.yaml"
    path.write_text(f"rag:\n  store: postgres\n  postgres_dsn: '{dsn}'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "rag.postgres_dsn" in info.value.message and "SWITCHYARD_RAG_POSTGRES_DSN" in info.value.message
    fine = tmp_path / "ok.yaml"
    fine.write_text("rag:\n  store: postgres\n  postgres_dsn: 'postgresql://app@db.internal:5432/rag'\n")
    assert load_config(fine).rag.postgres_dsn == "postgresql://app@db.internal:5432/rag"
