"""The SQLite side of the stored responses: one team never reaches another's, expired ones are not found and
are deleted as new ones come."""

from __future__ import annotations

from pathlib import Path

from switchyard.store.responses import StoredResponse
from switchyard.store.sqlite import SQLiteStore


def stored(rid: str, team: str = "a", created: float = 100.0, ttl: float = 50.0) -> StoredResponse:
    return StoredResponse(
        id=rid,
        team=team,
        key_id=f"key_{team}",
        created=created,
        expires=created + ttl,
        messages=[{"role": "user", "content": "héllo"}, {"role": "assistant", "content": "hi"}],
        body={"id": rid, "object": "response", "output": []},
    )


def test_a_response_round_trips_for_its_team_only(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.put_response(stored("resp_1"))
    assert store.find_response("resp_1", "a", now=120.0) == stored("resp_1")
    assert store.find_response("resp_1", "b", now=120.0) is None
    assert store.find_response("resp_2", "a", now=120.0) is None
    assert not store.delete_response("resp_1", "b")
    assert store.find_response("resp_1", "a", now=120.0) is not None
    assert store.delete_response("resp_1", "a")
    assert store.find_response("resp_1", "a", now=120.0) is None
    assert not store.delete_response("resp_1", "a")


def test_expired_responses_are_not_found_and_go_when_new_ones_come(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    store.put_response(stored("resp_old", created=100.0, ttl=50.0))  # expires at 150
    store.put_response(stored("resp_other_team", team="b", created=100.0, ttl=50.0))
    assert store.find_response("resp_old", "a", now=149.0) is not None
    assert store.find_response("resp_old", "a", now=150.0) is None
    assert store._query("SELECT COUNT(*) FROM responses") == [(2,)]  # still there until a write
    store.put_response(stored("resp_new", created=160.0))
    assert store._query("SELECT id FROM responses") == [("resp_new",)]  # every team's expired ones went
