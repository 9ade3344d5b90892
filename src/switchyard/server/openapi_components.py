"""The fixed parts of the OpenAPI document: error bodies (OpenAI- and Anthropic-shaped) and the schemas of
the answers the routes send. ``server/openapi.py`` assembles the document per gateway around them."""

from __future__ import annotations

from typing import Any

JSONSchema = dict[str, Any]

ERROR: JSONSchema = {
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
    "required": ["error"],
}
ANTHROPIC_ERROR: JSONSchema = {
    "type": "object",
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            "required": ["type", "message"],
        },
    },
    "required": ["type", "error"],
}
OBJ: JSONSchema = {"type": "object"}
STRINGS: JSONSchema = {"type": "array", "items": {"type": "string"}}
ACL: JSONSchema = {
    "type": "object",
    "properties": {"read": STRINGS, "write": STRINGS, "admin": STRINGS},
    "required": ["read", "write", "admin"],
}


def list_of(items: JSONSchema, more: JSONSchema | None = None, *required: str) -> JSONSchema:
    """A ``{"object": "list", "data": [...]}`` answer, with ``more`` properties (``required`` among them)."""
    return {
        "type": "object",
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": items}, **(more or {})},
        "required": ["object", "data", *required],
    }


RESPONSES: dict[str, JSONSchema] = {
    "ChatCompletion": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": OBJ},
            "usage": OBJ,
        },
        "required": ["id", "object", "model", "choices"],
    },
    "Response": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "response"},
            "created_at": {"type": "integer"},
            "status": {"enum": ["completed", "incomplete", "failed", "in_progress"]},
            "model": {"type": "string"},
            "output": {"type": "array", "items": OBJ},
            "usage": {"anyOf": [OBJ, {"type": "null"}]},
            "store": {"type": "boolean", "description": "whether the gateway kept the response"},
        },
        "required": ["id", "object", "created_at", "status", "model", "output"],
    },
    "AnthropicMessageResponse": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "model": {"type": "string"},
            "content": {"type": "array", "items": OBJ},
        },
        "required": ["id", "type", "role", "model", "content"],
    },
    "EmbeddingList": list_of(OBJ, {"model": {"type": "string"}, "usage": OBJ}, "model"),
    "ModelList": list_of(
        {
            "type": "object",
            "properties": {"id": {"type": "string"}, "object": {"const": "model"}, "owned_by": {"type": "string"}},
            "required": ["id", "object", "owned_by"],
        }
    ),
    "Key": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "team": {"type": "string"},
            "name": {"type": "string"},
            "prefix": {"type": "string"},
            "roles": STRINGS,
            "created": {"type": "integer"},
            "revoked": {"type": "boolean"},
            "secret": {"type": "string", "description": "only in the answer to the key's creation"},
        },
        "required": ["id", "team", "name", "prefix", "roles", "created", "revoked"],
    },
    "KeyList": {
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}},
        "required": ["data"],
    },
    "Revoked": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "revoked": {"const": True}},
        "required": ["id", "revoked"],
    },
    "UsageList": {
        "type": "object",
        "properties": {"data": {"type": "array", "items": OBJ}},
        "required": ["data"],
    },
    "Collection": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "object": {"const": "rag.collection"},
            "sensitivity": {"enum": ["public", "internal", "confidential"]},
            "acl": ACL,
            "embed_model": {"type": "string"},
            "documents": {"type": "integer"},
            "chunks": {"type": "integer"},
            "created": {"type": "integer"},
        },
        "required": ["name", "object", "sensitivity", "acl", "embed_model", "documents", "chunks", "created"],
    },
    "CollectionList": list_of({"$ref": "#/components/schemas/Collection"}),
    "Deleted": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "object": {"type": "string"}, "deleted": {"const": True}},
        "required": ["id", "object", "deleted"],
    },
    "IngestReport": {
        "type": "object",
        "properties": {"object": {"const": "rag.ingest"}, "added": {"type": "integer"}},
        "required": ["object"],
    },
    "DocumentList": list_of(OBJ),
    "Erasure": {
        "type": "object",
        "properties": {
            "object": {"const": "rag.erasure"},
            "subject": {"type": "string"},
            "erased": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "required": ["object", "subject", "erased"],
    },
    "HitList": list_of(
        {
            "type": "object",
            "properties": {"id": {"type": "string"}, "score": {"type": "number"}, "text": {"type": "string"}},
            "required": ["id", "score", "text"],
        }
    ),
    "Health": {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]},
}
