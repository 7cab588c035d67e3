"""The audit log page: newest first, filters that filter, times in Asia/Shanghai, read-only."""

import re
from datetime import datetime

import pytest

from crm.audit.models import AuditLog
from crm.extensions import db
from tests.conftest import csrf_token

# 2026-03-01 23:30 and 2026-03-02 00:30 in Shanghai: either side of midnight there, but the
# same UTC day.
LATE_EVENING_UTC = datetime(2026, 3, 1, 15, 30)
AFTER_MIDNIGHT_UTC = datetime(2026, 3, 1, 16, 30)


@pytest.fixture
def admin(client, login_as):
    user = login_as("admin")
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/admin/users/")})
    return user


@pytest.fixture
def log(app):
    def _log(action: str, at: datetime, **kw) -> AuditLog:
        entry = AuditLog(action=action, at=at, **{"username": "someone", "ip": "10.0.0.8", **kw})
        db.session.add(entry)
        db.session.commit()
        return entry

    return _log


def rows(client, **filters) -> list[str]:
    """The actions shown, top to bottom, for ``filters``."""
    response = client.get("/admin/audit/", query_string=filters)
    assert response.status_code == 200
    return re.findall(r"data-action>([^<]+)<", response.get_data(as_text=True))


def invalid(client, **filters) -> str:
    response = client.get("/admin/audit/", query_string=filters)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Correct the filters to see records." in page
    return page


def test_newest_first_with_shanghai_time_and_compact_detail(client, admin, log):
    log(
        "demo.first",
        datetime(2026, 1, 5, 2, 0),
        username="wangfang",
        object_type="firms",
        object_id=12,
        detail={"name": "上海长宁示例科技有限公司", "n": 3},
    )
    log("demo.second", AFTER_MIDNIGHT_UTC, username="lihua", result="denied", ip="192.168.1.9")
    page = client.get("/admin/audit/").get_data(as_text=True)
    shown = rows(client)
    assert shown.index("demo.second") < shown.index("demo.first")
    assert "2026-03-02 00:30:00" in page  # 16:30 UTC is half past midnight in Shanghai
    assert "2026-01-05 10:00:00" in page
    assert "192.168.1.9" in page and "wangfang" in page and "firms #12" in page
    assert "{&#34;name&#34;: &#34;上海长宁示例科技有限公司&#34;, &#34;n&#34;: 3}" in page
    assert "Denied" in page


def test_actions_are_shown_by_name_with_their_code(client, admin, log):
    log("firm.update", LATE_EVENING_UTC, object_type="firms", object_id=3)
    log("someone.new_thing", AFTER_MIDNIGHT_UTC)  # no name yet: the code stands in
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert re.search(r'data-label="Action">Firm changed<div[^>]*data-action>firm.update<', page)
    assert re.search(r'data-label="Action">someone.new_thing<div', page)
    assert '<option value="firm.update">Firm changed</option>' in page


def test_every_action_the_code_records_has_a_name():
    """Scan the application for record(...) calls: each literal code needs a name, and each
    computed one is listed here with the codes it can make."""
    import ast
    from pathlib import Path

    import crm
    from crm.admin.services import _UNITS
    from crm.assistance import states
    from crm.audit.labels import ACTIONS
    from crm.policies.bulk_job import SKIP_ACTION

    computed = {
        "f'{kind}.create'": [f"{kind}.create" for kind, _ in _UNITS.values()],
        "f'{kind}.update'": [f"{kind}.update" for kind, _ in _UNITS.values()],
        "f\"{kind}.{('reactivate' if active else 'deactivate')}\"": [
            f"{kind}.{verb}" for kind, _ in _UNITS.values() for verb in ("reactivate", "deactivate")
        ],
        "f'case.{action}'": [
            f"case.{a}"
            for a in (states.ADVANCE, states.BACK, states.LAND, states.DROP, states.REOPEN)
        ],
        "'contact.create' if created else 'contact.update'": ["contact.create", "contact.update"],
        "'profile_change.' + change.state": ["profile_change.approved", "profile_change.rejected"],
        "'signup.' + req.state": ["signup.approved", "signup.rejected"],
        "SKIP_ACTION": [SKIP_ACTION],
        "action": [],  # record_now passing its own argument on
    }
    codes, unknown_shapes = set(), []
    for path in Path(crm.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "func", None)
            name = getattr(name, "id", getattr(name, "attr", None))
            if not isinstance(node, ast.Call) or name not in ("record", "record_now"):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant):
                codes.add(first.value)
            elif ast.unparse(first) in computed:
                codes.update(computed[ast.unparse(first)])
            else:
                unknown_shapes.append(f"{path.name}:{node.lineno} {ast.unparse(first)}")
    assert not unknown_shapes, f"list the codes these calls can make: {unknown_shapes}"
    assert len(codes) > 80
    assert sorted(codes - ACTIONS.keys()) == []
    assert sorted(ACTIONS.keys() - codes) == []  # no name for an action nothing records


def test_filters_filter(client, admin, log):
    log(
        "firm.update",
        datetime(2026, 2, 1, 1, 0),
        username="wangfang",
        object_type="firms",
        object_id=7,
    )
    log(
        "firm.create",
        datetime(2026, 2, 2, 1, 0),
        username="wangfang",
        object_type="firms",
        object_id=8,
    )
    log(
        "user.update",
        datetime(2026, 2, 3, 1, 0),
        username="lihua",
        object_type="users",
        object_id=7,
    )
    log("permission.denied", datetime(2026, 2, 4, 1, 0), username="lihua", result="denied")
    log("login", datetime(2026, 2, 5, 1, 0), username="zhaolei", result="failure")

    assert rows(client, username="wangfang") == ["firm.create", "firm.update"]
    assert rows(client, username="WANG") == ["firm.create", "firm.update"]
    assert rows(client, action="user.update") == ["user.update"]
    assert rows(client, object_type="firms") == ["firm.create", "firm.update"]
    assert rows(client, object_id=7) == ["user.update", "firm.update"]
    assert rows(client, object_type="users", object_id=7) == ["user.update"]
    assert rows(client, result="denied") == ["permission.denied"]
    assert rows(client, result="failure") == ["login"]
    assert rows(client, username="lihua", result="success") == ["user.update"]
    # The action select offers the actions that are present, and only those.
    page = client.get("/admin/audit/").get_data(as_text=True)
    actions = page.split('id="action"')[1].split("</select>")[0]
    assert 'value="firm.create"' in actions and 'value="permission.denied"' in actions
    assert 'value="demand.dispatch"' not in actions


def test_date_range_is_in_shanghai_days(client, admin, log):
    log("evening", LATE_EVENING_UTC)
    log("after_midnight", AFTER_MIDNIGHT_UTC)
    log("next_evening", datetime(2026, 3, 2, 15, 59, 59))  # 23:59:59 on 2 March in Shanghai
    log("third_day", datetime(2026, 3, 2, 16, 0))  # 00:00 on 3 March in Shanghai

    def days(**dates):
        return rows(client, username="someone", **dates)  # not the admin's own login

    assert days(date_from="2026-03-02") == ["third_day", "next_evening", "after_midnight"]
    assert days(date_to="2026-03-01") == ["evening"]
    assert days(date_from="2026-03-02", date_to="2026-03-02") == ["next_evening", "after_midnight"]
    assert days(date_from="2026-03-01", date_to="2026-03-01") == ["evening"]
    assert days(date_from="2026-03-03", date_to="2026-03-03") == ["third_day"]
    assert days(date_from="2026-02-28", date_to="2026-02-28") == []


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"object_id": "abc"}, "object_id"),
        ({"object_id": "99999999999999999999"}, "object_id"),
        ({"object_id": "-3"}, "object_id"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-02-30"}, "date_to"),
        ({"date_from": "0001-01-01"}, "date_from"),
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_to"),
        ({"action": "no.such.action"}, "action"),
        ({"result": "maybe"}, "result"),
    ],
)
def test_bad_filter_values_are_form_errors(client, admin, log, filters, field):
    log("firm.update", LATE_EVENING_UTC)
    page = invalid(client, **filters)
    control = re.search(rf'<(?:input|select)[^>]*\bid="{field}"[^>]*>', page).group(0)
    assert "is-invalid" in control
    assert rows(client, **filters) == []


def test_the_log_cannot_be_changed_through_the_site(app, client, admin, log):
    log("firm.update", LATE_EVENING_UTC)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("audit."):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    token = csrf_token(client, "/admin/audit/")
    assert client.post("/admin/audit/", data={"csrf_token": token}).status_code == 405
    assert client.delete("/admin/audit/").status_code == 405


@pytest.mark.parametrize("role", ["office", "street", "department", "leader"])
def test_only_admins_read_the_log(client, login_as, role):
    login_as(role)
    assert client.get("/admin/audit/").status_code == 403


def test_page_runs_a_fixed_number_of_queries(client, admin, log, count_queries):
    def statements():
        with count_queries() as queries:
            assert client.get("/admin/audit/").status_code == 200
        return len(queries)

    log("a.one", LATE_EVENING_UTC, object_type="firms", object_id=1)
    few = statements()
    for n in range(60):
        log(f"a.{n % 4}", LATE_EVENING_UTC, object_type="users", object_id=n + 1)
    assert statements() == few
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert 'class="pagination' in page
