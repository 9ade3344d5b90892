"""/metrics for the workers of one machine (``serve --workers N``): the machine's totals, whichever worker
answers the scrape.

Each worker writes a snapshot of its counters and histograms to a directory the workers share (one JSON
file per worker, replaced atomically) every ``interval`` seconds and when it shuts down. The worker that
answers a scrape reads the other workers' snapshots and adds its own live counters: counters and histogram
buckets are summed sample by sample (the buckets are the same in every worker). A worker that died keeps
its last snapshot, so the machine's counters never go back; what it counted after its last snapshot is
missing, as its unwritten ledger records are. The ledger backlog is summed over the workers still alive;
budget gauges come from the answering worker's budget counters, which are the shared (Redis) ones
whenever budgets run with more than one worker (``serve`` refuses the other case).

So the other workers' share of a scrape is at most ``interval`` seconds old. Label values stay bounded:
each worker allows ``cap`` values of its own beyond the configured ones, so at most N times that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from .metrics import GatewayMetrics, GaugeCollector

log = logging.getLogger(__name__)

SUFFIX = ".metrics.json"


def snapshot(metrics: GatewayMetrics) -> dict[str, Any]:
    """This worker's counters and histograms (every sample), and its ledger backlog."""
    families = [
        {
            "name": family.name,
            "type": family.type,
            "doc": family.documentation,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
        for family in metrics.collect()
    ]
    return {"pid": os.getpid(), "families": families, "backlog": metrics.gauges.backlog()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def merge(snapshots: list[dict[str, Any]]) -> list[Metric]:
    """Families summed sample by sample, in the order they first appear."""
    families: dict[str, Metric] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for snap in snapshots:
        for fam in snap["families"]:
            name = fam["name"]
            if name not in families:
                families[name] = Metric(name, fam["doc"], fam["type"])
                sums[name] = {}
            samples = sums[name]
            for sample_name, labels, value in fam["samples"]:
                key = (sample_name, tuple(labels.items()))
                samples[key] = samples.get(key, 0.0) + value
    for name, family in families.items():
        for (sample_name, labels), value in sums[name].items():
            family.add_sample(sample_name, dict(labels), value)
    return list(families.values())


class _Merged(Collector):
    def __init__(self, families: list[Metric], gauges: GaugeCollector, backlog: float) -> None:
        self._families = families
        self._gauges = gauges
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        yield from self._families
        yield from self._gauges.budget_families()
        yield GaugeCollector.backlog_family(self._backlog)


class SharedMetrics:
    """One worker's side of the machine's /metrics: writes its snapshot, merges everyone's on a scrape."""

    def __init__(self, metrics: GatewayMetrics, directory: Path, *, interval: float = 1.0) -> None:
        self.metrics = metrics
        self.directory = directory
        self.interval = interval
        self.pid = os.getpid()
        self.path = directory / f"worker-{self.pid}{SUFFIX}"
        self._task: asyncio.Task[None] | None = None

    def write(self) -> None:
        """Replace this worker's snapshot (atomically: a reader sees the old one or the new one)."""
        self._write(snapshot(self.metrics))

    def _write(self, snap: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snap, separators=(",", ":")))
        os.replace(tmp, self.path)

    def others(self) -> list[dict[str, Any]]:
        """The other workers' last snapshots (dead workers' included: their counts happened)."""
        found = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if path == self.path:
                continue
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError):  # removed or being replaced just now: next scrape
                log.warning("metrics snapshot %s unreadable; left out of this scrape", path.name)
        return found

    def exposition(self) -> bytes:
        own = snapshot(self.metrics)
        others = self.others()
        backlog = own["backlog"] + sum(s["backlog"] for s in others if _alive(int(s["pid"])))
        registry = CollectorRegistry()
        registry.register(_Merged(merge([own, *others]), self.metrics.gauges, backlog))
        return generate_latest(registry)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.write()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="metrics-snapshots")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            snap = snapshot(self.metrics)  # on the loop: the counters are only touched there
            try:
                await asyncio.to_thread(self._write, snap)
            except OSError:
                log.warning("writing the metrics snapshot to %s failed", self.path, exc_info=True)

    async def aclose(self) -> None:
        """Stop, and leave the final snapshot (after the ledger's last records were counted)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            self.write()
