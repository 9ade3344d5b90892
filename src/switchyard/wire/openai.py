"""The OpenAI wire format, both ways: what clients send and receive (chat completions, embeddings,
errors) and what switchyard reads back from OpenAI-compatible upstreams. Stream chunks are in
:mod:`switchyard.wire.openai_stream`.

The internal request *is* the OpenAI chat request, so the request needs no translation either way:
clients' bodies are validated into it (:func:`parse_chat_request`, with errors that name the field), and
an upstream's body is its dump (``Provider.upstream_body``). Responses and usage are translated both
ways: :func:`render_response` / :func:`parse_completion`, :func:`usage_json` / :func:`parse_usage`,
:func:`render_embeddings` / :func:`parse_embeddings`.
"""

from __future__ import annotations

import base64
import struct
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import InvalidRequest, SwitchyardError, UpstreamProtocolError
from ..types import JSON, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, ToolCall, Usage

M = TypeVar("M", bound=BaseModel)

# ------------------------------------------------------------------------------ requests: client -> internal


def validation_error(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first pydantic error as an InvalidRequest whose ``param`` is the field path."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    param = f"{prefix}{loc}" if loc else None
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return InvalidRequest(f"missing required field '{param}'", param=param)
    return InvalidRequest(f"invalid value for '{param}': {msg}", param=param)


def parse(model: type[M], body: Any) -> M:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        return model.model_validate(body, strict=True)
    except ValidationError as exc:
        raise validation_error(exc) from None


def parse_chat_request(body: Any) -> ChatRequest:
    return parse(ChatRequest, body)


def parse_embedding_request(body: Any) -> EmbeddingRequest:
    req = parse(EmbeddingRequest, body)
    if not isinstance(req.input, str) and any(not isinstance(x, str) for x in req.input):
        raise InvalidRequest("token-id inputs are not supported: send strings", param="input")
    if not isinstance(req.input, str) and not req.input:
        raise InvalidRequest("'input' must not be empty", param="input")
    return req


# ---------------------------------------------------------------------------------------------------- usage


def usage_json(usage: Usage) -> JSON:
    """Internal usage -> OpenAI ``usage`` (cached tokens in ``prompt_tokens_details`` when there are some)."""
    out: JSON = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return out


def parse_usage(raw: Any) -> Usage | None:
    """An upstream's ``usage`` -> internal usage; ``None`` when there is none."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )


# ------------------------------------------------------------------------------------------------ responses


def render_response(resp: ChatResponse, model: str, request_id: str) -> JSON:
    message: JSON = {"role": "assistant", "content": resp.content}
    if resp.tool_calls:
        message["tool_calls"] = [c.model_dump() for c in resp.tool_calls]
    out: JSON = {
        "id": request_id,
        "object": "chat.completion",
        "created": resp.created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": resp.finish_reason, "logprobs": resp.logprobs}],
    }
    if resp.usage is not None:
        out["usage"] = usage_json(resp.usage)
    return out


def parse_completion(data: Any, model: str) -> ChatResponse:
    """An upstream's chat completion JSON -> internal response (``model`` when it names none).
    Raises :class:`UpstreamProtocolError`."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        calls = message.get("tool_calls")
        return ChatResponse(
            id=str(data.get("id") or ""),
            model=str(data.get("model") or model),
            created=int(data.get("created") or 0),
            content=message.get("content"),
            finish_reason=str(choice.get("finish_reason") or "stop"),
            tool_calls=[ToolCall.model_validate(c) for c in calls] if calls else None,
            usage=parse_usage(data.get("usage")),
            logprobs=logprobs if isinstance(logprobs := choice.get("logprobs"), dict) else None,
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise UpstreamProtocolError(f"upstream response has an unexpected shape: {exc}") from exc


# ----------------------------------------------------------------------------------------------- embeddings


def base64_floats(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32 values (what the openai SDK asks for by default)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def render_embeddings(vectors: list[list[float]], model: str, usage: Usage, encoding: str | None = None) -> JSON:
    encode: Any = base64_floats if encoding == "base64" else (lambda v: v)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }


def parse_embeddings(data: Any, model: str) -> EmbeddingResponse:
    """An upstream's embeddings JSON -> internal vectors (in input order) and usage, reported as ``model``.
    Raises :class:`UpstreamProtocolError`."""
    try:
        rows = sorted(data["data"], key=lambda r: r.get("index", 0))
        vectors = [list(map(float, r["embedding"])) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamProtocolError(f"upstream embeddings have an unexpected shape: {exc}") from exc
    return EmbeddingResponse(vectors, model, parse_usage(data.get("usage")) or Usage())


# --------------------------------------------------------------------------------------------------- errors


def error_body(err: SwitchyardError) -> JSON:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}
