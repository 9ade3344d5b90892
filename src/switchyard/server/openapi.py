"""The OpenAPI document served at /openapi.json, generated from the request models."""

from __future__ import annotations

from typing import Any

from ..types import ChatRequest, EmbeddingRequest

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
            "required": ["message", "type"],
        }
    },
}


def _op(summary: str, body_ref: str | None, tag: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "OK"},
            **{
                code: {
                    "description": desc,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for code, desc in {
                    "400": "malformed JSON or an invalid field (named in `param`)",
                    "401": "missing or invalid API key",
                    "403": "not allowed",
                    "404": "unknown model",
                    "413": "request body over the configured limit",
                    "429": "rate limited",
                    "502": "upstream failure",
                    "503": "no deployment available",
                    "504": "upstream timeout",
                }.items()
            },
        },
    }
    if body_ref:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body_ref}"}}},
        }
    return op


def openapi_schema() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": _ERROR}
    from .rag_routes import AddBody, CreateBody, EraseBody, PatchBody, SearchBody

    for model in (ChatRequest, EmbeddingRequest, CreateBody, PatchBody, AddBody, EraseBody, SearchBody):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["AnthropicMessagesRequest"] = {
        "type": "object",
        "description": "Anthropic Messages API request (https://docs.anthropic.com/en/api/messages)",
        "required": ["model", "max_tokens", "messages"],
        "additionalProperties": True,
    }
    open_get = {"summary": "", "responses": {"200": {"description": "OK"}}, "security": []}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "switchyard",
            "version": "0.1.0",
            "description": "OpenAI- and Anthropic-compatible LLM gateway",
        },
        "paths": {
            "/v1/chat/completions": {"post": _op("Create a chat completion (OpenAI format)", "ChatRequest", "openai")},
            "/v1/embeddings": {"post": _op("Create embeddings (OpenAI format)", "EmbeddingRequest", "openai")},
            "/v1/models": {"get": _op("List models and routes", None, "openai")},
            "/v1/messages": {
                "post": {
                    **_op("Create a message (Anthropic format)", "AnthropicMessagesRequest", "anthropic"),
                    "security": [{"apiKey": []}, {"bearer": []}],
                }
            },
            "/v1/admin/keys": {
                "post": _op("Create an API key (shown once; needs keys:create)", None, "admin"),
                "get": _op("List API keys (needs keys:read)", None, "admin"),
            },
            "/v1/admin/keys/{key_id}": {"delete": _op("Revoke an API key (needs keys:revoke)", None, "admin")},
            "/v1/admin/usage": {"get": _op("Spend per day, team and model (needs usage:read)", None, "admin")},
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (the metrics token or a key allowed metrics:read; anyone if metrics_public)",
                    "tags": ["observability"],
                    "security": [{"bearer": []}, {}],
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format 0.0.4",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": {"description": "no token or key, and not on loopback"},
                        "403": {"description": "the key's roles do not allow metrics:read"},
                    },
                }
            },
            "/v1/rag/collections": {
                "post": _op("Create a RAG collection (ACL, sensitivity)", "CreateBody", "rag"),
                "get": _op("List the collections the caller's team may read", None, "rag"),
            },
            "/v1/rag/collections/{name}": {
                "get": _op("Show a collection", None, "rag"),
                "patch": _op("Change a collection's ACL or sensitivity (admin)", "PatchBody", "rag"),
                "delete": _op("Delete a collection and everything in it (admin)", None, "rag"),
            },
            "/v1/rag/collections/{name}/documents": {
                "post": _op("Add or replace documents (write)", "AddBody", "rag"),
                "get": _op("List documents", None, "rag"),
            },
            "/v1/rag/collections/{name}/documents/{doc_id}": {
                "delete": _op("Delete one document: text, chunks, vectors, cached answers", None, "rag")
            },
            "/v1/rag/erase": {"post": _op("Erase a data subject's documents everywhere", "EraseBody", "rag")},
            "/v1/rag/search": {"post": _op("Search collections (scores per stage, provenance)", "SearchBody", "rag")},
            "/healthz": {"get": {**open_get, "summary": "Liveness"}},
            "/readyz": {"get": {**open_get, "summary": "Readiness"}},
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }
