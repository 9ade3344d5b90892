"""The output guard: what a valid tool call or JSON answer is (``checks``), and how a model is asked
again when its answer is not (``repair``). The call core runs it (``calls/guarded.py``)."""

from .checks import Problem, check_answer, checkable
from .repair import repair_request

__all__ = ["Problem", "check_answer", "checkable", "repair_request"]
