"""The errors of the evals package. Both are client errors (400): an eval set or a scorer spec that
cannot be used as written.

    InvalidRequest (switchyard.errors)
    └── EvalError
        ├── EvalSetError    a line of an eval set file: ``.line`` (1-based) and ``.field`` name the place
        └── ScorerError     an unknown scorer, bad scorer arguments, a reference the scorer cannot use, or a
                            missing collaborator (no judge client); ``.field`` is "scorer" or "reference"

A scorer never raises for a bad *answer*: an answer it cannot read (no letter, no JSON, a judge verdict it
cannot parse) is a failed :class:`~switchyard.evals.Score` with a detail. Errors of an injected
collaborator (the judge client, the embedder) pass through unchanged, so a run can retry them.
"""

from __future__ import annotations

from ..errors import InvalidRequest


class EvalError(InvalidRequest):
    """Base of the evals errors."""


class ScorerError(EvalError):
    def __init__(self, message: str, *, field: str = "scorer") -> None:
        super().__init__(message, param=field)
        self.field = field


class EvalSetError(EvalError):
    """A bad line of an eval set. The message reads ``line 7: field 'messages': <problem>`` (or
    ``line 7: <problem>`` when the whole line is wrong); ``path`` is the file, when there is one."""

    def __init__(self, line: int, problem: str, *, field: str | None = None, path: str | None = None) -> None:
        where = f"line {line}: field {field!r}: " if field else f"line {line}: "
        super().__init__(where + problem, param=field)
        self.line = line
        self.field = field
        self.problem = problem
        self.path = path
