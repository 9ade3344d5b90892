"""Training the N-model router from eval runs (``switchyard eval run``): per item and target the stored
score (``score``, else ``passed``), cost and output tokens; the prompts from the run's eval set (the path
the run recorded, or one given, checked against the run's sha256). The text the router reads of an item
is what the route reads of a request: the last user message (``cascade.request_prompt``).

``nrouter.fit_from_results`` is the same fit over plain mappings, for callers that hold results elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import SwitchyardError
from ..routing.cascade import request_prompt
from ..routing.data import RouterDataError
from ..routing.outcomes import Outcomes
from ..store.evals import EvalRunRecord, EvalStore
from .sets import EvalSet, load_eval_set


def find_run(store: EvalStore, name_or_id: str) -> EvalRunRecord:
    run = store.find_eval_run(name_or_id)
    if run is None:
        raise RouterDataError(f"no eval run named {name_or_id!r}")
    return run


def run_set(run: EvalRunRecord, path: Path | None = None) -> EvalSet:
    """The eval set a run was made over: ``path``, or the one the run recorded; its bytes must be the run's."""
    where = path or (Path(run.meta["set_path"]) if run.meta.get("set_path") else None)
    if where is None:
        raise RouterDataError(f"run {run.name!r} does not record its eval set's path: pass the set (--set FILE)")
    if not where.is_file():
        raise RouterDataError(f"{where}: no such eval set (run {run.name!r} was made over it): pass --set FILE")
    try:
        eval_set = load_eval_set(where)
    except SwitchyardError as exc:
        raise RouterDataError(f"{where}: {exc.message}") from None
    if eval_set.sha256 != run.set_digest:
        raise RouterDataError(
            f"{where} is not the set run {run.name!r} was made over (sha256 {eval_set.sha256[:12]}… against "
            f"{run.set_digest[:12]}…)"
        )
    return eval_set


def outcomes_from_run(
    store: EvalStore, run: EvalRunRecord, eval_set: EvalSet, models: Sequence[str] | None = None
) -> Outcomes:
    """Scores, costs and output tokens per item of ``models`` (default: every target of the run).
    Failed or unscored answers leave their item out."""
    targets = list(models) if models else list(run.targets)
    unknown = [t for t in targets if t not in run.targets]
    if unknown:
        raise RouterDataError(
            f"run {run.name!r} did not evaluate {', '.join(unknown)} (it has {', '.join(run.targets)})"
        )
    ids = run.meta.get("item_ids") or [item.id for item in eval_set]
    prompts = {item.id: request_prompt(item.request(targets[0])) for item in eval_set if item.id in set(ids)}
    correct: dict[str, dict[str, float]] = {t: {} for t in targets}
    costs: dict[str, dict[str, float]] = {t: {} for t in targets}
    tokens: dict[str, dict[str, float]] = {t: {} for t in targets}
    for r in store.eval_results(run.id):
        if r.target not in correct or not r.answered:
            continue
        value = r.score if r.score is not None else (None if r.passed is None else float(r.passed))
        if value is None:
            continue
        correct[r.target][r.item_id] = min(1.0, max(0.0, float(value)))
        costs[r.target][r.item_id] = r.cost
        tokens[r.target][r.item_id] = float(r.output_tokens)
    return Outcomes.from_results(prompts, correct, dict(costs), output_tokens=tokens)
