"""Classification of large texts in a worker process.

The detectors are Python and ``re`` code: in a worker thread they still hold the GIL, and ``re`` does
not release it during a match, so classifying a megabyte stalls the event loop for everyone else
(``bench/adversarial.py --path``). ``DetectorProcess`` runs the built-in detector in one child process
(spawned, so no thread state is forked) that loads and warms its word lists once; the gateway sends it
the texts of large requests and awaits the classes without holding the GIL meanwhile.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from .detector import SensitivityDetector

# The worker process's own detector (one per child process, built by ``_start``).
_worker: list[SensitivityDetector] = []


def _start(max_scan_chars: int | None) -> None:
    detector = SensitivityDetector(max_scan_chars=max_scan_chars)
    detector.warm()
    _worker.append(detector)


def _classify(texts: Sequence[str]) -> set[str]:
    return _worker[0].classify(texts)


class DetectorBusy(Exception):
    """As many large requests as allowed already wait for the detector process."""


class DetectorProcess:
    """The built-in detector in a child process, started on the first large request (its word lists load
    then: that request waits a few seconds; ``start`` does it ahead)."""

    def __init__(self, max_scan_chars: int | None, *, max_pending: int = 8) -> None:
        self.max_scan_chars = max_scan_chars
        self.max_pending = max_pending
        self.pending = 0
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.max_scan_chars,),
            )
        return self._pool

    async def classify(self, texts: Sequence[str]) -> set[str]:
        """The classes of ``texts``; raises ``DetectorBusy`` at once when ``max_pending`` already wait."""
        if self.pending >= self.max_pending:
            raise DetectorBusy(f"{self.pending} large requests already wait for the detector process")
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor(), _classify, list(texts))
        finally:
            self.pending -= 1

    def start(self) -> None:
        """Spawn the child and load its word lists now (the gateway does this in the background)."""
        self._executor().submit(_classify, ["warm"]).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
