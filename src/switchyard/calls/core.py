"""``CallCore``: the gateway's calls — chat, stream, embed — with RAG retrieval in front of a chat that
asks for it. The server, the CLI, eval runs and tests all use these; nothing here knows HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidRequest
from ..rag.serving.chat import RagContext
from ..rag.serving.holder import RagHolder
from ..resolve import Resolver
from ..types import ChatRequest, EmbeddingRequest, Principal
from .budget_guard import BudgetGuard
from .chat import ChatParts, cached_answer, complete, open_stream
from .recording import RecordedCall
from .results import ChatResult, ChatStream, EmbeddingResult
from .shadow import Shadowing


@dataclass(frozen=True)
class CallCore:
    resolver: Resolver
    parts: ChatParts
    rag: RagHolder | None = None
    shadow: Shadowing | None = None  # set when a route shadows a candidate model

    async def chat(
        self, principal: Principal, request: ChatRequest, *, endpoint: str = "chat", eval_run: str | None = None
    ) -> ChatResult:
        """One whole answer. ``request.stream`` is ignored: use ``stream`` for chunks. ``eval_run`` tags the
        ledger record with the eval run the call answers for."""
        prepared = await self._rag(principal, request)
        req, ctx = prepared if prepared is not None else (request, None)
        res = await self.resolver.resolve(principal, req.model, request=req, classes=ctx.classes if ctx else ())
        if ctx is not None and ctx.cached is not None:
            result = cached_answer(self.parts.acct, principal, req, res, ctx.cached, endpoint, eval_run=eval_run)
        else:
            if req.stream:
                req = req.model_copy(update={"stream": False, "stream_options": None})
            result = await complete(self.parts, principal, req, res, endpoint, eval_run=eval_run)
            if self.shadow is not None and (sample := self.shadow.wanted(principal, req, res, eval_run)) is not None:
                self.shadow.start(sample, result.response.content, result.info)
        if ctx is not None:
            result.rag = ctx
            if ctx.cache_key and not ctx.cached and result.response.content and self.rag is not None:
                await self.rag.remember(ctx, result.response.content)
        return result

    async def stream(
        self, principal: Principal, request: ChatRequest, *, endpoint: str = "chat", eval_run: str | None = None
    ) -> ChatStream:
        """An open stream of the answer (see ``ChatStream``)."""
        if not request.stream:
            request = request.model_copy(update={"stream": True})
        prepared = await self._rag(principal, request)
        req, ctx = prepared if prepared is not None else (request, None)
        res = await self.resolver.resolve(principal, req.model, request=req, classes=ctx.classes if ctx else ())
        stream = await open_stream(self.parts, principal, req, res, endpoint, eval_run=eval_run)
        stream.rag = ctx
        if self.shadow is not None and (sample := self.shadow.wanted(principal, req, res, eval_run)) is not None:
            shadowing = self.shadow
            stream.on_complete(lambda s: shadowing.start(sample, s.text, s.info))
        return stream

    async def embed(
        self, principal: Principal, request: EmbeddingRequest, *, endpoint: str = "embeddings"
    ) -> EmbeddingResult:
        """Vectors for the request's inputs; the inputs pass the same policies as a chat (access,
        residency, budgets)."""
        if not isinstance(request.input, str) and any(not isinstance(x, str) for x in request.input):
            raise InvalidRequest("token-id inputs are not supported: send strings", param="input")
        texts = request.texts()
        res = await self.resolver.resolve(principal, request.model, kind="embedding", inputs=texts)
        call = RecordedCall(self.parts.acct, principal, endpoint, res, prompt=lambda: "\n".join(texts))
        guard = BudgetGuard.for_resolution(self.parts.acct.budgets, self.parts.acct.prices, res)
        model, out = await call.dispatch(
            lambda trace: self.parts.dispatcher.embed(texts, res.targets, trace, guard.admit if guard else None)
        )
        usage = out.usage
        if not usage.prompt_tokens:
            usage.prompt_tokens = sum(self.parts.tokens.count(t) for t in texts)
            usage.estimated = True
        vectors = out.vectors
        if request.dimensions is not None:
            vectors = [v[: request.dimensions] for v in vectors]
        call.settle(usage=usage)
        return EmbeddingResult(vectors, usage, call.info(model.name))

    async def _rag(self, principal: Principal, req: ChatRequest) -> tuple[ChatRequest, RagContext] | None:
        if self.rag is None:
            return None
        return await self.rag.augment(principal, req)
