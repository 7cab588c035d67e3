"""Firms and the firm's self-service through the API: the list and profile in scope, phones
masked unless the caller may see them, profile changes and service requests."""

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.portal.models import ProfileChange, ServiceRequest
from tests.test_api_world import Caller, build_world, get_token


@pytest.fixture
def world(make_street, make_department, make_firm, make_user, make_contact, assign):
    return build_world(make_street, make_department, make_firm, make_user, make_contact, assign)


@pytest.fixture
def as_(client, world):
    def _caller(role: str) -> Caller:
        user = world["users"].get(role) or world["others"][role.removeprefix("other-")]
        return Caller(client, get_token(client, user.username))

    return _caller


def test_the_firm_list_is_scoped_filtered_and_paginated(world, as_, make_firm):
    for n in range(12):
        make_firm(name=f"华阳精密制造{n}", street=world["home"], tier="sector" if n < 4 else None)
    office = as_("office")
    everything = office.get("/firms?per_page=5&page=2").get_json()
    assert everything["total"] == 14 and len(everything["items"]) == 5
    home = office.get(f"/firms?street_id={world['home'].id}&tier=sector").get_json()
    assert home["total"] == 4
    assert {f["street"]["id"] for f in home["items"]} == {world["home"].id}
    searched = office.get("/firms?q=精密制造1").get_json()
    assert {f["name"] for f in searched["items"]} == {
        "华阳精密制造1",
        "华阳精密制造10",
        "华阳精密制造11",
    }
    street = as_("street").get("/firms?per_page=100").get_json()
    assert world["other"].name not in {f["name"] for f in street["items"]}
    assert street["total"] == 13
    firm = as_("firm").get("/firms").get_json()
    assert [f["id"] for f in firm["items"]] == [world["firm"].id]
    assert office.get("/firms?tier=gold").status_code == 422


@pytest.mark.parametrize(
    ("role", "full"),
    [
        ("office", True),
        ("commissioner", True),
        ("firm", True),
        ("leader", False),
        ("department", False),
    ],
)
def test_the_profile_shows_the_service_centre_commissioners_and_masked_phones(
    world, as_, role, full
):
    body = as_(role).get(f"/firms/{world['firm'].id}").get_json()
    assert body["name"] == world["firm"].name
    assert body["street"]["service_centre_phone"] == world["home"].service_centre_phone
    (commissioner,) = body["commissioners"]
    assert commissioner["role"] == "primary" and commissioner["phone"] == "13600001111"
    (contact,) = body["contacts"]
    assert contact["phone"] == ("13812345678" if full else "138****5678")
    assert contact["phone_masked"] is not full


def test_a_firm_proposes_profile_changes_and_lists_them(world, as_):
    firm_id = world["firm"].id
    response = as_("firm").post(
        f"/firms/{firm_id}/changes",
        json={"changes": {"employees": 80, "high_tech": True, "registered_capital": "500"}},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "pending"
    assert body["changes"]["employees"] == {"from": None, "to": 80}
    assert body["changes"]["registered_capital"]["to"] == "500.00"
    listed = as_("commissioner").get(f"/firms/{firm_id}/changes").get_json()
    assert listed["total"] == 2 and listed["items"][0]["id"] == body["id"]
    same = as_("firm").post(f"/firms/{firm_id}/changes", json={"changes": {"high_tech": False}})
    assert same.status_code == 422
    assert same.get_json()["error"]["code"] == "no_change"
    unknown = as_("firm").post(f"/firms/{firm_id}/changes", json={"changes": {"tier": "district"}})
    assert unknown.status_code == 422
    assert "changes.tier" in unknown.get_json()["error"]["fields"]
    bad_code = as_("firm").post(
        f"/firms/{firm_id}/changes", json={"changes": {"industry_code": "99"}}
    )
    assert bad_code.status_code == 422 and "industry_code" in bad_code.get_json()["error"]["fields"]
    assert (
        db.session.scalar(select(ProfileChange).order_by(ProfileChange.id.desc())).id == body["id"]
    )


def test_a_firm_asks_for_a_service_and_calls_it_off(world, as_):
    firm = as_("firm")
    response = firm.post(
        "/service-requests",
        json={
            "kind": "onsite",
            "details": "请专员上门指导高企申报",
            "preferred_slot": "morning",
            "preferred_date": "2099-05-06",
            "address": "华阳路112号3楼",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/service-requests/{body['id']}"
    assert body["state"] == "requested" and body["kind"] == "onsite"
    assert body["commissioner"]["id"] == world["users"]["commissioner"].id
    assert body["address"] == "华阳路112号3楼"
    past = firm.post(
        "/service-requests",
        json={"kind": "appointment", "details": "x", "preferred_date": "2000-01-01"},
    )
    assert past.status_code == 422 and "preferred_date" in past.get_json()["error"]["fields"]
    mine = firm.get("/service-requests?state=requested").get_json()
    assert mine["total"] == 2
    cancelled = firm.post(
        f"/service-requests/{body['id']}/cancel",
        json={"reason": "已自行办理", "version": body["version"]},
    )
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = firm.post(f"/service-requests/{body['id']}/cancel", json={"reason": "再次取消"})
    assert again.status_code == 409
    assert db.session.get(ServiceRequest, body["id"]).cancel_reason == "已自行办理"


def test_staff_see_the_service_requests_in_their_care_and_may_cancel(world, as_):
    street = as_("street").get("/service-requests").get_json()
    assert {r["firm"]["id"] for r in street["items"]} == {world["firm"].id}
    everything = as_("office").get("/service-requests").get_json()
    assert everything["total"] == 2
    request_id = world["ids"]["service_request_id"]
    response = as_("commissioner").post(
        f"/service-requests/{request_id}/cancel", json={"reason": "企业电话告知不需要"}
    )
    assert response.status_code == 200
    stale = as_("office").post(
        f"/service-requests/{world['other_ids']['service_request_id']}/cancel",
        json={"reason": "x", "version": 99},
    )
    assert stale.status_code == 409
