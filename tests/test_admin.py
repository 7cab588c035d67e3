"""Administration pages: accounts, streets and departments, and what each change records."""

import html
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.auth.models import User
from crm.auth.passwords import verify_password
from crm.extensions import db
from crm.org.models import Department, Street
from crm.timeutil import utcnow
from tests.conftest import PASSWORD, csrf_token, login, post_form

NEW_PASSWORD = "Fresh-Start-73"


@pytest.fixture
def admin(client, login_as):
    """An administrator logged in, reading the pages in English."""
    user = login_as("admin")
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/admin/users/")})
    return user


def audit_records(action: str, object_id: int | None = None) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
    if object_id is not None:
        stmt = stmt.where(AuditLog.object_id == object_id)
    return list(db.session.scalars(stmt))


def tag(page: str, field_id: str) -> str:
    """The opening tag of the form control with ``id``."""
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{field_id}"[^>]*>', page)
    assert match, f"no control {field_id}"
    return match.group(0)


def select_html(page: str, field_id: str) -> str:
    """The whole <select> with ``id``, options included."""
    start = page.index(tag(page, field_id))
    return page[start : page.index("</select>", start)]


def field_errors(page: str, field_id: str) -> str:
    """The control's tag and the error messages right after it."""
    start = page.index(tag(page, field_id))
    return html.unescape(page[start : start + 1500].split('<div class="mb-3')[0])


def user_form(**overrides) -> dict:
    data = {
        "username": "zhangwei",
        "display_name": "张伟",
        "role": "office",
        "street_id": "",
        "department_id": "",
        "firm_uscc": "",
        "specialty": "",
        "phone": "13800000001",
        "email": "zhangwei@example.cn",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    return {**data, **overrides}


def edit_form(user: User, **overrides) -> dict:
    data = {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "street_id": str(user.street_id or ""),
        "department_id": str(user.department_id or ""),
        "firm_uscc": user.firm.uscc if user.firm else "",
        "specialty": user.specialty,
        "phone": user.phone,
        "email": user.email,
    }
    return {**data, **overrides}


# -- access ------------------------------------------------------------------------------


def test_every_admin_page_renders_for_admin(
    client, admin, make_user, make_street, make_department, make_firm
):
    street, dept = make_street(), make_department()
    make_firm(street=street)
    other = make_user("commissioner", street=street, specialty="talent")
    make_user("department", department=dept)
    make_user("firm")
    for url in (
        "/admin/users/",
        "/admin/users/new",
        f"/admin/users/{other.id}/edit",
        f"/admin/users/{other.id}/password",
        "/admin/streets/",
        "/admin/streets/new",
        f"/admin/streets/{street.id}/edit",
        "/admin/departments/",
        "/admin/departments/new",
        f"/admin/departments/{dept.id}/edit",
        "/admin/audit/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    users_page = client.get("/admin/users/").get_data(as_text=True)
    assert other.username in users_page
    assert "Enterprise service commissioner" in users_page  # the role's label, not its code
    assert "Talent commissioner" in users_page
    assert street.name in users_page


@pytest.mark.parametrize(
    "role", ["office", "street", "commissioner", "department", "leader", "firm"]
)
def test_other_roles_are_refused(client, login_as, make_street, role):
    street = make_street()
    login_as(role)
    for url in (
        "/admin/users/",
        "/admin/users/new",
        "/admin/streets/",
        f"/admin/streets/{street.id}/edit",
        "/admin/departments/",
    ):
        assert client.get(url).status_code == 403, url
    assert db.session.get(Street, street.id).active
    response = client.post(
        f"/admin/streets/{street.id}/deactivate",
        data={"csrf_token": csrf_token(client, "/account/password")},
    )
    assert response.status_code == 403
    assert db.session.get(Street, street.id).active


def test_anonymous_goes_to_login(client):
    response = client.get("/admin/users/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# -- user list ---------------------------------------------------------------------------


def test_user_list_filters(client, admin, make_user, make_street, make_department):
    east, west = make_street(name="东区街道"), make_street(name="西区街道")
    dept = make_department(name="区人社局")
    make_user("commissioner", username="comm_east", display_name="李专员", street=east)
    make_user("commissioner", username="comm_west", display_name="王专员", street=west)
    make_user("department", username="hr_handler", display_name="赵科员", department=dept)
    make_user("office", username="gone_office", display_name="钱离职", active=False)
    make_user(
        "office",
        username="locked_office",
        display_name="孙锁定",
        locked_until=utcnow() + timedelta(minutes=20),
        failed_logins=0,
    )
    make_user(
        "office",
        username="was_locked",
        display_name="周过期",
        locked_until=utcnow() - timedelta(minutes=5),
    )

    def shown(**args):
        page = client.get("/admin/users/", query_string=args).get_data(as_text=True)
        names = (
            "comm_east",
            "comm_west",
            "hr_handler",
            "gone_office",
            "locked_office",
            "was_locked",
        )
        return {n for n in names if f">{n}<" in page}

    assert shown(q="专员") == {"comm_east", "comm_west"}
    assert shown(q="COMM_E") == {"comm_east"}
    assert shown(role="department") == {"hr_handler"}
    assert shown(street_id=east.id) == {"comm_east"}
    assert shown(department_id=dept.id) == {"hr_handler"}
    assert shown(status="disabled") == {"gone_office"}
    assert "gone_office" not in shown(status="active")
    assert shown(locked="yes") == {"locked_office"}
    assert "was_locked" in shown(locked="no")
    assert "locked_office" not in shown(locked="no")
    # A filter value that is not a choice is an error on the form, not a server error.
    response = client.get("/admin/users/", query_string={"street_id": "abc", "role": "king"})
    assert response.status_code == 200
    assert "is-invalid" in tag(response.get_data(as_text=True), "street_id")


def test_user_list_paginates_in_a_fixed_number_of_queries(client, admin, make_user, count_queries):
    def statements():
        with count_queries() as queries:
            assert client.get("/admin/users/").status_code == 200
        return len(queries)

    for role in ("commissioner", "department", "firm"):
        make_user(role)
    few = statements()
    for role in ("commissioner", "department", "firm", "street") * 3:
        make_user(role)
    assert statements() == few
    for _ in range(20):
        make_user("office")
    page = client.get("/admin/users/").get_data(as_text=True)
    assert 'class="pagination' in page
    assert client.get("/admin/users/?page=2").status_code == 200


# -- creating users ----------------------------------------------------------------------


def test_create_office_user(client, admin):
    response = post_form(client, "/admin/users/new", user_form())
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "zhangwei"))
    assert user.role == "office" and user.display_name == "张伟" and user.active
    assert user.phone == "13800000001" and user.email == "zhangwei@example.cn"
    assert verify_password(user.password_hash, NEW_PASSWORD)
    (entry,) = audit_records("user.create", user.id)
    assert entry.user_id == admin.id
    assert entry.detail["username"] == "zhangwei" and entry.detail["role"] == "office"
    assert entry.detail["email"] == "zhangwei@example.cn"
    dumped = json.dumps(entry.detail, ensure_ascii=False)
    assert NEW_PASSWORD not in dumped and user.password_hash not in dumped
    assert "password" not in dumped
    # The new user logs in with the initial password.
    other = client.application.test_client()
    assert login(other, "zhangwei", NEW_PASSWORD).status_code == 302


def test_create_talent_commissioner_in_a_street(client, admin, make_street):
    street = make_street(name="新华街道")
    response = post_form(
        client,
        "/admin/users/new",
        user_form(
            username="talent1", role="commissioner", street_id=str(street.id), specialty="talent"
        ),
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "talent1"))
    assert user.street_id == street.id and user.specialty == "talent"
    (entry,) = audit_records("user.create", user.id)
    assert entry.detail["street"] == "新华街道" and entry.detail["specialty"] == "talent"


def test_create_firm_user_by_uscc(client, admin, make_firm):
    firm = make_firm()
    response = post_form(
        client,
        "/admin/users/new",
        user_form(username="firmuser", role="firm", firm_uscc=firm.uscc.lower()),
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "firmuser"))
    assert user.firm_id == firm.id and user.street_id is None
    response = post_form(
        client,
        "/admin/users/new",
        user_form(username="firmuser2", role="firm", firm_uscc="91310000MA1FL00000"),
        form_url="/admin/users/new",
    )
    assert response.status_code == 200
    assert "No firm has the USCC" in field_errors(response.get_data(as_text=True), "firm_uscc")
    assert db.session.scalar(select(User).where(User.username == "firmuser2")) is None


def test_role_needs_its_unit(client, admin, make_department):
    dept = make_department(active=False)
    response = post_form(client, "/admin/users/new", user_form(role="street"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "is-invalid" in tag(page, "street_id")
    assert "needs a street" in field_errors(page, "street_id")
    # A deactivated department is not offered.
    assert f'value="{dept.id}"' not in select_html(page, "department_id")
    response = post_form(client, "/admin/users/new", user_form(role="office", specialty="talent"))
    assert "Only a commissioner" in field_errors(response.get_data(as_text=True), "specialty")
    assert db.session.scalar(select(User).where(User.username == "zhangwei")) is None


def test_weak_password_is_refused_and_the_typed_fields_stay(client, admin):
    form = user_form(
        password="password", confirm="password", display_name="王小明", email="wxm@example.cn"
    )
    response = post_form(client, "/admin/users/new", form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "is-invalid" in tag(page, "password")
    assert "too common" in field_errors(page, "password")
    assert 'value="zhangwei"' in tag(page, "username")
    assert 'value="王小明"' in tag(page, "display_name")
    assert 'value="wxm@example.cn"' in tag(page, "email")
    assert 'value="password"' not in page  # a password is never sent back
    response = post_form(
        client, "/admin/users/new", user_form(password="Zhangwei-2024!", confirm="Zhangwei-2024!")
    )
    assert "must not contain the user name" in field_errors(
        response.get_data(as_text=True), "password"
    )
    assert db.session.scalar(select(User).where(User.username == "zhangwei")) is None
    assert audit_records("user.create") == []


def test_duplicate_user_name_is_a_form_error(client, admin, make_user):
    make_user("office", username="lihua")
    response = post_form(client, "/admin/users/new", user_form(username="LiHua"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "is-invalid" in tag(page, "username")
    assert "is taken" in field_errors(page, "username")
    assert len(db.session.scalars(select(User).where(User.username.ilike("lihua"))).all()) == 1


# -- editing users -----------------------------------------------------------------------


def test_edit_user_records_the_changed_fields(client, admin, make_user, make_department):
    user = make_user("office", display_name="旧名字", phone="021-1111111")
    dept = make_department(name="区市场监管局")
    url = f"/admin/users/{user.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="旧名字"' in tag(page, "display_name")
    response = post_form(
        client,
        url,
        edit_form(user, display_name="新名字", role="department", department_id=str(dept.id)),
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.display_name == "新名字" and user.role == "department"
    assert user.department_id == dept.id
    (entry,) = audit_records("user.update", user.id)
    assert entry.detail["changes"] == {
        "display_name": ["旧名字", "新名字"],
        "role": ["office", "department"],
        "department": [None, "区市场监管局"],
    }
    # Saving the same values again records nothing.
    post_form(client, url, edit_form(user))
    assert len(audit_records("user.update", user.id)) == 1


def test_changing_role_rechecks_the_unit(client, admin, make_user, make_street):
    user = make_user("office")
    url = f"/admin/users/{user.id}/edit"
    response = post_form(client, url, edit_form(user, role="commissioner"))
    assert response.status_code == 200
    assert "needs a street" in field_errors(response.get_data(as_text=True), "street_id")
    db.session.refresh(user)
    assert user.role == "office"
    # Leaving the street role drops the street.
    street_user = make_user("street", street=make_street())
    post_form(
        client,
        f"/admin/users/{street_user.id}/edit",
        edit_form(street_user, role="office"),
        form_url=f"/admin/users/{street_user.id}/edit",
    )
    db.session.refresh(street_user)
    assert street_user.role == "office" and street_user.street_id is None


def test_commissioner_with_firms_keeps_role_until_handed_over(
    client, admin, make_user, make_firm, assign
):
    firm = make_firm()
    comm = make_user("commissioner", street=firm.street)
    assign(firm, comm)
    url = f"/admin/users/{comm.id}/edit"
    response = post_form(client, url, edit_form(comm, role="office"))
    assert response.status_code == 200
    assert "hand them over first" in field_errors(response.get_data(as_text=True), "role")
    db.session.refresh(comm)
    assert comm.role == "commissioner"


def test_duplicate_user_name_on_edit(client, admin, make_user):
    make_user("office", username="taken_name")
    user = make_user("office")
    response = post_form(
        client, f"/admin/users/{user.id}/edit", edit_form(user, username="taken_name")
    )
    assert response.status_code == 200
    assert "is taken" in field_errors(response.get_data(as_text=True), "username")


def test_admin_cannot_take_away_own_admin_role(client, admin):
    url = f"/admin/users/{admin.id}/edit"
    response = post_form(client, url, edit_form(admin, role="office"))
    assert response.status_code == 200
    assert "own administrator role" in field_errors(response.get_data(as_text=True), "role")
    db.session.refresh(admin)
    assert admin.role == "admin"
    # Other changes to one's own account are fine.
    response = post_form(client, url, edit_form(admin, display_name="系统管理员"))
    assert response.status_code == 302
    db.session.refresh(admin)
    assert admin.display_name == "系统管理员" and admin.role == "admin"


# -- disable, enable, reset, unlock ------------------------------------------------------


def test_disabling_ends_the_users_sessions(client, admin, make_user):
    victim = make_user("office")
    other = client.application.test_client()
    assert login(other, victim.username).status_code == 302
    assert other.get("/firms/").status_code == 200
    url = f"/admin/users/{victim.id}/edit"
    response = post_form(client, f"/admin/users/{victim.id}/disable", {}, form_url=url)
    assert response.status_code == 302
    db.session.refresh(victim)
    assert not victim.active
    response = other.get("/firms/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(other, victim.username).status_code == 200  # refused: disabled
    (entry,) = audit_records("user.update", victim.id)
    assert entry.detail == {"active": [True, False]} and entry.user_id == admin.id

    response = post_form(client, f"/admin/users/{victim.id}/enable", {}, form_url=url)
    assert response.status_code == 302
    db.session.refresh(victim)
    assert victim.active
    assert audit_records("user.update", victim.id)[-1].detail == {"active": [False, True]}
    assert login(other, victim.username).status_code == 302


def test_admin_cannot_disable_themself(client, admin):
    url = f"/admin/users/{admin.id}/edit"
    response = post_form(client, f"/admin/users/{admin.id}/disable", {}, form_url=url)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You cannot disable your own account." in page
    db.session.refresh(admin)
    assert admin.active
    assert client.get("/admin/users/").status_code == 200  # still logged in
    assert audit_records("user.update", admin.id) == []


def test_reset_password(client, admin, make_user):
    user = make_user("office")
    other = client.application.test_client()
    assert login(other, user.username).status_code == 302
    url = f"/admin/users/{user.id}/password"

    response = post_form(client, url, {"password": "12345678", "confirm": "12345678"})
    assert response.status_code == 200
    assert "is-invalid" in tag(response.get_data(as_text=True), "password")
    db.session.refresh(user)
    assert verify_password(user.password_hash, PASSWORD)
    assert other.get("/firms/").status_code == 200

    response = post_form(client, url, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    db.session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    response = other.get("/firms/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(other, user.username, PASSWORD).status_code == 200
    assert login(other, user.username, NEW_PASSWORD).status_code == 302
    (entry,) = audit_records("user.password_change", user.id)
    assert entry.user_id == admin.id and entry.detail == {"by_self": False}
    assert user.password_hash not in json.dumps(entry.detail)


def test_admin_resets_own_password_only_through_change_password(client, admin):
    url = f"/admin/users/{admin.id}/password"
    response = post_form(client, url, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 200
    assert "Change password" in field_errors(response.get_data(as_text=True), "password")
    db.session.refresh(admin)
    assert verify_password(admin.password_hash, PASSWORD)


def test_unlock(client, admin, make_user):
    until = utcnow() + timedelta(minutes=25)
    user = make_user("office", locked_until=until, failed_logins=3)
    other = client.application.test_client()
    assert login(other, user.username).status_code == 200  # locked out
    url = f"/admin/users/{user.id}/edit"
    assert "Unlock" in client.get(url).get_data(as_text=True)
    response = post_form(client, f"/admin/users/{user.id}/unlock", {}, form_url=url)
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.locked_until is None and user.failed_logins == 0
    (entry,) = audit_records("user.unlock", user.id)
    assert entry.detail == {"locked_until": [until.isoformat(), None], "failed_logins": [3, 0]}
    assert login(other, user.username).status_code == 302
    # Nothing left to unlock: nothing recorded.
    post_form(client, f"/admin/users/{user.id}/unlock", {}, form_url=url)
    assert len(audit_records("user.unlock", user.id)) == 1


# -- streets and departments -------------------------------------------------------------


def street_form(**overrides) -> dict:
    return {
        "name": "江苏路街道",
        "code": "js01",
        "service_centre_address": "长宁路100号",
        "service_centre_phone": "021-62000000",
        **overrides,
    }


def test_create_and_edit_a_street(client, admin):
    response = post_form(client, "/admin/streets/new", street_form())
    assert response.status_code == 302
    street = db.session.scalar(select(Street).where(Street.name == "江苏路街道"))
    assert street.code == "JS01" and street.service_centre_address == "长宁路100号"
    assert street.service_centre_phone == "021-62000000" and street.active
    (created,) = audit_records("street.create", street.id)
    assert created.detail["name"] == "江苏路街道"
    page = client.get("/admin/streets/").get_data(as_text=True)
    assert "江苏路街道" in page and "长宁路100号" in page

    url = f"/admin/streets/{street.id}/edit"
    response = post_form(client, url, street_form(service_centre_phone="021-62999999"))
    assert response.status_code == 302
    db.session.refresh(street)
    assert street.service_centre_phone == "021-62999999"
    (updated,) = audit_records("street.update", street.id)
    assert updated.detail == {"changes": {"service_centre_phone": ["021-62000000", "021-62999999"]}}


def test_duplicate_street_name_or_code_is_a_form_error(client, admin, make_street):
    make_street(name="华阳路街道", code="HY01")
    response = post_form(client, "/admin/streets/new", street_form(name="华阳路街道"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "already has this name" in field_errors(page, "name")
    assert 'value="长宁路100号"' in tag(page, "service_centre_address")
    response = post_form(client, "/admin/streets/new", street_form(code="hy01"))
    assert response.status_code == 200
    assert "already has this code" in field_errors(response.get_data(as_text=True), "code")
    other = make_street(name="新泾镇")
    response = post_form(
        client, f"/admin/streets/{other.id}/edit", street_form(name="华阳路街道", code=other.code)
    )
    assert response.status_code == 200
    db.session.refresh(other)
    assert other.name == "新泾镇"
    assert len(db.session.scalars(select(Street)).all()) == 2


def test_deactivating_a_street_in_use_keeps_it(client, admin, make_street, make_user, make_firm):
    street = make_street(name="周家桥街道")
    firm = make_firm(street=street)
    comm = make_user("commissioner", street=street)
    page = client.get("/admin/streets/").get_data(as_text=True)
    assert "1 users and 1 firms still belong to it" in html.unescape(page)
    response = post_form(
        client, f"/admin/streets/{street.id}/deactivate", {}, form_url="/admin/streets/"
    )
    assert response.status_code == 302
    db.session.expire_all()
    street = db.session.get(Street, street.id)
    assert street is not None and not street.active
    assert db.session.get(User, comm.id).street_id == street.id
    assert db.session.get(type(firm), firm.id).street_id == street.id
    (entry,) = audit_records("street.deactivate", street.id)
    assert entry.detail == {"active": [True, False], "users": 1, "firms": 1}
    # No longer offered for new accounts; still listed, to be reactivated.
    new_page = client.get("/admin/users/new").get_data(as_text=True)
    assert "周家桥街道" not in select_html(new_page, "street_id")
    assert "Reactivate" in client.get("/admin/streets/").get_data(as_text=True)
    response = post_form(
        client, f"/admin/streets/{street.id}/reactivate", {}, form_url="/admin/streets/"
    )
    assert response.status_code == 302
    db.session.refresh(street)
    assert street.active
    assert len(audit_records("street.reactivate", street.id)) == 1


def test_departments(client, admin, make_department, make_user):
    response = post_form(
        client,
        "/admin/departments/new",
        {"name": "区人社局", "code": "rs", "phone": "021-52000000"},
    )
    assert response.status_code == 302
    dept = db.session.scalar(select(Department).where(Department.name == "区人社局"))
    assert dept.code == "RS" and dept.phone == "021-52000000"
    assert len(audit_records("department.create", dept.id)) == 1

    response = post_form(
        client, "/admin/departments/new", {"name": "区人社局", "code": "RS2", "phone": ""}
    )
    assert response.status_code == 200
    assert "already has this name" in field_errors(response.get_data(as_text=True), "name")

    response = post_form(
        client,
        f"/admin/departments/{dept.id}/edit",
        {"name": "区人力资源和社会保障局", "code": "RS", "phone": "021-52000000"},
    )
    assert response.status_code == 302
    db.session.refresh(dept)
    assert dept.name == "区人力资源和社会保障局"
    assert audit_records("department.update", dept.id)[0].detail == {
        "changes": {"name": ["区人社局", "区人力资源和社会保障局"]}
    }

    make_user("department", department=dept)
    response = post_form(
        client, f"/admin/departments/{dept.id}/deactivate", {}, form_url="/admin/departments/"
    )
    assert response.status_code == 302
    db.session.refresh(dept)
    assert not dept.active
    assert audit_records("department.deactivate", dept.id)[0].detail["users"] == 1
    new_page = client.get("/admin/users/new").get_data(as_text=True)
    assert "区人力资源和社会保障局" not in select_html(new_page, "department_id")
