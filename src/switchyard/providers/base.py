"""The Provider seam: one deployment of one model, reached however its kind requires."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import Deployment, ModelConfig
from ..errors import InvalidRequest
from ..types import ChatRequest, ChatResponse, Chunk, EmbeddingResponse
from .transport import HttpTransport


@dataclass
class ProviderContext:
    """What providers share: one pooled HTTP client, the environment (for API keys), and a cache
    of loaded local models so two entries naming the same file share one copy in memory."""

    http: HttpTransport
    environ: Mapping[str, str]
    local_models: dict[str, Any] = field(default_factory=dict)


class Provider(abc.ABC):
    """Serves one deployment of one configured model.

    Implementations translate their foreign errors into :mod:`switchyard.errors` types here, at the
    edge: ``UpstreamStatusError`` for error statuses, ``UpstreamConnectError`` / ``UpstreamTimeout`` for
    transport failures, ``UpstreamProtocolError`` for output that cannot be parsed. Timeouts for the
    first token and the whole call are enforced by the dispatcher; providers apply the connect timeout.
    """

    kind: ClassVar[str]
    # Whether cancelling ``chat`` stops the work (and the bill). An HTTP call is abandoned with its
    # connection; an in-process call that runs to its end anyway is charged in full when its caller leaves.
    chat_cancellable: ClassVar[bool] = True

    def __init__(self, model: ModelConfig, deployment: Deployment, ctx: ProviderContext) -> None:
        self.model = model
        self.deployment = deployment
        self.ctx = ctx

    @property
    def label(self) -> str:
        """Identifies the deployment in the ledger and in circuit-breaker state."""
        where = self.deployment.base_url or self.deployment.path or "-"
        return f"{self.kind}:{where}"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        raise InvalidRequest(f"model {self.model.name!r} does not serve chat completions", param="model")

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        raise InvalidRequest(f"model {self.model.name!r} does not serve chat completions", param="model")

    async def embed(self, inputs: list[str]) -> EmbeddingResponse:
        raise InvalidRequest(f"model {self.model.name!r} does not serve embeddings", param="model")

    def count_tokens(self, text: str) -> int | None:
        """Count tokens the way this model does, for usage the upstream did not report.
        ``None`` means "no tokenizer of its own": the caller falls back to a generic one."""
        return None

    async def warm(self) -> None:  # noqa: B027 - optional hook
        """Load what the first request would otherwise wait for (local model weights). The gateway calls
        this in the background at start-up; it must be safe to run concurrently with requests."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the provider holds (loaded models, sockets)."""

    def api_key(self) -> str | None:
        env = self.deployment.api_key_env
        return self.ctx.environ.get(env) if env else None

    def upstream_body(self, request: ChatRequest) -> dict[str, Any]:
        """The request as an OpenAI-format body for this model: known fields, the model's configured
        ``params``, and unknown client fields when the model's ``unknown_params`` is ``pass``."""
        body = request.model_dump(exclude_none=True, exclude=set(request.model_extra or ()))
        if self.model.unknown_params == "pass":
            for k, v in request.extra_fields().items():
                body.setdefault(k, v)
        for k, v in self.model.params.items():
            body.setdefault(k, v)
        body["model"] = self.model.upstream_name
        return body
