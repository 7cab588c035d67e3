"""Every route × every role → the status each must get.

The table below is the specification. A route in ``app.url_map`` that is missing from it
fails ``test_every_route_is_classified``: a new page cannot ship without someone deciding
who may open it.
"""

import pytest
from sqlalchemy import select

from crm.demands.models import DemandCategory, Notification
from crm.extensions import db
from tests import (
    matrix_bulk,
    matrix_bulletins,
    matrix_cases,
    matrix_myday,
    matrix_packages,
    matrix_policies,
    matrix_portal_packages,
    matrix_prospects,
    matrix_stats,
    matrix_visits,
)
from tests.conftest import csrf_token, login
from tests.matrix_roles import ANON, EVERYONE, only, same

AREAS = (
    matrix_visits,
    matrix_cases,
    matrix_prospects,
    matrix_myday,
    matrix_policies,
    matrix_packages,
    matrix_bulk,
    matrix_portal_packages,
    matrix_stats,
    matrix_bulletins,
)

VIEWERS = ("office", "street", "commissioner", "leader")
EDITORS = ("office", "street", "commissioner")
DISPATCHERS = ("office", "street")
HANDLERS = ("street", "commissioner", "department")
DEMAND_STAFF = ("office", "street", "commissioner", "department")
DEMAND_VIEWERS = (*DEMAND_STAFF, "leader", "firm")

# (endpoint, method) -> {role: expected status}. POSTs send an empty form with a valid
# CSRF token: allowed roles get the form back with errors (200/422) or a redirect.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("static", "GET"): same(200, anon=200),
    ("health.healthz", "GET"): same(200, anon=200),
    ("auth.login", "GET"): same(302, anon=200),
    ("auth.login", "POST"): same(302, anon=200),
    ("auth.logout", "POST"): same(302),
    ("auth.change_password", "GET"): same(200),
    ("auth.change_password", "POST"): same(200),
    ("home.index", "GET"): {**same(200), "commissioner": 302, "firm": 302},
    ("home.set_language", "POST"): same(302, anon=302),
    ("firms.index", "GET"): only(*VIEWERS),
    ("firms.mine", "GET"): only("commissioner"),
    ("firms.new", "GET"): only(*EDITORS),
    ("firms.new", "POST"): only(*EDITORS),
    # A department sees the profile of the firms whose demands it handles.
    ("firms.detail", "GET"): only(*VIEWERS, "firm", "department"),
    ("firms.edit", "GET"): only(*EDITORS),
    # Fields missing from a post keep their stored values (WTForms): an empty post saves nothing.
    ("firms.edit", "POST"): only(*EDITORS, ok=302),
    ("firms.contact_new", "GET"): only(*EDITORS),
    ("firms.contact_new", "POST"): only(*EDITORS),
    ("firms.contact_edit", "GET"): only(*EDITORS),
    ("firms.contact_edit", "POST"): only(*EDITORS, ok=302),
    ("firms.contact_delete", "POST"): only(*EDITORS, ok=302),
    # The leader may open the firm but sees phone numbers masked, so revealing is refused.
    ("firms.contact_phone", "POST"): only("office", "street", "commissioner", "firm"),
    ("firms.assign", "POST"): only("office", "street", ok=422),
    ("firms.reassign", "GET"): only("office", "street"),
    ("firms.reassign", "POST"): only("office", "street"),
    # Import is the office's and the streets'; export follows the list's viewers and scope.
    ("firms_import.upload", "GET"): only("office", "street"),
    ("firms_import.upload", "POST"): only("office", "street", ok=422),
    ("firms_import.template", "GET"): only("office", "street"),
    ("firms_import.preview", "GET"): only("office", "street", ok=302),  # unknown upload
    ("firms_import.confirm", "POST"): only("office", "street", ok=302),
    ("firms_export.export", "GET"): only(*VIEWERS),
    # Demands. The world's demand is level 3, in progress, dispatched to the department
    # user's department, with a pending extension. Empty posts are refused as forms (422).
    ("demands.index", "GET"): only("office", "street", "commissioner", "department", "leader"),
    ("demands.new", "GET"): only(*EDITORS),
    ("demands.new", "POST"): only(*EDITORS, ok=422),
    ("demands.detail", "GET"): only(*DEMAND_VIEWERS),
    ("demands.attachment", "GET"): only(*DEMAND_VIEWERS),
    ("demands.attach", "POST"): only(*DEMAND_STAFF, ok=422),
    ("demands.accept", "POST"): only(*DISPATCHERS, ok=422),
    ("demands.reject", "POST"): only(*DISPATCHERS, ok=422),
    ("demands.merge", "POST"): only(*DISPATCHERS, ok=422),
    ("demands.dispatch", "POST"): only(*DISPATCHERS, ok=422),
    ("demands.withdraw", "POST"): only("firm", ok=422),
    ("demands.rate", "POST"): only("firm", ok=422),
    ("demands.accept_task", "POST"): only(*HANDLERS, ok=422),
    ("demands.return_task", "POST"): only(*HANDLERS, ok=422),
    ("demands.progress", "POST"): only(*HANDLERS, ok=422),
    ("demands.request_extension", "POST"): only(*HANDLERS, ok=422),
    ("demands.resolve_task", "POST"): only(*HANDLERS, ok=422),
    ("demands.decide_extension", "POST"): only("office", ok=422),
    ("demands.pause", "POST"): only(*DEMAND_STAFF, ok=422),
    ("demands.resume", "POST"): only(*DEMAND_STAFF, ok=422),
    ("demands.follow_up", "POST"): only(*EDITORS, ok=422),
    ("demands.note", "POST"): only(*DEMAND_STAFF, ok=422),
    ("demands.extensions", "GET"): only("office"),
    ("tasks.index", "GET"): only(*HANDLERS),
    ("ledger.index", "GET"): only("office", "street", "commissioner", "department", "leader"),
    ("ledger.export", "GET"): only("office", "street", "commissioner", "department", "leader"),
    # Time limits: the office, and the admin who configures the system (DESIGN §2).
    ("categories.index", "GET"): only("office", "admin"),
    ("categories.new", "GET"): only("office", "admin"),
    ("categories.new", "POST"): only("office", "admin", ok=422),
    ("categories.edit", "GET"): only("office", "admin"),
    ("categories.edit", "POST"): only("office", "admin", ok=422),
    # Everyone has notifications; the world's one belongs to the office user.
    ("notifications.index", "GET"): same(200),
    ("notifications.read_all", "POST"): same(302),
    ("notifications.open", "GET"): {**same(404), "office": 302},
    # The firm's portal: the firm's own users alone. Empty posts are refused as forms (422).
    ("portal.index", "GET"): only("firm"),
    ("portal.demands", "GET"): only("firm"),
    ("portal.demand_new", "GET"): only("firm"),
    ("portal.demand_new", "POST"): only("firm", ok=422),
    ("portal.demand", "GET"): only("firm"),
    ("portal.message", "POST"): only("firm", ok=422),
    ("portal.withdraw", "POST"): only("firm", ok=422),
    ("portal.rate", "POST"): only("firm", ok=422),
    ("portal.attachment", "GET"): only("firm"),
    ("portal.services", "GET"): only("firm"),
    ("portal.service_new", "GET"): only("firm"),
    ("portal.service_new", "POST"): only("firm", ok=422),
    ("portal.service", "GET"): only("firm"),
    ("portal.service_cancel", "POST"): only("firm", ok=422),
    ("portal.profile", "GET"): only("firm"),
    ("portal.profile", "POST"): only("firm", ok=422),  # the firm's name is required
    # Asking for an account is for people without one; the signed-in go to their start
    # page. The world's invitation token ("A" * 32) is unknown: 404.
    ("signup.request", "GET"): same(302, anon=200),
    ("signup.request", "POST"): same(302, anon=422),
    ("signup.invitation", "GET"): same(302, anon=404),
    ("signup.invitation", "POST"): same(302, anon=404),
    # Staff answer the portal: the office, and a street's centre and commissioners for its
    # firms. Approving needs no field, so an empty post approves (the world's commissioner
    # is the firm's primary commissioner); a refusal needs its reason.
    ("service_requests.index", "GET"): only(*EDITORS),
    ("service_requests.detail", "GET"): only(*EDITORS),
    ("service_requests.schedule", "POST"): only(*EDITORS, ok=422),
    ("service_requests.complete", "POST"): only(*EDITORS, ok=422),
    ("service_requests.cancel", "POST"): only(*EDITORS, ok=422),
    ("profile_changes.index", "GET"): only(*EDITORS),
    ("profile_changes.detail", "GET"): only(*EDITORS),
    ("profile_changes.approve", "POST"): only(*EDITORS, ok=302),
    ("profile_changes.reject", "POST"): only(*EDITORS, ok=422),
    ("signups.index", "GET"): only(*EDITORS),
    ("signups.detail", "GET"): only(*EDITORS),
    ("signups.approve", "POST"): only(*EDITORS, ok=302),
    ("signups.reject", "POST"): only(*EDITORS, ok=422),
    ("invitations.index", "GET"): only(*EDITORS),
    ("invitations.new", "GET"): only(*EDITORS),
    ("invitations.new", "POST"): only(*EDITORS, ok=422),
    ("invitations.revoke", "POST"): only(*EDITORS, ok=302),
    # Administration: the admin alone.
    ("admin.users", "GET"): only("admin"),
    ("admin.user_new", "GET"): only("admin"),
    ("admin.user_new", "POST"): only("admin"),
    ("admin.user_edit", "GET"): only("admin"),
    ("admin.user_edit", "POST"): only("admin", ok=302),
    ("admin.user_password", "GET"): only("admin"),
    ("admin.user_password", "POST"): only("admin"),
    ("admin.user_disable", "POST"): only("admin", ok=302),
    ("admin.user_enable", "POST"): only("admin", ok=302),
    ("admin.user_unlock", "POST"): only("admin", ok=302),
    ("admin.streets", "GET"): only("admin"),
    ("admin.street_new", "GET"): only("admin"),
    ("admin.street_new", "POST"): only("admin"),
    ("admin.street_edit", "GET"): only("admin"),
    ("admin.street_edit", "POST"): only("admin", ok=302),
    ("admin.street_deactivate", "POST"): only("admin", ok=302),
    ("admin.street_reactivate", "POST"): only("admin", ok=302),
    ("admin.departments", "GET"): only("admin"),
    ("admin.department_new", "GET"): only("admin"),
    ("admin.department_new", "POST"): only("admin"),
    ("admin.department_edit", "GET"): only("admin"),
    ("admin.department_edit", "POST"): only("admin", ok=302),
    ("admin.department_deactivate", "POST"): only("admin", ok=302),
    ("admin.department_reactivate", "POST"): only("admin", ok=302),
    ("audit.index", "GET"): only("admin"),
    # The working-day calendar: an empty upload is refused with the form (422); an empty
    # delete names no year and deletes nothing.
    ("workcal.index", "GET"): only("admin"),
    ("workcal.upload", "POST"): only("admin", ok=422),
    ("workcal.year", "GET"): only("admin"),
    ("workcal.delete", "POST"): only("admin", ok=302),
    ("workcal.example", "GET"): only("admin"),
}
# Visits, cadence, my day, assistance cases and prospects keep their rows beside their
# world objects, in tests/matrix_*.py.
for _area in AREAS:
    MATRIX.update(_area.ROWS)


@pytest.fixture
def world(built_once, make_street, make_department, make_firm, make_user, make_contact, assign):
    """One home street with a firm every role is linked to, and another street's firm.

    Built in the first test and restored in the others (``built_once``).
    """
    return built_once(
        "world",
        lambda: _build_world(
            make_street, make_department, make_firm, make_user, make_contact, assign
        ),
    )


def _build_world(make_street, make_department, make_firm, make_user, make_contact, assign):
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    leader = make_user("leader", username="leader")
    firm = make_firm(name="上海华阳示例科技有限公司", street=home, leader_id=leader.id)
    other = make_firm(name="上海新泾另一家贸易有限公司", street=away)
    users = {
        "admin": make_user("admin", username="admin"),
        "office": make_user("office", username="office"),
        "street": make_user("street", username="street", street=home),
        "commissioner": make_user("commissioner", username="commissioner", street=home),
        "department": make_user("department", username="department"),
        "leader": leader,
        "firm": make_user("firm", username="firm", firm=firm),
    }
    assign(firm, users["commissioner"], "primary")
    contact = make_contact(firm, phone="13812345678")
    other_contact = make_contact(other, name="李娜", phone="13998765432")
    target = make_user("office", username="target")
    department = make_department()
    demand = _demand_in_progress(firm, users["office"], users["department"])
    other_demand = _demand_in_progress(other, users["office"], make_user("department"))
    # Asking for the extension told the office: the world's notification.
    note = db.session.scalar(
        select(Notification).where(Notification.user_id == users["office"].id).limit(1)
    )
    portal = _portal_objects(firm, users["firm"], users["office"], "home")
    other_portal = _portal_objects(other, make_user("firm", firm=other), users["office"], "away")
    home_dept, away_dept = users["department"].department, make_department(name="区发改委")
    areas, other_areas = {}, {}
    for area in AREAS:
        areas.update(area.objects(firm, users, home_dept))
        other_areas.update(area.objects(other, users, away_dept))
        db.session.commit()
    return {
        "usernames": {role: user.username for role, user in users.items()},
        "ids": {
            "firm_id": firm.id,
            "contact_id": contact.id,
            "user_id": target.id,
            "street_id": away.id,
            "department_id": department.id,
            **demand,
            "notification_id": note.id,
            "category_id": 1,  # the migration's first category
            **portal,
            **areas,
        },
        "other_ids": {
            "firm_id": other.id,
            "contact_id": other_contact.id,
            **other_demand,
            **other_portal,
            **other_areas,
        },
        "other_name": other.name,
    }


def _demand_in_progress(firm, office, handler) -> dict:
    """A level-3 demand of ``firm``, dispatched to ``handler``'s department, its task
    accepted, an extension waiting, and one attachment: every demand route has a target."""
    from crm.demands import attachments, services

    demand, _ = services.submit_demand(
        firm=firm,
        category=db.session.scalar(select(DemandCategory).where(DemandCategory.code == "OTHER")),
        title="场地补贴咨询",
        description="企业咨询办公场地补贴。",
        urgency="normal",
        channel="hotline",
        actor=office,
    )
    services.accept_demand(demand, actor=office)
    (task,) = services.dispatch_demand(
        demand, actor=office, level=3, lead=services.Unit(department=handler.department)
    )
    services.accept_task(task, actor=handler)
    request = services.request_extension(task, actor=handler, days=2, reason="等待企业补充材料")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    (attachment,) = attachments.store(
        demand, [attachments.Upload("材料.pdf", "application/pdf", pdf)], actor=office
    )
    db.session.commit()
    return {
        "demand_id": demand.id,
        "task_id": task.id,
        "request_id": request.id,
        "attachment_id": attachment.id,
    }


def _portal_objects(firm, firm_user, inviter, tag: str) -> dict:
    """One of each thing a firm asks for outside the demand loop, pending review."""
    from crm.portal import services

    request = services.request_service(
        firm=firm, actor=firm_user, kind="appointment", details="预约办理人才落户咨询"
    )
    change = services.propose_change(firm, actor=firm_user, values={"employees": 321})
    signup = services.submit_signup(
        uscc=firm.uscc,
        person_name="王芳",
        phone="13700001111",
        username=f"signup-{tag}",
        password="Signup-Pass-42",
    )
    invitation, _ = services.invite(firm, actor=inviter, person_name="赵磊")
    db.session.commit()
    return {
        "service_request_id": request.id,
        "change_id": change.id,
        "signup_id": signup.id,
        "invitation_id": invitation.id,
    }


def _url(app, endpoint: str, ids: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {"filename": "css/app.css", "lang": "en", "token": "A" * 32}
    values.update({k: v for k, v in ids.items() if k in rule.arguments})
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **{k: values[k] for k in rule.arguments})


def _request(client, method: str, url: str, role: str):
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_token(client, "/login" if role == ANON else "/account/password")
        response = client.post(url, data={"csrf_token": token})
    response.get_data()  # buffer the body, then release the file a static response holds
    response.close()
    return response


def test_every_route_is_classified(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    # The JSON API has its own matrix, with statuses of an API: tests/test_api_permissions.py.
    routes = {(endpoint, method) for endpoint, method in routes if not endpoint.startswith("api.")}
    unclassified = routes - MATRIX.keys()
    assert not unclassified, f"routes missing from the permission matrix: {sorted(unclassified)}"
    stale = MATRIX.keys() - routes
    assert not stale, f"matrix entries for routes that no longer exist: {sorted(stale)}"


def test_every_view_declares_its_roles(app):
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "allowed_roles")
    ]
    assert not undeclared, f"views without roles_required/login_required/public: {undeclared}"


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize(("endpoint", "method"), sorted(MATRIX))
def test_matrix(app, client, world, endpoint, method, role):
    if role != ANON:
        assert login(client, world["usernames"][role]).status_code == 302
    response = _request(client, method, _url(app, endpoint, world["ids"]), role)
    expected = MATRIX[(endpoint, method)][role]
    assert response.status_code == expected, (
        f"{role} {method} {endpoint}: got {response.status_code}, expected {expected}"
    )
    if expected == 302 and role == ANON and endpoint not in ("home.set_language",):
        assert "/login" in response.headers["Location"]


_OBJECT_ROUTES = sorted(
    (endpoint, method)
    for endpoint, method in MATRIX
    if endpoint.startswith(
        (
            "firms.",
            "demands.",
            "portal.",
            "service_requests.",
            "profile_changes.",
            "signups.",
            "invitations.",
        )
    )
    and endpoint
    not in (
        "firms.index",
        "firms.mine",
        "firms.new",
        "firms.reassign",
        "demands.index",
        "demands.new",
        "demands.extensions",
        # The firm's own pages, with no object in the address.
        "portal.index",
        "portal.demands",
        "portal.demand_new",
        "portal.services",
        "portal.service_new",
        "portal.profile",
        "service_requests.index",
        "profile_changes.index",
        "signups.index",
        "invitations.index",
    )
) + sorted(
    (endpoint, method)
    for area in AREAS
    for endpoint, method in area.ROWS
    if endpoint in area.OBJECT_ROUTES
)


@pytest.mark.parametrize(("endpoint", "method"), _OBJECT_ROUTES)
@pytest.mark.parametrize("role", ["firm", "street", "commissioner", "leader", "department"])
def test_other_firms_objects_are_refused(app, client, world, endpoint, method, role):
    """A user scoped to one firm, street or department gets 403/404 for another's objects,
    and none of their data."""
    login(client, world["usernames"][role])
    response = _request(client, method, _url(app, endpoint, world["other_ids"]), role)
    assert response.status_code in (403, 404)
    body = response.get_data(as_text=True)
    assert world["other_name"] not in body
    assert "13998765432" not in body
