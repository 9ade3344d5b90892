"""The call core: one chat, stream or embedding call through the gateway, below the HTTP layer.

``Gateway.chat``, ``Gateway.stream`` and ``Gateway.embed`` are the doors; this package is what they run.
"""

from .core import CallCore
from .recording import CLIENT_CLOSED, Accounting, RecordedCall
from .results import CallInfo, ChatResult, ChatStream, EmbeddingResult

__all__ = [
    "CLIENT_CLOSED",
    "Accounting",
    "CallCore",
    "CallInfo",
    "ChatResult",
    "ChatStream",
    "EmbeddingResult",
    "RecordedCall",
]
