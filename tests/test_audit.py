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
    return re.findall(
        r'data-label="Action" class="mono small">([^<]+)<', response.get_data(as_text=True)
    )


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
