"""Features of a cheap model's answer, for the cascade's learned verifier: is there a final answer, is
its arithmetic right, does it use the prompt's numbers, does it hedge. Written for reasoning answers
(GSM8K-style ``<<a*b=c>>`` annotations and ``#### answer`` lines) but defined for any text."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_FINAL = re.compile(r"(?:####|answer is|answer:)\s*\$?\s*(-?[\d,]*\.?\d+)", re.IGNORECASE)
_ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>")
_INLINE = re.compile(r"(-?\d[\d,]*\.?\d*)\s*([-+*/x\u00d7])\s*(-?\d[\d,]*\.?\d*)\s*=\s*\$?\s*(-?\d[\d,]*\.?\d*)")
_HEDGES = ("however", "assum", "approximately", "round", "cannot", "not possible", "actually", "unclear", "mistake")
_ALGEBRA = ("let's", "let us", "equation", "solve for", "variable")
_OPS: dict[type[ast.AST], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
ANSWER_FEATURES = (
    "final_marker",
    "final_missing",
    "final_integer",
    "final_negative",
    "final_log_abs",
    "final_in_prompt",
    "log_chars",
    "log_lines",
    "prompt_number_coverage",
    "log_numbers",
    "log_checks_ok",
    "any_check_failed",
    "log_checks_failed",
    "log_annotations",
    "length_ratio",
    "hedges",
    "algebra",
)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def _arith(node: ast.AST) -> float:
    """Evaluate + - * / over numbers only (anything else raises ValueError)."""
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    raise ValueError("not plain arithmetic")


def _close(value: float, claimed: float) -> bool:
    return abs(value - claimed) <= 0.01 * max(1.0, abs(value))


def arithmetic_checks(answer: str) -> tuple[int, int]:
    """(right, wrong) counts of the calculations an answer writes out (``<<e=r>>`` and ``a op b = c``)."""
    right = wrong = 0
    for expr, result in _ANNOTATION.findall(answer):
        claimed = _number(result)
        text = expr.replace(",", "").replace("x", "*").replace("\u00d7", "*")
        if claimed is None or len(text) > 200 or not re.fullmatch(r"[\d.\s+\-*/()]+", text):
            continue
        try:
            value = _arith(ast.parse(text, mode="eval"))
        except (ValueError, SyntaxError, ZeroDivisionError, RecursionError):
            continue
        right, wrong = (right + 1, wrong) if _close(value, claimed) else (right, wrong + 1)
    for a, op, b, r in _INLINE.findall(_ANNOTATION.sub(" ", answer)):
        x, y, claimed = _number(a), _number(b), _number(r)
        if x is None or y is None or claimed is None or (op == "/" and y == 0):
            continue
        value = {"+": x + y, "-": x - y, "/": x / y if y else math.nan}.get(op, x * y)
        right, wrong = (right + 1, wrong) if _close(value, claimed) else (right, wrong + 1)
    return right, wrong


def final_answer(answer: str) -> float | None:
    """The number after ``####`` / "answer is", else the last number in the text."""
    m = _FINAL.search(answer)
    if m:
        return _number(m.group(1))
    numbers = _NUMBER.findall(answer)
    return _number(numbers[-1]) if numbers else None


def answer_features(prompt: str, answer: str) -> list[float]:
    """One row, in the order of ``ANSWER_FEATURES``."""
    low = answer.lower()
    final = final_answer(answer)
    prompt_numbers = {n.replace(",", "") for n in _NUMBER.findall(prompt)}
    numbers = [n.replace(",", "") for n in _NUMBER.findall(answer)]
    coverage = len(prompt_numbers & set(numbers)) / len(prompt_numbers) if prompt_numbers else 1.0
    prompt_values = {_number(n) for n in prompt_numbers}
    right, wrong = arithmetic_checks(answer)
    return [
        float(_FINAL.search(answer) is not None),
        float(final is None),
        float(final is not None and final == round(final)),
        float(final is not None and final < 0),
        math.log1p(abs(final)) if final is not None and math.isfinite(final) else 0.0,
        float(final is not None and final in prompt_values),
        math.log1p(len(answer)),
        math.log1p(answer.count("\n")),
        coverage,
        math.log1p(len(numbers)),
        math.log1p(right),
        float(wrong > 0),
        math.log1p(wrong),
        math.log1p(answer.count("<<")),
        math.log1p(len(answer)) - math.log1p(len(prompt)),
        float(sum(h in low for h in _HEDGES)),
        float(any(a in low for a in _ALGEBRA)),
    ]
