"""Evals on a team's own data: eval sets (``sets.py``) and the scorers that grade answers (``scorers/``).

    from switchyard.evals import Answer, Scoring, ScorerDeps, load_eval_set

    evals = load_eval_set("examples/evals/sample.jsonl")     # checked: lines, fields, scorers
    scoring = Scoring(ScorerDeps(judge=my_judge))              # judge / embedder injected
    for item in evals:
        score = await scoring.score(item, Answer(text="The answer is B."))

Errors are in ``errors.py`` (``EvalSetError`` names the line and field).
"""

from .errors import EvalError, EvalSetError, ScorerError
from .scorers import (
    JUDGE_PROMPT_VERSION,
    Embedder,
    JudgeClient,
    PairwiseVerdict,
    Scorer,
    ScorerDeps,
    ScorerKind,
    ScorerRegistry,
    Scoring,
    default_registry,
    extract_choice,
    extract_final_number,
    judge_pair,
    local_embedder,
    normalize_text,
)
from .sets import EvalSet, load_eval_set, parse_eval_set
from .types import Answer, EvalItem, Score, ScorerSpec

__all__ = [
    "JUDGE_PROMPT_VERSION",
    "Answer",
    "Embedder",
    "EvalError",
    "EvalItem",
    "EvalSet",
    "EvalSetError",
    "JudgeClient",
    "PairwiseVerdict",
    "Score",
    "Scorer",
    "ScorerDeps",
    "ScorerError",
    "ScorerKind",
    "ScorerRegistry",
    "ScorerSpec",
    "Scoring",
    "default_registry",
    "extract_choice",
    "extract_final_number",
    "judge_pair",
    "load_eval_set",
    "local_embedder",
    "normalize_text",
    "parse_eval_set",
]
