"""Tuned embedding models on disk: ``<models_dir>/<collection>/v<N>/`` holds a sentence-transformers
model and ``rag_tune.json`` (its model id, base, training data and measured figures). Versions are never
overwritten; a collection switches to one only after it measured better (``switchyard rag tune``)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "rag_tune.json"


@dataclass
class TunedVersion:
    path: Path
    manifest: dict[str, Any]

    @property
    def model_id(self) -> str:
        return str(self.manifest.get("model_id", ""))

    @property
    def version(self) -> int:
        return int(self.manifest.get("version", 0))


class TunedModels:
    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self, collection: str) -> list[TunedVersion]:
        folder = self.root / collection
        out = []
        for manifest in sorted(folder.glob(f"v*/{MANIFEST}")) if folder.is_dir() else []:
            try:
                out.append(TunedVersion(manifest.parent, json.loads(manifest.read_text())))
            except (OSError, json.JSONDecodeError):
                continue
        return sorted(out, key=lambda v: v.version)

    def next_dir(self, collection: str) -> tuple[int, Path]:
        done = self.versions(collection)
        n = (done[-1].version if done else 0) + 1
        return n, self.root / collection / f"v{n}"

    def save(
        self, collection: str, weights_file: str, write: Callable[[Path], None], fields: dict[str, Any]
    ) -> tuple[Path, dict[str, Any]]:
        """A new version: ``write(folder)`` puts the weights in ``folder/weights_file``; the manifest gets the
        version, a model id naming the weights' digest, and ``fields``. Returns (folder, manifest)."""
        version, out = self.next_dir(collection)
        write(out)
        digest = hashlib.sha256((out / weights_file).read_bytes()).hexdigest()[:12]
        manifest = {"model_id": f"{collection}-v{version}@{digest}", "version": version, "collection": collection}
        manifest |= {"created": time.time(), **fields}
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return out, manifest

    def path_of(self, model_id: str) -> str | None:
        if not self.root.is_dir():
            return None
        for manifest in self.root.glob(f"*/v*/{MANIFEST}"):
            try:
                if json.loads(manifest.read_text()).get("model_id") == model_id:
                    return str(manifest.parent)
            except (OSError, json.JSONDecodeError):
                continue
        return None
