"""The OpenAPI document served at /openapi.json, built per gateway from its config.

Request schemas come from the pydantic models the server validates with (``model_json_schema()``), then
refined where the server checks more than the model says (token-id embedding inputs are refused, a text
part needs its text, Anthropic content may be a plain string). The ``model`` fields name the gateway's
configured models and routes, so a client (or a fuzzer) can reach a call. Every route of the app and each
of its methods is here, with its path and query parameters and the statuses it answers with.
"""

from __future__ import annotations

import copy

from pydantic import BaseModel

from ..config import GatewayConfig
from ..types import ChatRequest, EmbeddingRequest
from ..wire.anthropic_models import MessagesRequest
from ..wire.responses_models import ResponsesRequest
from .admin_routes import MAX_USAGE_DAYS
from .openapi_components import ANTHROPIC_ERROR, ERROR, OBJ, RESPONSES, JSONSchema

_STATUS = {
    "400": "malformed JSON or an invalid field (named in `param`)",
    "401": "missing or invalid API key",
    "403": "the key's team or roles do not allow this",
    "404": "no such model, key, collection, document or stored response",
    "409": "a collection of that name exists already",
    "413": "request body over the configured limit",
    "429": "rate limited, or a budget is spent",
    "502": "upstream failure",
    "503": "no deployment available, or the store is unavailable",
    "504": "upstream timeout",
}
# one server-sent event: OpenAI sends data lines (a chunk's JSON, then [DONE]); Anthropic names its events
_EVENT: JSONSchema = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"}},
}
_CALL = ("400", "401", "403", "404", "413", "429", "502", "503", "504")
_AUTH = ("401", "403")
_BODY = ("400", "413")
_KEYS: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def _ref(name: str) -> JSONSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JSONSchema) -> JSONSchema:
    return {"application/json": {"schema": schema}}


def _op(
    summary: str,
    tag: str,
    ok: tuple[str, str],
    errors: tuple[str, ...],
    *,
    body: str | None = None,
    params: tuple[JSONSchema, ...] = (),
    error_schema: str = "Error",
    security: list[dict[str, list[str]]] | None = None,
    streams: bool = False,
) -> JSONSchema:
    status, schema = ok
    content = _json(_ref(schema))
    if streams:
        content["text/event-stream"] = {"schema": _EVENT}
    op: JSONSchema = {
        "summary": summary,
        "tags": [tag],
        "security": _KEYS if security is None else security,
        "responses": {
            status: {
                "description": "OK (with stream: true, server-sent events)" if streams else "OK",
                "content": content,
            },
            **{code: {"description": _STATUS[code], "content": _json(_ref(error_schema))} for code in errors},
        },
    }
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"required": True, "content": _json(_ref(body))}
    return op


def _path(name: str, schema: JSONSchema, description: str) -> JSONSchema:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query(name: str, schema: JSONSchema, description: str) -> JSONSchema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _names(values: list[str]) -> JSONSchema:
    """A model field: one of the configured names (an unknown one is a 404)."""
    if values:
        return {"type": "string", "enum": values, "description": "a model or route of this gateway"}
    return {"type": "string", "minLength": 1, "description": "a model or route of this gateway (none configured)"}


def _from_model(schemas: dict[str, JSONSchema], model: type[BaseModel], name: str | None = None) -> JSONSchema:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[name or model.__name__] = schema
    return schema


_TEXT_PART: JSONSchema = {
    "type": "object",
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    "required": ["type", "text"],
}
_OTHER_PART: JSONSchema = {
    "type": "object",
    "properties": {"type": {"type": "string", "not": {"const": "text"}}},
    "required": ["type"],
}


def _refine_openai(schemas: dict[str, JSONSchema], chat: list[str], embed: list[str]) -> None:
    """Say what the server checks beyond the pydantic models' own schemas."""
    schemas["ChatRequest"]["properties"]["model"] = _names(chat)
    # every content part names its type; a text part's text is a string (Message._parts_are_well_formed)
    schemas["Message"]["properties"]["content"] = {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"anyOf": [_TEXT_PART, _OTHER_PART]}},
            {"type": "null"},
        ]
    }
    emb = schemas["EmbeddingRequest"]["properties"]
    emb["model"] = _names(embed)
    # token-id inputs are refused (parse_embedding_request): strings only
    emb["input"] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}


def _string_or(array: JSONSchema) -> JSONSchema:
    return {"anyOf": [{"type": "string"}, array]}


def _refine_responses(schemas: dict[str, JSONSchema], chat: list[str], stored: bool) -> None:
    """A string is shorthand for one user message (``input``) or one text part (``content``, ``output``);
    what the models check in validators, said in the schema; without the response store, nothing to continue."""
    req = schemas["ResponsesRequest"]["properties"]
    req["model"] = _names(chat)
    if not stored:
        req["previous_response_id"] = {"type": "null", "description": "this gateway keeps no responses"}
    req["input"] = _string_or(req["input"])
    for name, field in (("MessageItem", "content"), ("FunctionCallOutputItem", "output")):
        props = schemas[name]["properties"]
        props[field] = _string_or(props[field])
    # InputImage._by_url: an image by URL, never by file id
    image = schemas["InputImage"]["properties"]
    image["image_url"] = {"type": "string", "minLength": 1}
    image["file_id"] = {"type": "null"}
    schemas["InputImage"]["required"] = ["type", "image_url"]
    # wire.responses.chat_request: tool_choice "required" needs tools
    schemas["ResponsesRequest"]["if"] = {
        "properties": {"tool_choice": {"const": "required"}},
        "required": ["tool_choice"],
    }
    schemas["ResponsesRequest"]["then"] = {
        "properties": {"tools": {"type": "array", "minItems": 1}},
        "required": ["tools"],
    }
    # _nothing_included, _metadata_limits
    req["include"]["anyOf"][0]["maxItems"] = 0
    req["metadata"]["anyOf"][0] |= {
        "maxProperties": 16,
        "propertyNames": {"maxLength": 64},
        "additionalProperties": {"type": "string", "maxLength": 512},
    }


# Which blocks each role may send (``wire.anthropic._translate_message``; thinking blocks are dropped).
_ROLE_BLOCKS = {
    "user": ("text", "image", "tool_result", "thinking", "redacted_thinking"),
    "assistant": ("text", "tool_use", "thinking", "redacted_thinking"),
}


def _anthropic_message(generated: JSONSchema) -> JSONSchema:
    """One shape per role, each listing the blocks that role may send (a string is one text block)."""
    mapping = generated["properties"]["content"]["items"]["discriminator"]["mapping"]
    shapes = []
    for role, kinds in _ROLE_BLOCKS.items():
        refs = sorted({mapping[k] for k in kinds})
        blocks = {"type": "array", "items": {"oneOf": [{"$ref": r} for r in refs]}}
        shapes.append(
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {"role": {"const": role}, "content": {"anyOf": [{"type": "string"}, blocks]}},
                "required": ["role", "content"],
            }
        )
    return {"title": "AnthropicMessage", "oneOf": shapes}


def _refine_anthropic(schemas: dict[str, JSONSchema], chat: list[str]) -> None:
    """A plain string is shorthand for one text block, in ``content`` and ``system``."""
    req = schemas["AnthropicMessagesRequest"]["properties"]
    req["model"] = _names(chat)
    system = req["system"]["anyOf"]
    req["system"]["anyOf"] = [{"type": "string"}, *system]
    schemas["AnthropicMessage"] = _anthropic_message(schemas["AnthropicMessage"])
    result = schemas["ToolResultBlock"]["properties"]
    result["content"] = {"anyOf": [{"type": "string"}, result["content"]]}
    # ImageSource._complete: base64 needs media_type and data, url needs url
    text: JSONSchema = {"type": "string", "minLength": 1}
    schemas["ImageSource"] = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"type": {"const": "base64"}, "media_type": text, "data": text},
                "required": ["type", "media_type", "data"],
            },
            {"type": "object", "properties": {"type": {"const": "url"}, "url": text}, "required": ["type", "url"]},
        ]
    }
    # AnthropicToolChoice._name_for_tool: a "tool" choice names the tool
    choice = schemas["AnthropicToolChoice"]
    choice["if"] = {"properties": {"type": {"const": "tool"}}, "required": ["type"]}
    choice["then"] = {"properties": {"name": text}, "required": ["name"]}


def _key_body(roles: list[str]) -> JSONSchema:
    return {
        "type": "object",
        "properties": {
            "team": {"type": "string", "minLength": 1, "description": "the team the key bills to"},
            "name": {"description": "a label (any JSON value, stored as its string)"},
            "roles": {
                "type": "array",
                "items": {"type": "string", "enum": roles} if roles else {"type": "string"},
                **({} if roles else {"maxItems": 0}),
                "description": "roles of access.roles; a stored key may grant only what it holds",
            },
        },
        "required": ["team"],
    }


def openapi_schema(
    config: GatewayConfig | None = None, *, metrics_public: bool = False, responses_store: bool = False
) -> JSONSchema:
    """The document for a gateway of ``config`` (none: no models named) and its server options."""
    from .rag_routes import AddBody, CreateBody, EraseBody, PatchBody, SearchBody

    cfg = config or GatewayConfig()
    chat = [m.name for m in cfg.models if m.kind == "chat"] + [r.name for r in cfg.routes]
    embed = [m.name for m in cfg.models if m.kind == "embedding"]

    schemas: dict[str, JSONSchema] = {"Error": ERROR, "AnthropicError": ANTHROPIC_ERROR}
    schemas.update(copy.deepcopy(RESPONSES))
    for model in (ChatRequest, EmbeddingRequest, CreateBody, PatchBody, AddBody, EraseBody, SearchBody):
        _from_model(schemas, model)
    _from_model(schemas, MessagesRequest, "AnthropicMessagesRequest")
    _from_model(schemas, ResponsesRequest)
    _refine_openai(schemas, chat, embed)
    _refine_responses(schemas, chat, responses_store)
    _refine_anthropic(schemas, chat)
    schemas["CreateKey"] = _key_body(sorted(cfg.access.roles))

    name = _path("name", schemas["CreateBody"]["properties"]["name"], "the collection's name")
    doc_id = _path("doc_id", {"type": "string", "minLength": 1, "maxLength": 512}, "the document's id")
    key_id = _path("key_id", {"type": "string", "minLength": 1}, "the key's id")
    response_id = _path("response_id", {"type": "string", "minLength": 1}, "the response's id (resp_...)")
    limit = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "documents to list")
    days = _query(
        "days", {"type": "integer", "minimum": 1, "maximum": MAX_USAGE_DAYS, "default": 30}, "days back from now"
    )
    rag_read, rag_body = ("401", "403", "404"), ("400", "401", "403", "404", "413")
    html = {"text/html": {"schema": {"type": "string"}}}
    see_other = {"description": "redirect", "headers": {"location": {"schema": {"type": "string"}}}}
    open_route: list[dict[str, list[str]]] = []

    paths: JSONSchema = {
        "/v1/chat/completions": {
            "post": _op(
                "Create a chat completion (OpenAI format)",
                "openai",
                ("200", "ChatCompletion"),
                _CALL,
                body="ChatRequest",
                streams=True,
            )
        },
        "/v1/embeddings": {
            "post": _op(
                "Create embeddings (OpenAI format)", "openai", ("200", "EmbeddingList"), _CALL, body="EmbeddingRequest"
            )
        },
        "/v1/models": {
            "get": _op("List the models and routes the caller may call", "openai", ("200", "ModelList"), ("401",))
        },
        "/v1/responses": {
            "post": _op(
                "Create a response (OpenAI Responses API: function tools, text.format, stored conversations)",
                "openai",
                ("200", "Response"),
                _CALL,
                body="ResponsesRequest",
                streams=True,
            )
        },
        "/v1/responses/{response_id}": {
            "get": _op(
                "A stored response of the caller's team",
                "openai",
                ("200", "Response"),
                ("400", "401", "404"),
                params=(response_id,),
            ),
            "delete": _op(
                "Delete a stored response of the caller's team",
                "openai",
                ("200", "Deleted"),
                ("401", "404"),
                params=(response_id,),
            ),
        },
        "/v1/messages": {
            "post": _op(
                "Create a message (Anthropic format)",
                "anthropic",
                ("200", "AnthropicMessageResponse"),
                _CALL,
                body="AnthropicMessagesRequest",
                error_schema="AnthropicError",
                streams=True,
                security=[{"apiKey": []}, {"bearer": []}],
            )
        },
        "/v1/admin/keys": {
            "post": _op(
                "Create an API key (shown once; needs keys:create)",
                "admin",
                ("201", "Key"),
                (*_BODY, *_AUTH),
                body="CreateKey",
            ),
            "get": _op("List API keys (needs keys:read)", "admin", ("200", "KeyList"), _AUTH),
        },
        "/v1/admin/keys/{key_id}": {
            "delete": _op(
                "Revoke an API key (needs keys:revoke)", "admin", ("200", "Revoked"), (*_AUTH, "404"), params=(key_id,)
            )
        },
        "/v1/admin/usage": {
            "get": _op(
                "Spend per day, team and model: the caller's team, every team for the admin key (needs usage:read)",
                "admin",
                ("200", "UsageList"),
                ("400", *_AUTH),
                params=(days,),
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (the metrics token, or a key allowed metrics:read)",
                "tags": ["observability"],
                "security": [*_KEYS, {}] if metrics_public else _KEYS,
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": {"description": "no token or key, or an unknown key", "content": _json(_ref("Error"))},
                    "403": {
                        "description": "the key's roles do not allow metrics:read",
                        "content": _json(_ref("Error")),
                    },
                },
            }
        },
        "/v1/rag/collections": {
            "post": _op(
                "Create a RAG collection (ACL, sensitivity)",
                "rag",
                ("201", "Collection"),
                (*_BODY, *_AUTH, "409"),
                body="CreateBody",
            ),
            "get": _op("List the collections the caller's team may read", "rag", ("200", "CollectionList"), ("401",)),
        },
        "/v1/rag/collections/{name}": {
            "get": _op("Show a collection", "rag", ("200", "Collection"), rag_read, params=(name,)),
            "patch": _op(
                "Change a collection's ACL (admin)",
                "rag",
                ("200", "Collection"),
                rag_body,
                body="PatchBody",
                params=(name,),
            ),
            "delete": _op(
                "Delete a collection and everything in it (admin)", "rag", ("200", "Deleted"), rag_read, params=(name,)
            ),
        },
        "/v1/rag/collections/{name}/documents": {
            "post": _op(
                "Add or replace documents (write)",
                "rag",
                ("201", "IngestReport"),
                (*rag_body, "503"),
                body="AddBody",
                params=(name,),
            ),
            "get": _op("List documents", "rag", ("200", "DocumentList"), ("400", *rag_read), params=(name, limit)),
        },
        "/v1/rag/collections/{name}/documents/{doc_id}": {
            "delete": _op(
                "Delete one document: text, chunks, vectors, cached answers",
                "rag",
                ("200", "Deleted"),
                rag_read,
                params=(name, doc_id),
            )
        },
        "/v1/rag/erase": {
            "post": _op(
                "Erase a data subject's documents everywhere", "rag", ("200", "Erasure"), rag_body, body="EraseBody"
            )
        },
        "/v1/rag/search": {
            "post": _op(
                "Search collections (scores per stage, provenance)",
                "rag",
                ("200", "HitList"),
                (*rag_body, "503"),
                body="SearchBody",
            )
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "tags": ["health"],
                "security": open_route,
                "responses": {"200": {"description": "alive", "content": _json(_ref("Health"))}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness",
                "tags": ["health"],
                "security": open_route,
                "responses": {
                    "200": {"description": "ready", "content": _json(_ref("Health"))},
                    "503": {"description": "starting", "content": _json(_ref("Health"))},
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["health"],
                "security": open_route,
                "responses": {"200": {"description": "OpenAPI 3.1", "content": _json(OBJ)}},
            }
        },
        "/": {
            "get": {
                "summary": "The dashboard (a session from /login; else a redirect to it)",
                "tags": ["dashboard"],
                "security": [{"session": []}, {}],
                "parameters": [
                    _query("period", {"type": "string"}, "the period shown: 24h, 7d or 30d (anything else: 30d)")
                ],
                "responses": {"200": {"description": "the dashboard", "content": html}, "303": see_other},
            }
        },
        "/login": {
            "get": {
                "summary": "The dashboard's login page",
                "tags": ["dashboard"],
                "security": open_route,
                "responses": {"200": {"description": "the login form", "content": html}, "303": see_other},
            },
            "post": {
                "summary": "Log in to the dashboard with a key allowed usage:read (same-origin forms only)",
                "tags": ["dashboard"],
                "security": open_route,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}
                        }
                    },
                },
                "responses": {
                    "303": {**see_other, "description": "logged in: to the dashboard"},
                    "401": {"description": "that key cannot open the dashboard", "content": html},
                    "403": {"description": "a form posted from another site", "content": html},
                    "413": {"description": "form over 4 KiB", "content": html},
                },
            },
        },
        "/logout": {
            "post": {
                "summary": "End the dashboard session",
                "tags": ["dashboard"],
                "security": open_route,
                "responses": {"303": {**see_other, "description": "to the login page"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "switchyard",
            "version": "0.1.0",
            "description": "OpenAI- and Anthropic-compatible LLM gateway",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API key as a bearer token"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "an API key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "switchyard_session"},
            },
        },
    }
