"""The built-in detector in a worker process: the same classes as in process, and what the residency
policy uses for large requests (so classifying them does not hold the event loop's GIL)."""

from __future__ import annotations

import asyncio

from switchyard.sensitivity import SensitivityDetector
from switchyard.sensitivity.process import DetectorBusy, DetectorProcess

NOTE = "PT JOHN MILLER, MRN 4452190, ADMITTED 03/14 WITH CHEST PAIN. WIFE MARY AT BEDSIDE, CALL 617-555-0142."


async def test_the_worker_process_classifies_like_the_detector() -> None:
    process = DetectorProcess(max_scan_chars=None)
    try:
        texts = [NOTE, "My card is 4111 1111 1111 1111.", "nothing to see here " * 5000]
        assert await process.classify(texts) == SensitivityDetector(max_scan_chars=None).classify(texts)
        assert await process.classify(["the weather is fine"]) == set()
    finally:
        process.close()


async def test_the_wait_for_the_process_is_bounded() -> None:
    """Past ``max_pending`` waiting requests, classify raises DetectorBusy at once (the residency policy
    then takes the request as carrying every class: not waited for, not passed as clean)."""
    process = DetectorProcess(max_scan_chars=None, max_pending=2)
    try:
        big = ["Mary Okafor, 617-555-0142. " * 4000]
        calls = [asyncio.create_task(process.classify(big)) for _ in range(4)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert sum(isinstance(r, DetectorBusy) for r in results) == 2
        assert [r for r in results if not isinstance(r, BaseException)] == [{"pii"}, {"pii"}]
        assert process.pending == 0 and await process.classify(["the weather is fine"]) == set()
    finally:
        process.close()
