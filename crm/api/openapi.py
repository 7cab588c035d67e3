"""The API's routes and their OpenAPI 3.1 description, from one registry.

Each view is declared with ``@operation(...)``: its method and path, the pydantic models
of its query, body and answers, and the errors it may give. ``crm.api.views`` registers
the routes from ``OPERATIONS`` and ``spec()`` writes the description from the same
entries, with the JSON schemas pydantic makes of the models the views validate with.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from crm.api.schemas import MAX_ID, Error
from crm.auth.permissions import PUBLIC

REF = "#/components/schemas/{model}"
BINARY = "binary"  # a response that is a file, not JSON
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "The request could not be read (malformed JSON, a bad header).",
    401: "No valid bearer token.",
    403: "Your role or scope does not allow this.",
    404: "No such record, or not one you may see.",
    409: "Not possible in the record's current state, or a stale version.",
    413: "The request or a file is too large.",
    415: "The body is not JSON.",
    422: "Some fields are not valid: see error.fields.",
    429: "Too many requests.",
    503: "Not available just now (a PDF that could not be produced): try again shortly.",
}


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # a Flask rule under the blueprint's prefix, e.g. /demands/<int:demand_id>
    view: Callable
    summary: str
    tag: str
    responses: dict[int, Any]  # status -> pydantic model, a raw schema, BINARY or None
    body: type[BaseModel] | dict | None = None  # a dict: a multipart body's schema
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    headers: tuple[dict, ...] = field(default=())
    description: str = ""

    @property
    def endpoint(self) -> str:
        return self.view.__name__

    @property
    def secured(self) -> bool:
        return getattr(self.view, "allowed_roles", None) != PUBLIC

    @property
    def path(self) -> str:
        return _PARAM.sub(lambda m: "{" + m.group(2) + "}", self.rule)


OPERATIONS: list[Operation] = []


def operation(method: str, rule: str, **kwargs) -> Callable:
    """Declare a view of the API; put it above the view's roles decorator."""

    def decorator(view: Callable) -> Callable:
        OPERATIONS.append(Operation(method=method, rule=rule, view=view, **kwargs))
        return view

    return decorator


# -- the description --------------------------------------------------------------------


def _models() -> list[tuple[type[BaseModel], str]]:
    found: list[tuple[type[BaseModel], str]] = [(Error, "serialization")]
    for op in OPERATIONS:
        if isinstance(op.body, type):
            found.append((op.body, "validation"))
        if op.query is not None:
            found.append((op.query, "validation"))
        for answer in op.responses.values():
            if isinstance(answer, type):
                found.append((answer, "serialization"))
    return list(dict.fromkeys(found))


def _path_parameters(op: Operation) -> list[dict]:
    params = []
    for converter, name in _PARAM.findall(op.rule):
        schema = (
            {"type": "integer", "minimum": 1, "maximum": MAX_ID}
            if converter == "int"
            else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(op: Operation, components: dict, refs: dict) -> list[dict]:
    if op.query is None:
        return []
    name = refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1]
    schema = components[name]
    required = set(schema.get("required", ()))
    params = []
    for prop, sub in schema.get("properties", {}).items():
        # A query string has no null: a parameter left out is the "none" of an optional one.
        variants = [v for v in sub.get("anyOf", [sub]) if v.get("type") != "null"]
        param_schema = {k: v for k, v in variants[0].items() if k != "title"}
        if sub.get("default") is not None:
            param_schema["default"] = sub["default"]
        param = {"name": prop, "in": "query", "required": prop in required, "schema": param_schema}
        if "description" in sub:
            param["description"] = sub["description"]
        params.append(param)
    return params


def _error_statuses(op: Operation) -> set[int]:
    statuses = {400, *op.errors}
    if op.secured:
        statuses |= {401, 403}
    if "<" in op.rule:
        statuses.add(404)
    if op.body is not None or op.query is not None:
        statuses.add(422)
    if isinstance(op.body, type):
        statuses |= {413, 415}
    return statuses


def _operation(op: Operation, components: dict, refs: dict) -> dict:
    error = refs[(Error, "serialization")]
    doc: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_parameters(op)
        + _query_parameters(op, components, refs)
        + list(op.headers),
        "responses": {},
    }
    if op.description:
        doc["description"] = op.description
    if op.secured:
        doc["security"] = [{"bearer": []}]
    if isinstance(op.body, type):
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    elif isinstance(op.body, dict):
        doc["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": op.body}},
        }
    for status, answer in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": _REASONS.get(status, "OK")}
        if answer is BINARY:
            entry["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
        elif isinstance(answer, dict):
            entry["content"] = {"application/json": {"schema": answer}}
        elif answer is not None:
            entry["content"] = {"application/json": {"schema": refs[(answer, "serialization")]}}
        doc["responses"][str(status)] = entry
    for status in sorted(_error_statuses(op)):
        doc["responses"][str(status)] = {
            "description": _REASONS[status],
            "content": {"application/json": {"schema": error}},
        }
    return doc


@cache
def spec() -> dict:
    """The OpenAPI 3.1 document; built once per process (the routes do not change)."""
    refs, defs = models_json_schema(_models(), ref_template=REF)
    components = defs.get("$defs", {})
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components, refs)
    for op in OPERATIONS:  # query models became parameters above
        if op.query is not None:
            components.pop(refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1], None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Enterprise service-package CRM API",
            "version": "1.0.0",
            "description": (
                "Demands, firms and the firm's own requests, with the web pages' rules and "
                "scopes. Authenticate with POST /auth/token, then send "
                "Authorization: Bearer <token>. Errors are "
                '{"error": {"code", "message", "fields"}}.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
