"""Router artifacts on disk, versioned: ``ROOT/<version>/`` holds ``router.json`` (metadata: format
version, training-data hash, embedding model id, threshold table, ...) and ``params.npz`` (plain arrays,
no pickles); ``ROOT/CURRENT`` names the version in use. Saving a new version never touches the old ones,
so rolling back is rewriting ``CURRENT``."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .data import RouterDataError

FORMAT = "switchyard-router"
FORMAT_VERSION = 1  # the two-model router (``RouterModel``): route and verify mode
NROUTER_FORMAT_VERSION = 2  # the router over N candidates (``NRouter``)
FORMAT_VERSIONS = (FORMAT_VERSION, NROUTER_FORMAT_VERSION)
META_FILE = "router.json"
PARAMS_FILE = "params.npz"
CURRENT_FILE = "CURRENT"


def _encode_float(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def encode_thresholds(table: dict[float, float]) -> dict[str, float | str]:
    return {f"{t:.2f}": _encode_float(v) for t, v in sorted(table.items())}


def decode_thresholds(raw: dict[str, Any]) -> dict[float, float]:
    return {float(t): float(v) for t, v in raw.items()}


def write_artifact(
    root: Path, meta: dict[str, Any], arrays: dict[str, NDArray[Any]], format_version: int = FORMAT_VERSION
) -> Path:
    """Write a new version under ``root`` and point ``CURRENT`` at it. Returns the version directory."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version = f"{stamp}-{str(meta.get('training', {}).get('data_sha256', ''))[:8] or 'nodata'}"
    meta = {"format": FORMAT, "format_version": format_version, "version": version, **meta}
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    with open(staging / PARAMS_FILE, "wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    (staging / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    final = root / version
    os.replace(staging, final)
    pointer = root / f".{CURRENT_FILE}.tmp"
    pointer.write_text(version + "\n")
    os.replace(pointer, root / CURRENT_FILE)
    return final


def resolve(path: Path) -> Path:
    """The version directory for ``path``: itself if it holds an artifact, else its ``CURRENT``."""
    if (path / META_FILE).is_file():
        return path
    pointer = path / CURRENT_FILE
    if pointer.is_file():
        version = pointer.read_text().strip()
        if version and (path / version / META_FILE).is_file():
            return path / version
        raise RouterDataError(f"{pointer} names version {version!r}, which is not in {path}")
    raise RouterDataError(f"no router artifact in {path} (train one with `switchyard router fit`)")


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise RouterDataError(f"{folder / META_FILE}: {exc}") from None
    return meta


def format_version(path: Path) -> int:
    """The format version of the artifact at ``path`` (its CURRENT version), checked to be one we read."""
    folder = resolve(path)
    meta = _read_meta(folder)
    found = meta.get("format_version")
    if meta.get("format") != FORMAT or found not in FORMAT_VERSIONS:
        raise RouterDataError(
            f"{folder}: not a {FORMAT} artifact of format version {' or '.join(map(str, FORMAT_VERSIONS))} "
            f"(found {meta.get('format')!r} version {found!r})"
        )
    return int(found)


def read_artifact(path: Path, version: int = FORMAT_VERSION) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    folder = resolve(path)
    meta = _read_meta(folder)
    if meta.get("format") != FORMAT or meta.get("format_version") != version:
        raise RouterDataError(
            f"{folder}: not a {FORMAT} artifact of format version {version} "
            f"(found {meta.get('format')!r} version {meta.get('format_version')!r})"
        )
    with np.load(folder / PARAMS_FILE, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays


def versions(root: Path) -> list[str]:
    """Saved versions, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / META_FILE).is_file())
