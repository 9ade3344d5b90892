"""The built-in detector in a worker process: the same classes as in process, and what the residency
policy uses for large requests (so classifying them does not hold the event loop's GIL)."""

from __future__ import annotations

from switchyard.sensitivity import SensitivityDetector
from switchyard.sensitivity.process import DetectorProcess

NOTE = "PT JOHN MILLER, MRN 4452190, ADMITTED 03/14 WITH CHEST PAIN. WIFE MARY AT BEDSIDE, CALL 617-555-0142."


async def test_the_worker_process_classifies_like_the_detector() -> None:
    process = DetectorProcess(max_scan_chars=None)
    try:
        texts = [NOTE, "My card is 4111 1111 1111 1111.", "nothing to see here " * 5000]
        assert await process.classify(texts) == SensitivityDetector(max_scan_chars=None).classify(texts)
        assert await process.classify(["the weather is fine"]) == set()
    finally:
        process.close()
