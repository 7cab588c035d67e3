"""Insecure direct object references: for every API route that takes an id, a user scoped
to firm A (its firm user, its street's centre and commissioner, the department handling its
demand, its leader) asking for firm B's objects gets 403 or 404, none of B's data, and
changes nothing of B's."""

import io

import pytest
from sqlalchemy import func, select

from crm.demands.models import Attachment, Demand, DemandEvent
from crm.extensions import db
from crm.portal.models import ProfileChange, ServiceRequest
from tests.test_api_world import Caller, build_world, get_token

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SCOPED = ("firm", "street", "commissioner", "department", "leader")


@pytest.fixture
def world(make_street, make_department, make_firm, make_user, make_contact, assign):
    return build_world(make_street, make_department, make_firm, make_user, make_contact, assign)


def _attempts(ids: dict) -> dict[str, tuple]:
    """Every route with an id, aimed at ``ids``: name -> (method, path, keyword arguments)."""
    demand = f"/demands/{ids['demand_id']}"
    service = f"/service-requests/{ids['service_request_id']}"
    firm = f"/firms/{ids['firm_id']}"
    return {
        "demand": ("GET", demand, {}),
        "events": ("GET", f"{demand}/events", {}),
        "action note": ("POST", f"{demand}/actions", {"json": {"action": "note", "message": "x"}}),
        "action withdraw": ("POST", f"{demand}/actions", {"json": {"action": "withdraw"}}),
        "action message": (
            "POST",
            f"{demand}/actions",
            {"json": {"action": "message", "message": "x"}},
        ),
        "action progress": (
            "POST",
            f"{demand}/actions",
            {"json": {"action": "progress", "task_id": ids["task_id"], "message": "x"}},
        ),
        "attachment": ("GET", f"{demand}/attachments/{ids['attachment_id']}", {}),
        "attach": (
            "POST",
            f"{demand}/attachments",
            {
                "data": {"files": [(io.BytesIO(PDF), "a.pdf")]},
                "content_type": "multipart/form-data",
            },
        ),
        "firm": ("GET", firm, {}),
        "changes": ("GET", f"{firm}/changes", {}),
        "propose": ("POST", f"{firm}/changes", {"json": {"changes": {"employees": 9}}}),
        "service": ("GET", service, {}),
        "cancel": ("POST", f"{service}/cancel", {"json": {"reason": "x"}}),
    }


def _footprint(ids: dict) -> tuple:
    """What a successful attempt on B's objects would have changed."""
    db.session.expire_all()
    return (
        db.session.get(Demand, ids["demand_id"]).version,
        db.session.scalar(select(func.count()).select_from(DemandEvent)),
        db.session.scalar(select(func.count()).select_from(Attachment)),
        db.session.scalar(select(func.count()).select_from(ProfileChange)),
        db.session.get(ServiceRequest, ids["service_request_id"]).state,
    )


@pytest.mark.parametrize("role", SCOPED)
def test_firm_a_users_get_nothing_of_firm_b(client, world, role):
    caller = Caller(client, get_token(client, world["users"][role].username))
    before = _footprint(world["other_ids"])
    for name, (method, path, kwargs) in _attempts(world["other_ids"]).items():
        response = caller._open(method, path, **kwargs)
        assert response.status_code in (403, 404), f"{role} {name}: {response.status_code}"
        if role == "firm" and name != "attach":  # attaching is refused to its role, any id
            # A firm's user is not even told that the record exists.
            assert response.status_code == 404, name
        body = response.get_data(as_text=True)
        for secret in world["other_secrets"]:
            assert secret not in body, f"{role} {name} shows {secret}"
        assert "error" in response.get_json()
    assert _footprint(world["other_ids"]) == before


@pytest.mark.parametrize("role", ("street", "department"))
def test_another_street_or_an_uninvolved_department_gets_nothing_of_firm_a(client, world, role):
    """B's street centre and B's department, asking for A's objects."""
    caller = Caller(client, get_token(client, world["others"][role].username))
    before = _footprint(world["ids"])
    for name, (method, path, kwargs) in _attempts(world["ids"]).items():
        response = caller._open(method, path, **kwargs)
        assert response.status_code in (403, 404), f"{role} {name}: {response.status_code}"
        assert world["firm"].name not in response.get_data(as_text=True)
    assert _footprint(world["ids"]) == before


def test_ids_of_b_inside_a_route_of_a_reach_nothing(client, world):
    """A's own demand with B's task, extension request or attachment id."""
    ids, other = world["ids"], world["other_ids"]
    office = Caller(client, get_token(client, "office"))
    department = Caller(client, get_token(client, "department"))
    firm = Caller(client, get_token(client, "firm"))
    before = _footprint(other)
    demand = f"/demands/{ids['demand_id']}"

    response = department.post(
        f"{demand}/actions",
        json={"action": "progress", "task_id": other["task_id"], "message": "越权"},
    )
    assert response.status_code == 422
    assert "task_id" in response.get_json()["error"]["fields"]

    response = office.post(
        f"{demand}/actions",
        json={"action": "decide_extension", "request_id": other["request_id"], "approve": True},
    )
    assert response.status_code == 422
    assert "request_id" in response.get_json()["error"]["fields"]

    response = firm.get(f"{demand}/attachments/{other['attachment_id']}")
    assert response.status_code == 404
    assert _footprint(other) == before


def test_the_firm_cannot_merge_or_list_another_firms_demands(client, world):
    firm = Caller(client, get_token(client, "firm"))
    listed = firm.get(f"/demands?firm_id={world['other_ids']['firm_id']}").get_json()
    assert listed["total"] == 0 and listed["items"] == []
    firms = firm.get("/firms").get_json()
    assert [f["id"] for f in firms["items"]] == [world["ids"]["firm_id"]]
    services = firm.get("/service-requests").get_json()
    assert {s["firm"]["id"] for s in services["items"]} == {world["ids"]["firm_id"]}
