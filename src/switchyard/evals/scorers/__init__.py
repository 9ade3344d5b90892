"""Scorers: the Scorer seam, the built-in kinds and the registry that names them (see ``base.py``)."""

from .base import Args, Scorer, ScorerKind, ScorerRegistry, SyncScorer, sync_kind
from .choice import Choice, ChoiceReader, extract_choice, parse_choices
from .deps import Embedder, JudgeClient, ScorerDeps, local_embedder
from .embedding import cosine
from .judge import JUDGE_PROMPT_VERSION, PairwiseVerdict, judge_pair, parse_preference, parse_rating
from .numeric import extract_final_number
from .registry import default_registry
from .scoring import Scoring
from .structured import json_equal, parse_json_answer
from .text import normalize_text

__all__ = [
    "JUDGE_PROMPT_VERSION",
    "Args",
    "Choice",
    "ChoiceReader",
    "Embedder",
    "JudgeClient",
    "PairwiseVerdict",
    "Scorer",
    "ScorerDeps",
    "ScorerKind",
    "ScorerRegistry",
    "Scoring",
    "SyncScorer",
    "cosine",
    "default_registry",
    "extract_choice",
    "extract_final_number",
    "json_equal",
    "judge_pair",
    "local_embedder",
    "normalize_text",
    "parse_choices",
    "parse_json_answer",
    "parse_preference",
    "parse_rating",
    "sync_kind",
]
