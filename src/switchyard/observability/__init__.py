"""What a running gateway tells the outside about itself: Prometheus metrics, OpenTelemetry spans, and
the bounded vocabulary (reason codes, label values) both use."""

from ..reasons import REASON_CODES, reason_codes
from .metrics import GatewayMetrics, LabelBounds
from .tracing import Tracing, tracing_from_env

__all__ = ["REASON_CODES", "GatewayMetrics", "LabelBounds", "Tracing", "reason_codes", "tracing_from_env"]
