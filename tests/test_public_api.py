"""The curated public API: ``__all__`` names exactly what the package's face imports, and each resolves."""

from __future__ import annotations

import switchyard


def test_all_matches_the_public_names() -> None:
    public = {n for n in vars(switchyard) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n, v in vars(switchyard).items() if type(v).__name__ == "module"}
    assert set(switchyard.__all__) == (public - modules) | {"__version__"}
    for name in switchyard.__all__:
        assert getattr(switchyard, name) is not None
