"""The OpenAI wire format at the edge: request validation with errors that name the field, and
rendering of responses, stream chunks and errors."""

from __future__ import annotations

import base64
import struct
import time
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from ..errors import InvalidRequest, SwitchyardError
from ..types import JSON, ChatRequest, ChatResponse, Chunk, EmbeddingRequest, Usage

M = TypeVar("M", bound=BaseModel)


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
        return model.model_validate(body)
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


def usage_json(usage: Usage) -> JSON:
    out: JSON = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return out


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


class ChunkEncoder:
    """Encodes internal chunks as OpenAI ``chat.completion.chunk`` SSE events."""

    def __init__(self, request_id: str, model: str, created: int, include_usage: bool) -> None:
        self._head = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self.include_usage = include_usage
        self._sent_role = False

    def _event(self, payload: JSON) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def encode(self, chunk: Chunk) -> bytes:
        if chunk.content is None and not chunk.tool_calls and chunk.finish_reason is None:
            return b""
        delta: JSON = {}
        if not self._sent_role:
            delta["role"] = "assistant"
            self._sent_role = True
        if chunk.content is not None:
            delta["content"] = chunk.content
        if chunk.tool_calls:
            calls = []
            for tc in chunk.tool_calls:
                call: JSON = {"index": tc.index, "function": {"arguments": tc.arguments}}
                if tc.id is not None:
                    call["id"] = tc.id
                    call["type"] = "function"
                if tc.name is not None:
                    call["function"]["name"] = tc.name
                calls.append(call)
            delta["tool_calls"] = calls
        choice = {"index": 0, "delta": delta, "finish_reason": chunk.finish_reason, "logprobs": None}
        return self._event({**self._head, "choices": [choice]})

    def finish(self, usage: Usage | None) -> bytes:
        out = b""
        if self.include_usage and usage is not None:
            out += self._event({**self._head, "choices": [], "usage": usage_json(usage)})
        return out + b"data: [DONE]\n\n"

    def error(self, err: SwitchyardError) -> bytes:
        return self._event(error_body(err)) + b"data: [DONE]\n\n"

    def extension(self, data: JSON) -> bytes:
        """A chunk without choices (like the usage chunk) carrying a top-level ``switchyard`` block."""
        return self._event({**self._head, "choices": [], "switchyard": data})


class OpenAIChatWire:
    """Chat completions as OpenAI renders them (``chatcmpl-`` ids from the request id)."""

    def render(self, resp: ChatResponse, model: str, request_id: str) -> JSON:
        return render_response(resp, model, "chatcmpl-" + request_id)

    def stream_encoder(self, request: ChatRequest, model: str, request_id: str) -> ChunkEncoder:
        include = bool(request.stream_options and request.stream_options.include_usage)
        return ChunkEncoder("chatcmpl-" + request_id, model, int(time.time()), include)


def error_body(err: SwitchyardError) -> JSON:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def _base64_floats(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32 values (what the openai SDK asks for by default)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def render_embeddings(vectors: list[list[float]], model: str, usage: Usage, encoding: str | None = None) -> JSON:
    encode: Any = _base64_floats if encoding == "base64" else (lambda v: v)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }
