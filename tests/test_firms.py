"""Firms: create, edit, list, detail; scope, masking and the audit trail (issue 2)."""

import html
import re

import pytest
from sqlalchemy import func, insert, select, update

from crm.audit.models import AuditLog
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from tests.conftest import csrf_token, login, post_form

VALID_CODE = "91330100799655058B"
OTHER_CODE = "91110000802100433B"


# -- helpers -----------------------------------------------------------------------------


def english(client) -> None:
    """Switch the logged-in user's interface to English, as the footer button does."""
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def audit(action: str, **where) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.action == action)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditLog, key) == value)
    return list(db.session.scalars(stmt.order_by(AuditLog.id)))


def _control(page: str, name: str) -> str:
    match = re.search(rf'<(input|select|textarea)\b[^>]*\bname="{name}"[^>]*>', page)
    assert match, f"no field {name}"
    return match.group(0)


def field_value(page: str, name: str) -> str:
    control = _control(page, name)
    if control.startswith("<select"):
        start = page.index(control)
        options = page[start : page.index("</select>", start)]
        selected = re.search(
            r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', options
        )
        return html.unescape((selected.group(1) or selected.group(2)) if selected else "")
    value = re.search(r'\bvalue="([^"]*)"', control)
    return html.unescape(value.group(1)) if value else ""


def field_errors(page: str, name: str) -> list[str]:
    """The messages shown right below the field ``name``."""
    control = _control(page, name)
    start = page.index(control) + len(control)
    if control.startswith("<select"):
        start = page.index("</select>", start)
    block = page[start : page.find('<div class="mb-3', start)]
    return [html.unescape(m) for m in re.findall(r'class="invalid-feedback[^"]*">([^<]*)<', block)]


def firm_form(street, **overrides) -> dict:
    return {
        "name": "上海新联科技有限公司",
        "uscc": VALID_CODE,
        "legal_representative": "王芳",
        "industry_code": "I6513",
        "size": "small",
        "registered_capital": "500",
        "employees": "30",
        "revenue_band": "100-500",
        "established_on": "2019-05-20",
        "street_id": str(street.id),
        "address": "长宁路 1 号",
        "tier": "",
        "leader_id": "",
        "tags": "软件，专精特新",
        "status": "active",
        "high_tech": "y",
        **overrides,
    }


def firm_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Firm))


# -- create ------------------------------------------------------------------------------


def test_office_creates_a_firm_and_the_creation_is_audited(client, login_as, make_street):
    office = login_as("office")
    street = make_street()
    response = post_form(client, "/firms/new", firm_form(street, uscc=" 9133 0100 7996 5505 8b "))
    assert response.status_code == 302
    firm = db.session.scalar(select(Firm).where(Firm.uscc == VALID_CODE))
    assert firm is not None
    assert response.headers["Location"].endswith(f"/firms/{firm.id}")
    assert firm.name == "上海新联科技有限公司"
    assert firm.street_id == street.id
    assert firm.high_tech is True
    assert firm.employees == 30
    assert firm.tags == ["专精特新", "软件"]
    [entry] = audit("firm.create", object_id=firm.id)
    assert (entry.user_id, entry.username, entry.object_type, entry.result) == (
        office.id,
        office.username,
        "firms",
        "success",
    )
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    assert "上海新联科技有限公司" in page and VALID_CODE in page


def test_a_wrong_check_character_is_shown_next_to_the_code_and_keeps_what_was_typed(
    client, login_as, make_street
):
    login_as("office")
    english(client)
    street = make_street()
    typed = firm_form(street, uscc="91330100799655058C")
    response = post_form(client, "/firms/new", typed)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_errors(page, "uscc") == [
        "The check character does not match: the code has a typing error."
    ]
    for name in (
        "uscc",
        "name",
        "legal_representative",
        "industry_code",
        "registered_capital",
        "employees",
        "established_on",
        "address",
        "street_id",
        "size",
        "revenue_band",
        "status",
    ):
        assert field_value(page, name) == typed[name], name
    assert field_value(page, "tags") == "软件，专精特新"
    assert "checked" in _control(page, "high_tech")
    assert firm_count() == 0


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91330100799655058V", "no I, O, Z, S or V"),
        ("9133010079965505", "between 18 and 24 characters"),
        ("91AB0100799655058B", "Characters 3 to 8 must be the administrative division code"),
    ],
)
def test_other_malformed_codes_are_refused_with_a_reason(
    client, login_as, make_street, code, message
):
    login_as("office")
    english(client)
    response = post_form(client, "/firms/new", firm_form(make_street(), uscc=code))
    assert response.status_code == 200
    [error] = field_errors(response.get_data(as_text=True), "uscc")
    assert message in error
    assert firm_count() == 0


def test_a_code_another_firm_has_is_refused(client, login_as, make_street, make_firm):
    login_as("office")
    english(client)
    make_firm(name="先来的公司", uscc=VALID_CODE)
    response = post_form(client, "/firms/new", firm_form(make_street(), uscc=VALID_CODE.lower()))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_errors(page, "uscc") == ["Another firm already has this code."]
    assert field_value(page, "name") == "上海新联科技有限公司"
    assert firm_count() == 1


def test_a_street_user_creates_firms_in_its_own_street_only(
    client, login_as, make_user, make_street
):
    own, other = make_street(), make_street()
    login_as(make_user("street", street=own))
    page = client.get("/firms/new").get_data(as_text=True)
    assert own.name in page and other.name not in page

    refused = post_form(client, "/firms/new", firm_form(other))
    assert refused.status_code in (200, 403)
    assert firm_count() == 0

    accepted = post_form(client, "/firms/new", firm_form(own))
    assert accepted.status_code == 302
    assert db.session.scalar(select(Firm.street_id)) == own.id


def test_a_commissioner_who_creates_a_firm_becomes_its_primary_commissioner(
    client, login_as, make_user, make_street
):
    street = make_street()
    commissioner = login_as(make_user("commissioner", street=street, display_name="李专员"))
    response = post_form(client, "/firms/new", firm_form(street))
    assert response.status_code == 302
    firm = db.session.scalar(select(Firm))
    assert firm.primary_commissioner == commissioner
    assert audit("assignment.create", user_id=commissioner.id)
    # ... and so may edit it and sees it under "my firms".
    assert client.get(f"/firms/{firm.id}/edit").status_code == 200
    assert firm.name in client.get("/firms/mine").get_data(as_text=True)


@pytest.mark.parametrize("role", ["department", "leader", "firm", "admin"])
def test_roles_that_do_not_keep_firm_records_cannot_create_them(client, login_as, role):
    login_as(role)
    assert client.get("/firms/new").status_code == 403


# -- edit --------------------------------------------------------------------------------


def test_an_edit_is_saved_and_audited_with_what_changed(client, login_as, make_firm):
    office = login_as("office")
    firm = make_firm(name="旧名称有限公司", employees=10, address="旧地址")
    form = client.get(f"/firms/{firm.id}/edit").get_data(as_text=True)
    assert field_value(form, "name") == "旧名称有限公司"
    data = firm_form(
        firm.street,
        name="新名称有限公司",
        uscc=firm.uscc,
        employees="12",
        address="旧地址",
        version=field_value(form, "version"),
    )
    response = post_form(client, f"/firms/{firm.id}/edit", data)
    assert response.status_code == 302
    db.session.refresh(firm)
    assert firm.name == "新名称有限公司"
    assert firm.version == 2
    [entry] = audit("firm.update", object_id=firm.id)
    assert entry.user_id == office.id and entry.result == "success"
    changes = entry.detail["changes"]
    assert changes["name"] == ["旧名称有限公司", "新名称有限公司"]
    assert changes["employees"] == [10, 12]
    assert "address" not in changes and "uscc" not in changes


def test_saving_an_unchanged_form_writes_no_audit_record(client, login_as, make_firm):
    login_as("office")
    firm = make_firm(tags=["软件"], address="长宁路 1 号")
    form = client.get(f"/firms/{firm.id}/edit").get_data(as_text=True)
    names = (
        "name",
        "uscc",
        "legal_representative",
        "industry_code",
        "size",
        "registered_capital",
        "employees",
        "revenue_band",
        "established_on",
        "street_id",
        "address",
        "tier",
        "leader_id",
        "tags",
        "status",
        "version",
    )
    response = post_form(client, f"/firms/{firm.id}/edit", {n: field_value(form, n) for n in names})
    assert response.status_code == 302
    assert audit("firm.update") == []


def test_an_edit_cannot_take_another_firms_code(client, login_as, make_firm):
    login_as("office")
    english(client)
    make_firm(uscc=OTHER_CODE)
    firm = make_firm(uscc=VALID_CODE)
    response = post_form(
        client, f"/firms/{firm.id}/edit", firm_form(firm.street, uscc=OTHER_CODE, version="1")
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True), "uscc") == [
        "Another firm already has this code."
    ]
    db.session.refresh(firm)
    assert firm.uscc == VALID_CODE


def test_a_stale_edit_is_refused_naming_who_changed_the_firm_and_keeps_the_typed_values(
    app, client, login_as, make_user, make_firm
):
    firm = make_firm(name="原名有限公司", address="旧地址")
    login_as("office")
    english(client)
    first_form = client.get(f"/firms/{firm.id}/edit").get_data(as_text=True)
    version = field_value(first_form, "version")

    # Meanwhile a colleague saves the same firm from another browser.
    colleague = make_user("office", display_name="陈同事")
    other = app.test_client()
    login(other, colleague.username)
    saved = post_form(
        other,
        f"/firms/{firm.id}/edit",
        firm_form(
            firm.street,
            name="原名有限公司",
            uscc=firm.uscc,
            address="同事改的地址",
            version=version,
        ),
    )
    assert saved.status_code == 302

    typed = firm_form(
        firm.street,
        name="我改的名称有限公司",
        uscc=firm.uscc,
        address="我改的地址",
        employees="99",
        version=version,
    )
    response = post_form(client, f"/firms/{firm.id}/edit", typed, form_url=f"/firms/{firm.id}/edit")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    alert = re.search(r'<div class="alert alert-warning"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert "陈同事" in alert
    assert "changed this firm while you were editing" in alert
    assert field_value(page, "name") == "我改的名称有限公司"
    assert field_value(page, "address") == "我改的地址"
    assert field_value(page, "employees") == "99"
    db.session.refresh(firm)
    assert (firm.name, firm.address) == ("原名有限公司", "同事改的地址")

    # Having compared, the user saves again: the page now carries the current version.
    assert field_value(page, "version") == str(firm.version)
    again = post_form(
        client, f"/firms/{firm.id}/edit", {**typed, "version": field_value(page, "version")}
    )
    assert again.status_code == 302
    db.session.refresh(firm)
    assert (firm.name, firm.address) == ("我改的名称有限公司", "我改的地址")


def test_two_saves_at_the_same_moment_refuse_the_second_one(
    app, client, login_as, make_user, make_firm, monkeypatch
):
    """The other save lands after this request checked the version but before it writes."""
    from crm.firms import services

    firm = make_firm(name="原名有限公司")
    colleague = make_user("office", display_name="陈同事")
    login_as("office")
    english(client)
    form = client.get(f"/firms/{firm.id}/edit").get_data(as_text=True)
    check = services._check_firm_data

    def colleague_saves_first(data, *, firm_id):
        with db.engine.begin() as conn:
            conn.execute(
                update(Firm).where(Firm.id == firm_id).values(address="同事改的地址", version=2)
            )
            conn.execute(
                insert(AuditLog).values(
                    at=firm.created_at,
                    user_id=colleague.id,
                    username=colleague.username,
                    action="firm.update",
                    object_type="firms",
                    object_id=firm_id,
                    detail={},
                )
            )
        return check(data, firm_id=firm_id)

    monkeypatch.setattr(services, "_check_firm_data", colleague_saves_first)
    typed = firm_form(
        firm.street, name="我改的名称有限公司", uscc=firm.uscc, version=field_value(form, "version")
    )
    response = post_form(client, f"/firms/{firm.id}/edit", typed)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "陈同事 changed this firm while you were editing" in page
    assert field_value(page, "name") == "我改的名称有限公司"
    assert field_value(page, "version") == "2"
    db.session.refresh(firm)
    assert (firm.name, firm.address) == ("原名有限公司", "同事改的地址")
    assert audit("firm.update", user_id=colleague.id)
    assert len(audit("firm.update")) == 1


def test_a_commissioner_edits_only_the_firms_it_looks_after(
    client, login_as, make_user, make_firm, make_street, assign
):
    street = make_street()
    commissioner = login_as(make_user("commissioner", street=street))
    mine, colleagues = make_firm(street=street), make_firm(street=street)
    assign(mine, commissioner, "backup")
    assert client.get(f"/firms/{mine.id}/edit").status_code == 200
    assert client.get(f"/firms/{colleagues.id}").status_code == 200  # may read it
    assert client.get(f"/firms/{colleagues.id}/edit").status_code == 403


def test_a_street_user_cannot_edit_another_streets_firm(client, login_as, make_user, make_firm):
    login_as("street")
    firm = make_firm()
    assert client.get(f"/firms/{firm.id}/edit").status_code == 403
    assert client.get(f"/firms/{firm.id}").status_code == 403
    denied = audit("permission.denied")
    assert [d.detail["path"] for d in denied] == [f"/firms/{firm.id}/edit", f"/firms/{firm.id}"]
    assert {d.result for d in denied} == {"denied"}


# -- list --------------------------------------------------------------------------------


def listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return set(re.findall(r'<a href="/firms/\d+">([^<]+)</a>', page))


def test_search_finds_part_of_the_name_or_part_of_the_code(client, login_as, make_firm):
    login_as("office")
    make_firm(name="上海长宁云端软件有限公司", uscc=VALID_CODE)
    make_firm(name="上海虹桥物流有限公司", uscc=OTHER_CODE)
    assert listed(client, "/firms/?q=云端") == {"上海长宁云端软件有限公司"}
    assert listed(client, "/firms/?q=802100") == {"上海虹桥物流有限公司"}
    assert listed(client, "/firms/?q=0433b") == {"上海虹桥物流有限公司"}
    assert listed(client, "/firms/?q=9133+0100") == {"上海长宁云端软件有限公司"}
    assert listed(client, "/firms/?q=上海") == {"上海长宁云端软件有限公司", "上海虹桥物流有限公司"}


def test_search_treats_wildcards_as_plain_characters(client, login_as, make_firm):
    login_as("office")
    make_firm(name="百分百_科技有限公司")
    make_firm(name="普通贸易有限公司")
    assert listed(client, "/firms/?q=%25") == set()
    assert listed(client, "/firms/?q=_") == {"百分百_科技有限公司"}


def test_each_filter_narrows_the_list(client, login_as, make_user, make_firm, make_street, assign):
    login_as("office")
    east, west = make_street(), make_street()
    commissioner = make_user("commissioner", street=east)
    a = make_firm(
        name="甲公司",
        street=east,
        tier="district",
        industry_code="I6513",
        size="large",
        status="active",
    )
    b = make_firm(
        name="乙公司",
        street=east,
        tier="sector",
        industry_code="I64",
        size="small",
        status="prospect",
    )
    make_firm(
        name="丙公司", street=west, tier=None, industry_code="F51", size="micro", status="moved_out"
    )
    assign(a, commissioner, "primary")
    assign(b, commissioner, "backup")
    ended = make_firm(name="丁公司", street=east)
    old = assign(ended, commissioner, "primary")
    old.ended_at = old.started_at
    db.session.commit()

    assert listed(client, f"/firms/?street_id={west.id}") == {"丙公司"}
    assert listed(client, "/firms/?tier=district") == {"甲公司"}
    assert listed(client, "/firms/?tier=none") == {"丙公司", "丁公司"}
    assert listed(client, "/firms/?industry=i65") == {"甲公司", "丁公司"}
    assert listed(client, "/firms/?industry=I") == {"甲公司", "乙公司", "丁公司"}
    assert listed(client, "/firms/?size=micro") == {"丙公司"}
    assert listed(client, "/firms/?status=prospect") == {"乙公司"}
    assert listed(client, f"/firms/?commissioner_id={commissioner.id}") == {"甲公司", "乙公司"}
    assert listed(client, f"/firms/?street_id={east.id}&industry=I64&status=prospect") == {"乙公司"}
    # A value that is not one of the choices is ignored, not an error.
    assert len(listed(client, "/firms/?size=giant&street_id=abc")) == 4


def test_the_list_paginates_and_shows_the_total(client, login_as, make_firm, make_street):
    login_as("office")
    english(client)
    street = make_street()
    for n in range(30):
        make_firm(name=f"企业{n:02d}", street=street)
    first = client.get("/firms/").get_data(as_text=True)
    second = client.get("/firms/?page=2").get_data(as_text=True)
    assert "30 in all, page 1 of 2" in first
    assert "30 in all, page 2 of 2" in second
    on_first = listed(client, "/firms/")
    on_second = listed(client, "/firms/?page=2")
    assert len(on_first) == 25 and len(on_second) == 5
    assert on_first | on_second == {f"企业{n:02d}" for n in range(30)}
    assert 'href="/firms/?page=2"' in first
    # Filters survive paging.
    filtered = client.get("/firms/?q=企业&per_page=10").get_data(as_text=True)
    assert "30 in all, page 1 of 3" in filtered
    assert "q=%E4%BC%81%E4%B8%9A" in filtered and "page=2" in filtered


def test_a_street_user_lists_only_its_streets_firms(
    client, login_as, make_user, make_firm, make_street
):
    own = make_street()
    make_firm(name="本街道公司", street=own)
    make_firm(name="别的街道公司")
    login_as(make_user("street", street=own))
    assert listed(client, "/firms/") == {"本街道公司"}


def test_a_leader_lists_only_its_linked_firms(client, login_as, make_user, make_firm):
    leader = make_user("leader")
    make_firm(name="联系企业", tier="district", leader_id=leader.id)
    make_firm(name="其他区级企业", tier="district")
    login_as(leader)
    assert listed(client, "/firms/") == {"联系企业"}


@pytest.mark.parametrize("role", ["department", "firm", "admin"])
def test_roles_without_a_firm_list_get_403(client, login_as, make_firm, role):
    make_firm()
    login_as(role)
    assert client.get("/firms/").status_code == 403


def test_the_list_runs_the_same_number_of_statements_whatever_the_page_size(
    client, login_as, make_user, make_firm, make_street, assign, count_queries
):
    login_as("office")
    for s in range(5):
        street = make_street()
        commissioners = [make_user("commissioner", street=street) for _ in range(2)]
        for n in range(12):
            firm = make_firm(street=street, name=f"街道{s}企业{n:02d}")
            assign(firm, commissioners[0], "primary")
            assign(firm, commissioners[1], "backup")

    def statements(url: str) -> int:
        with count_queries() as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    statements("/firms/?per_page=5")  # warm up: first-request work is not the page's
    small = statements("/firms/?per_page=5")
    large = statements("/firms/?per_page=50")
    assert len(listed(client, "/firms/?per_page=50")) == 50
    assert small == large
    # Commissioners' names on every row come from the same statements.
    page = client.get("/firms/?per_page=50").get_data(as_text=True)
    assert page.count("commissioner 用户") >= 50


# -- detail ------------------------------------------------------------------------------


def test_a_firm_user_sees_its_own_firm(client, login_as, make_user, make_firm, make_contact):
    firm = make_firm(name="自家公司")
    make_contact(firm, phone="13812345678")
    login_as(make_user("firm", firm=firm))
    response = client.get(f"/firms/{firm.id}")
    assert response.status_code == 200
    assert "自家公司" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/firms/{firm}"),
        ("get", "/firms/{firm}/edit"),
        ("post", "/firms/{firm}/edit"),
        ("get", "/firms/{firm}/contacts/new"),
        ("post", "/firms/{firm}/contacts/new"),
        ("get", "/firms/{firm}/contacts/{contact}/edit"),
        ("post", "/firms/{firm}/contacts/{contact}/edit"),
        ("post", "/firms/{firm}/contacts/{contact}/delete"),
        ("post", "/firms/{firm}/contacts/{contact}/phone"),
        ("post", "/firms/{firm}/assign"),
    ],
)
def test_a_firm_user_gets_403_or_404_for_every_url_of_another_firm(
    client, login_as, make_user, make_firm, make_contact, method, path
):
    own = make_firm(name="自家公司")
    other = make_firm(name="别家公司")
    contact = make_contact(other, name="别家联系人", phone="13900001111")
    login_as(make_user("firm", firm=own))
    url = path.format(firm=other.id, contact=contact.id)
    if method == "get":
        response = client.get(url)
    else:
        token = csrf_token(client, f"/firms/{own.id}")
        response = client.post(url, data={"csrf_token": token, "name": "x", "reason": "x"})
    assert response.status_code in (403, 404)
    page = response.get_data(as_text=True)
    assert "别家公司" not in page and "别家联系人" not in page and "13900001111" not in page
    db.session.refresh(contact)
    assert contact.name == "别家联系人"


def test_a_firm_user_learns_nothing_from_the_detail_of_another_firm(
    client, login_as, make_user, make_firm
):
    own, other = make_firm(), make_firm()
    login_as(make_user("firm", firm=own))
    # Another firm's page and a page that does not exist answer the same.
    assert client.get(f"/firms/{other.id}").status_code == 404
    assert client.get("/firms/999999").status_code == 404


def test_a_department_user_cannot_open_a_firm_page(client, login_as, make_firm):
    firm = make_firm()
    login_as("department")
    assert client.get(f"/firms/{firm.id}").status_code == 403


def test_a_leader_sees_phone_numbers_masked_and_cannot_reveal_them(
    client, login_as, make_user, make_firm, make_contact
):
    leader = make_user("leader")
    firm = make_firm(tier="district", leader_id=leader.id)
    contact = make_contact(firm, phone="13812345678")
    login_as(leader)
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    assert "138****5678" in page
    assert "13812345678" not in page
    assert f"/contacts/{contact.id}/phone" not in page
    token = csrf_token(client, f"/firms/{firm.id}")
    response = client.post(
        f"/firms/{firm.id}/contacts/{contact.id}/phone", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert "13812345678" not in response.get_data(as_text=True)
    assert audit("contact.reveal_phone") == []
    [denied] = audit("permission.denied", user_id=leader.id)
    assert denied.detail["path"] == f"/firms/{firm.id}/contacts/{contact.id}/phone"


@pytest.mark.parametrize("role", ["office", "street", "commissioner"])
def test_staff_who_need_the_number_see_it_masked_until_they_ask_and_the_view_is_audited(
    client, login_as, make_user, make_firm, make_street, make_contact, role
):
    street = make_street()
    firm = make_firm(street=street)
    contact = make_contact(firm, name="刘经理", phone="13812345678")
    user = login_as(make_user(role, street=street) if role != "office" else "office")
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page
    assert audit("contact.reveal_phone") == []

    reveal = f"/firms/{firm.id}/contacts/{contact.id}/phone"
    assert f'action="{reveal}"' in page
    response = post_form(client, reveal, {}, form_url=f"/firms/{firm.id}")
    assert response.status_code == 200
    assert "13812345678" in response.get_data(as_text=True)
    [entry] = audit("contact.reveal_phone")
    assert (entry.user_id, entry.object_type, entry.object_id, entry.result) == (
        user.id,
        "contacts",
        contact.id,
        "success",
    )
    assert entry.detail["firm_id"] == firm.id

    # Reloading the page masks the number again.
    assert "13812345678" not in client.get(f"/firms/{firm.id}").get_data(as_text=True)


def test_revealing_one_number_leaves_the_others_masked(client, login_as, make_firm, make_contact):
    firm = make_firm()
    first = make_contact(firm, name="甲", phone="13811112222")
    make_contact(firm, name="乙", phone="13933334444")
    login_as("office")
    response = post_form(
        client, f"/firms/{firm.id}/contacts/{first.id}/phone", {}, form_url=f"/firms/{firm.id}"
    )
    page = response.get_data(as_text=True)
    assert "13811112222" in page
    assert "139****4444" in page and "13933334444" not in page


def test_the_detail_page_shows_the_profile(client, login_as, make_firm):
    login_as("office")
    english(client)
    firm = make_firm(
        name="档案公司",
        legal_representative="赵总",
        industry_code="I6513",
        address="延安西路 2 号",
        high_tech=True,
        tags=["软件"],
    )
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    for text in (
        "档案公司",
        firm.uscc,
        "赵总",
        "I6513",
        "延安西路 2 号",
        "High-tech enterprise",
        "软件",
        firm.street.name,
    ):
        assert text in page, text


def test_a_firm_that_does_not_exist_is_404(client, login_as):
    login_as("office")
    assert client.get("/firms/424242").status_code == 404
    assert client.get("/firms/424242/edit").status_code == 404


def test_firm_create_assignment_rows_exist_only_for_commissioners(client, login_as, make_street):
    login_as("office")
    post_form(client, "/firms/new", firm_form(make_street()))
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_the_commissioner_filter_offers_one_streets_commissioners_at_a_time(
    client, login_as, make_street, make_firm, make_user, assign
):
    home, away = make_street(), make_street()
    here = make_user("commissioner", street=home, display_name="本街专员")
    there = make_user("commissioner", street=away, display_name="外街专员")
    firm = make_firm(name="甲街区企业", street=home)
    assign(firm, here, "primary")
    make_firm(name="另一家企业", street=away)
    login_as("office")

    def offered(url):
        page = client.get(url).get_data(as_text=True)
        match = re.search(r'<select[^>]*name="commissioner_id".*?</select>', page, re.S)
        return match.group(0) if match else ""

    # Hundreds in a real district: a district-wide user picks a street first.
    assert "本街专员" not in offered("/firms/")
    one_street = offered(f"/firms/?street_id={home.id}")
    assert "本街专员" in one_street
    assert "外街专员" not in one_street
    # A commissioner chosen by a link still filters, street or not.
    linked = client.get(f"/firms/?commissioner_id={here.id}").get_data(as_text=True)
    assert "甲街区企业" in linked
    assert "另一家企业" not in linked
    assert there.id != here.id


def test_a_department_sees_the_profile_of_firms_whose_demands_it_handles(
    client, login_as, make_firm, make_user, make_demand
):
    from crm.demands import services

    handled, other = make_firm(name="派单涉及的企业"), make_firm(name="与本部门无关的企业")
    office = make_user("office")
    handler = login_as("department")
    demand = make_demand(handled, actor=office)
    services.accept_demand(demand, actor=office)
    services.dispatch_demand(
        demand, actor=office, level=3, lead=services.Unit(department=handler.department)
    )
    db.session.commit()

    page = client.get(f"/firms/{handled.id}")
    assert page.status_code == 200
    assert "派单涉及的企业" in page.get_data(as_text=True)
    assert client.get(f"/firms/{other.id}").status_code == 403
    assert client.get("/firms/").status_code == 403  # no district-wide list
