"""Schemathesis against the API's own OpenAPI description, in process: requests generated
from the schema (and deliberately wrong ones) as a firm's user and as the office must never
get a 5xx, and every answer must match the status codes, content types and schemas the
description promises.

The normal suite runs a few examples per operation; ``make fuzz`` runs many more
(``FUZZ_EXAMPLES``). Path ids are pointed at records that exist half the time, so actions
and reads reach real demands, firms and requests, not only 404s.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.api.openapi import spec
from crm.api.views import bp  # noqa: F401  (its modules fill the description)
from crm.extensions import db
from tests.test_api_world import build_world, get_token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# The coverage phase (boundary values and every kind of wrong input, for every field of
# every action) takes minutes: `make fuzz` runs it, the normal suite does not.
THOROUGH = "FUZZ_EXAMPLES" in os.environ
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fresh_contexts(app):
    """Each request in its own app context and database session, as in production."""

    def wsgi(environ, start_response):
        db.session.commit()
        with app.app_context():
            answer = app(environ, start_response)
            try:
                body = list(answer)
            finally:
                answer.close()  # a file download holds its file open until closed
        db.session.expire_all()
        return body

    return wsgi


@pytest.fixture
def world(make_street, make_department, make_firm, make_user, make_contact, assign, make_demand):
    world = build_world(make_street, make_department, make_firm, make_user, make_contact, assign)
    # A few more demands in several states, so actions find something to act on.
    for n in range(3):
        make_demand(world["firm"], title=f"待受理诉求{n}")
    return world


# The description is the same for every app (crm.api.openapi builds it from the code);
# each test sends its cases to its own app, over its own database.
schema = schemathesis.openapi.from_dict(
    spec(),
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": THOROUGH}}}),
)


def _existing(world, name: str, value: int) -> int:
    """Half the time, an id that exists (in the caller's scope or not)."""
    ids = [w[name] for w in (world["ids"], world["other_ids"]) if name in w]
    if not ids or value % 2:
        return value
    return ids[value % len(ids)]


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _call(case, client, world, role: str) -> None:
    path_ids = {"attachment_id": "attachment_id", "request_id": "service_request_id"}
    for key, value in list((case.path_parameters or {}).items()):
        if isinstance(value, int):
            case.path_parameters[key] = _existing(world, path_ids.get(key, key), value)
    # A fresh token for every call: DELETE /auth/token revokes the one it is sent with.
    token = get_token(client, world["users"][role].username)
    case.call_and_validate(
        app=_fresh_contexts(client.application),
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
    )


@schema.parametrize()
@FUZZ
def test_as_a_firms_user(case, client, world):
    _call(case, client, world, "firm")


@schema.parametrize()
@FUZZ
def test_as_the_office(case, client, world):
    _call(case, client, world, "office")
