"""Every API route × every role → the status each must get, as an API says it: 401 without
a token, 403 for a role that may not, and the error shape for every refusal.

The main permission matrix (tests/test_permission_matrix.py) leaves ``api.*`` endpoints to
this table; ``test_every_api_route_is_classified`` keeps it complete.
"""

import io

import pytest

from crm.auth.models import ROLES
from tests.conftest import PASSWORD
from tests.test_api_world import ANON, EVERYONE, Caller, build_world, get_token

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
VIEWERS = ("office", "street", "commissioner", "department", "leader", "firm")
INTAKE = ("office", "street", "commissioner", "firm")
WRITERS = ("office", "street", "commissioner", "department")
PORTAL = ("office", "street", "commissioner", "firm")
# Packages and matched policies: the firm, and the staff who read policies (not a
# department, which sees a firm's basic profile only).
PACKAGES = ("office", "street", "commissioner", "leader", "firm")
# The figures of DESIGN §9: the office, a street's centre (its street) and a leader (its firms).
FIGURES = ("office", "street", "leader")


def only(*roles, ok=200):
    """``roles`` get ``ok``; other users 403; no token 401."""
    return {**{role: ok if role in roles else 403 for role in ROLES}, ANON: 401}


# (endpoint, method) -> {role: status}. The world's demand is level 3, in progress, its
# task with the department user's department; its firm has a service request and a
# proposed change, both pending.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("api.openapi_json", "GET"): dict.fromkeys(EVERYONE, 200),
    # Each role asks with its own credentials; "anon" with a user that does not exist.
    ("api.token_create", "POST"): {**dict.fromkeys(ROLES, 201), ANON: 401},
    ("api.token_delete", "DELETE"): {**dict.fromkeys(ROLES, 204), ANON: 401},
    ("api.demand_list", "GET"): only(*VIEWERS),
    ("api.demand_create", "POST"): only(*INTAKE, ok=201),
    ("api.demand_detail", "GET"): only(*VIEWERS),
    ("api.demand_events", "GET"): only(*VIEWERS),
    # A note: staff who write on the demand may; the firm, the leader and the admin not.
    ("api.demand_action", "POST"): only(*WRITERS),
    ("api.attachment_upload", "POST"): only(*WRITERS, "firm", ok=201),
    ("api.attachment_download", "GET"): only(*VIEWERS),
    ("api.firm_list", "GET"): only(*VIEWERS),
    # A department sees the firms whose demands it handles; the leader its linked firms.
    ("api.firm_detail", "GET"): only(*VIEWERS),
    ("api.change_list", "GET"): only(*PORTAL),
    ("api.change_create", "POST"): only("firm", ok=201),
    ("api.service_list", "GET"): only(*PORTAL),
    ("api.service_create", "POST"): only("firm", ok=201),
    ("api.service_detail", "GET"): only(*PORTAL),
    ("api.service_cancel", "POST"): only(*PORTAL),
    ("api.firm_packages", "GET"): only(*PACKAGES),
    ("api.firm_package_pdf", "GET"): only(*PACKAGES),
    ("api.firm_policies", "GET"): only(*PACKAGES),
    ("api.stats_demands", "GET"): only(*FIGURES),
    ("api.stats_visits", "GET"): only(*FIGURES),
}


def _request(caller: Caller, endpoint: str, role: str, world) -> object:
    ids = world["ids"]
    demand = f"/demands/{ids['demand_id']}"
    firm = f"/firms/{ids['firm_id']}"
    service = f"/service-requests/{ids['service_request_id']}"
    username = world["usernames"][role] if role != ANON else "nobody"
    demand_body = {"category": "OTHER", "title": "用电增容咨询", "description": "新厂房用电。"}
    if role != "firm":
        demand_body |= {"firm_id": ids["firm_id"], "channel": "hotline"}
    calls = {
        "api.openapi_json": lambda: caller.get("/openapi.json"),
        "api.token_create": lambda: caller.post(
            "/auth/token", json={"username": username, "password": PASSWORD}
        ),
        "api.token_delete": lambda: caller.delete("/auth/token"),
        "api.demand_list": lambda: caller.get("/demands"),
        "api.demand_create": lambda: caller.post("/demands", json=demand_body),
        "api.demand_detail": lambda: caller.get(demand),
        "api.demand_events": lambda: caller.get(f"{demand}/events"),
        "api.demand_action": lambda: caller.post(
            f"{demand}/actions", json={"action": "note", "message": "已电话联系企业。"}
        ),
        "api.attachment_upload": lambda: caller.post(
            f"{demand}/attachments",
            data={"files": [(io.BytesIO(PDF), "说明.pdf")]},
            content_type="multipart/form-data",
        ),
        "api.attachment_download": lambda: caller.get(
            f"{demand}/attachments/{ids['attachment_id']}"
        ),
        "api.firm_list": lambda: caller.get("/firms"),
        "api.firm_detail": lambda: caller.get(firm),
        "api.change_list": lambda: caller.get(f"{firm}/changes"),
        "api.change_create": lambda: caller.post(
            f"{firm}/changes", json={"changes": {"employees": 500}}
        ),
        "api.service_list": lambda: caller.get("/service-requests"),
        "api.service_create": lambda: caller.post(
            "/service-requests", json={"kind": "errand", "details": "代办营业执照变更。"}
        ),
        "api.service_detail": lambda: caller.get(service),
        "api.service_cancel": lambda: caller.post(
            f"{service}/cancel", json={"reason": "已自行办理。"}
        ),
        "api.firm_packages": lambda: caller.get(f"{firm}/packages"),
        "api.firm_package_pdf": lambda: caller.get(f"{firm}/packages/{ids['package_id']}/pdf"),
        "api.firm_policies": lambda: caller.get(f"{firm}/policies?outcome=eligible"),
        "api.stats_demands": lambda: caller.get("/stats/demands?group_by=street"),
        "api.stats_visits": lambda: caller.get("/stats/visits?group_by=month"),
    }
    return calls[endpoint]()


@pytest.fixture
def world(
    built_once,
    make_street,
    make_department,
    make_firm,
    make_user,
    make_contact,
    assign,
    monkeypatch,
):
    """The API world with an issued package: built in the first test, restored in the others."""
    from datetime import date

    from crm.extensions import db
    from crm.policies.packages import issue

    # Who may download a package is the question here, not how it is drawn.
    monkeypatch.setattr("crm.policies.pdf.render_snapshot", lambda snapshot: PDF)

    def build():
        world = build_world(
            make_street, make_department, make_firm, make_user, make_contact, assign
        )
        office = world["users"]["office"]
        package = issue(world["firm"], by=office, on=date(2026, 3, 2), channel="mail")
        db.session.commit()
        return {
            "usernames": {role: user.username for role, user in world["users"].items()},
            "ids": {**world["ids"], "package_id": package.id},
        }

    return built_once("world", build)


def test_every_api_route_is_classified(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert not routes - MATRIX.keys(), f"API routes missing here: {sorted(routes - MATRIX.keys())}"
    assert not MATRIX.keys() - routes, f"entries for no route: {sorted(MATRIX.keys() - routes)}"


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize(("endpoint", "method"), sorted(MATRIX))
def test_api_matrix(client, world, endpoint, method, role):
    token = get_token(client, world["usernames"][role]) if role != ANON else None
    response = _request(Caller(client, token), endpoint, role, world)
    expected = MATRIX[(endpoint, method)][role]
    assert response.status_code == expected, (
        f"{role} {method} {endpoint}: got {response.status_code}, expected {expected}: "
        f"{response.get_data(as_text=True)[:300]}"
    )
    if expected >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["message"]
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Set-Cookie" not in response.headers
