"""The example eval set loads, mixes the scorers it promises, and each reference passes its own scorer
when answered the way a chat model would phrase it."""

from __future__ import annotations

from pathlib import Path

from switchyard.evals import Answer, Scoring, load_eval_set

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "evals" / "sample.jsonl"


async def test_the_sample_set() -> None:
    evals = load_eval_set(SAMPLE)
    assert len(evals) == 20
    assert {item.scorer.name for item in evals} == {"choice", "numeric", "contains"}
    assert all(len(item.prompt) < 200 for item in evals)  # short: the embedded chat model is small
    scoring = Scoring()
    phrased = {"choice": "The answer is {}.", "numeric": "The answer is {}.", "contains": "**{}**."}
    for item in evals:
        answer = Answer(phrased[item.scorer.name].format(item.reference))
        score = await scoring.score(item, answer)
        assert score.passed, (item.id, score.detail)
