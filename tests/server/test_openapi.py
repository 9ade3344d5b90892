"""The OpenAPI document: built per gateway (its models and routes named), every path parameter declared,
request schemas from the pydantic models the server validates with, and answers that match it."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
import schemathesis

from switchyard.config import GatewayConfig
from switchyard.server.openapi import openapi_schema
from switchyard.server.rag_routes import AddBody
from switchyard.testing import MockUpstream
from switchyard.types import ChatRequest

from ..conftest import ADMIN_KEY, RunningGateway
from .configs import config, openai_model

AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def gw(upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    cfg = config(openai_model("gpt-mock", upstream.url), routes={"fast": ["gpt-mock"]})
    return gateway_factory(cfg)


def test_the_document_names_the_gateways_models_and_routes(gw: RunningGateway) -> None:
    doc = httpx.get(gw.url + "/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["ChatRequest"]["properties"]["model"]["enum"] == ["gpt-mock", "fast"]
    assert schemas["AnthropicMessagesRequest"]["properties"]["model"]["enum"] == ["gpt-mock", "fast"]
    assert set(doc["components"]["securitySchemes"]) >= {"bearer", "apiKey"}
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "an API key",
    }
    # a chat with a model the document names is served
    r = httpx.post(
        gw.v1 + "/chat/completions",
        json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text


def test_every_path_parameter_is_declared_and_every_operation_has_its_statuses() -> None:
    doc = openapi_schema(GatewayConfig())
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
            assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")
            assert op["responses"], (method, path)
            if op.get("security") and {} not in op["security"]:
                assert {"401"} <= set(op["responses"]), (method, path)
    # the whole document loads as OpenAPI 3.1 in schemathesis (which checks every operation's parameters)
    loaded = schemathesis.openapi.from_dict(doc)
    assert sum(1 for _ in loaded.get_all_operations()) == sum(len(item) for item in doc["paths"].values())


def test_request_schemas_come_from_the_validating_models() -> None:
    doc = openapi_schema(GatewayConfig())
    schemas = doc["components"]["schemas"]
    assert set(schemas["ChatRequest"]["properties"]) == set(ChatRequest.model_fields)
    assert set(schemas["DocumentBody"]["properties"]) == set(
        AddBody.model_fields["documents"].annotation.__args__[0].model_fields
    )  # type: ignore[union-attr]
    assert schemas["DocumentBody"]["additionalProperties"] is False
    # token-id embedding inputs are refused by the server, so the document offers strings only
    assert schemas["EmbeddingRequest"]["properties"]["input"]["anyOf"][0] == {"type": "string"}


def test_an_empty_document_text_is_a_400_naming_the_field(gw: RunningGateway) -> None:
    with httpx.Client(base_url=gw.url, headers=AUTH, timeout=60) as c:
        for text, fmt in (("", "txt"), ("  \n\t", "txt"), ("<p> </p>", "html")):
            body = {"documents": [{"id": "d", "text": text, "format": fmt}]}
            r = c.post("/v1/rag/collections/anything/documents", json=body)
            assert r.status_code == 400, (text, r.text)
            assert r.json()["error"]["param"] == "documents.0.text"
        r = c.post("/v1/rag/collections", json={"name": "bad/name"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "name"
        r = c.post("/v1/rag/search", json={"collections": ["x"], "query": " "})
        assert r.status_code == 400 and r.json()["error"]["param"] == "query"


def test_405_names_every_method_of_the_path_in_allow(gw: RunningGateway) -> None:
    r = httpx.put(gw.v1 + "/admin/keys", headers=AUTH)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, POST"
    r = httpx.request("TRACE", gw.v1 + "/rag/collections/x", headers=AUTH)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    r = httpx.put(gw.url + "/healthz")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_every_route_of_the_app_is_documented_with_exactly_its_methods(gw: RunningGateway) -> None:
    from starlette.routing import Route

    from switchyard.server.app import create_app

    paths = httpx.get(gw.url + "/openapi.json").json()["paths"]
    served: dict[str, set[str]] = {}
    for route in create_app(gateway=gw.gateway).routes:
        assert isinstance(route, Route)
        served.setdefault(route.path.replace(":path}", "}"), set()).update(m.lower() for m in route.methods or ())
    assert {p: m - {"head"} for p, m in served.items()} == {p: set(item) for p, item in paths.items()}


def test_the_document_uses_only_json_schema_keywords() -> None:
    """A constraint pydantic cannot place lands in the document under its own name (``ge``, ``le``): JSON
    Schema ignores those, so the document would admit ``n: 0`` while the server refuses it."""
    foreign = {"ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length"}
    found: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            in_properties = path.endswith(".properties")
            for key, value in node.items():
                if key in foreign and not in_properties:
                    found.append(f"{path}.{key}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(openapi_schema(GatewayConfig()), "$")
    assert found == []
