"""Sensitivity detection: which classes of sensitive data (``pii``, ``financial``, ``health``,
``secret``) a request carries, where, and pseudonymisation of those spans.

    detector = SensitivityDetector()          # all built-in detectors, word lists load lazily
    detector.warm()                           # optional: load the word lists now
    detector.classify_request(request)        # {"pii", "health"}
    detector.scan(["Dr. Smith saw pt 2/13"])  # Finding(classes, spans per text, clinical)
"""

from .base import CLASSES, Detector, SensitivityClass, Span, resolve
from .detector import Finding, SensitivityDetector, request_texts
from .health import ClinicalContext
from .lexicon import Lexicon
from .pseudonymize import Pseudonymizer, PseudonymSession, StreamRestorer
from .registry import BUILTIN_DETECTORS, DetectorRegistry, default_detectors

__all__ = [
    "BUILTIN_DETECTORS",
    "CLASSES",
    "ClinicalContext",
    "Detector",
    "DetectorRegistry",
    "Finding",
    "Lexicon",
    "PseudonymSession",
    "Pseudonymizer",
    "SensitivityClass",
    "SensitivityDetector",
    "Span",
    "StreamRestorer",
    "default_detectors",
    "request_texts",
    "resolve",
]
