"""``switchyard.evals.__all__`` names exactly what the package's face imports, and each resolves."""

from __future__ import annotations

import switchyard.evals
import switchyard.evals.scorers


def _public(module: object) -> set[str]:
    names = {n for n in vars(module) if not n.startswith("_") and n != "annotations"}
    return {n for n in names if type(getattr(module, n)).__name__ != "module"}


def test_all_matches_the_public_names() -> None:
    for module in (switchyard.evals, switchyard.evals.scorers):
        assert set(module.__all__) == _public(module)
        for name in module.__all__:
            assert getattr(module, name) is not None
