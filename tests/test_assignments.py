"""Assignments (包保): a primary and a backup commissioner per firm, with history."""

import re

import pytest
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.extensions import db
from crm.firms import services
from crm.firms.models import Assignment
from tests.conftest import csrf_token, post_form


def english(client) -> None:
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def audit(action: str) -> list[AuditLog]:
    return list(
        db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
    )


def assignments(firm, *, open_only: bool = False) -> list[Assignment]:
    stmt = select(Assignment).where(Assignment.firm_id == firm.id)
    if open_only:
        stmt = stmt.where(Assignment.ended_at.is_(None))
    return list(db.session.scalars(stmt.order_by(Assignment.id)))


def current(firm) -> dict[str, int]:
    """Role -> commissioner id of the firm's open assignments."""
    return {a.role: a.commissioner_id for a in assignments(firm, open_only=True)}


def post_assignment(client, firm, role: str, commissioner, reason: str = "按网格分工"):
    return post_form(
        client,
        f"/firms/{firm.id}/assign",
        {
            "role": role,
            "commissioner_id": str(commissioner.id) if commissioner else "",
            "reason": reason,
        },
        form_url=f"/firms/{firm.id}",
    )


def history(page: str) -> str:
    start = page.index("Assignment history")
    return page[start : page.index("</ul>", start)]


@pytest.fixture
def street(make_street):
    return make_street()


@pytest.fixture
def commissioners(make_user, street):
    """Three commissioners of ``street``: 王, 李, 张."""
    return [
        make_user("commissioner", street=street, display_name=name)
        for name in ("王专员", "李专员", "张专员")
    ]


# -- one firm ----------------------------------------------------------------------------


def test_the_office_assigns_a_primary_and_a_backup_commissioner(
    client, login_as, make_firm, street, commissioners
):
    office = login_as("office")
    english(client)
    wang, li, _ = commissioners
    firm = make_firm(street=street)
    assert post_assignment(client, firm, "primary", wang).status_code == 302
    assert post_assignment(client, firm, "backup", li).status_code == 302
    assert current(firm) == {"primary": wang.id, "backup": li.id}

    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    commissioners_card = page[page.index('id="assignments"') : page.index("Assignment history")]
    assert re.search(r"Primary commissioner</dt>\s*<dd[^>]*>王专员", commissioners_card)
    assert re.search(r"Backup commissioner</dt>\s*<dd[^>]*>李专员", commissioners_card)

    created = audit("assignment.create")
    assert [(e.user_id, e.object_type, e.result) for e in created] == [
        (office.id, "assignments", "success")
    ] * 2
    assert [
        (e.detail["role"], e.detail["commissioner_id"], e.detail["firm_id"]) for e in created
    ] == [("primary", wang.id, firm.id), ("backup", li.id, firm.id)]
    assert created[0].detail["reason"] == "按网格分工"
    assert assignments(firm)[0].assigned_by_id == office.id


def test_one_person_cannot_be_both_primary_and_backup(
    client, login_as, make_firm, street, commissioners, assign
):
    login_as("office")
    english(client)
    wang = commissioners[0]
    firm = make_firm(street=street)
    assign(firm, wang, "primary")
    response = post_assignment(client, firm, "backup", wang)
    assert response.status_code == 422
    assert "The primary and backup commissioner must be different people." in response.get_data(
        as_text=True
    )
    assert current(firm) == {"primary": wang.id}
    assert audit("assignment.create") == []


def test_a_commissioner_of_another_street_cannot_be_assigned(
    client, login_as, make_firm, make_user, street
):
    login_as("office")
    elsewhere = make_user("commissioner", display_name="外街道专员")
    firm = make_firm(street=street)
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    assert "外街道专员" not in page  # not offered
    response = post_assignment(client, firm, "primary", elsewhere)
    assert response.status_code == 422
    assert assignments(firm) == []
    # The rule holds whatever the form offers, and outside a request (the command line) too.
    with pytest.raises(services.FirmError) as refused:
        services.assign(firm, elsewhere, "primary", actor=elsewhere, reason="x")
    assert refused.value.field == "commissioner"
    assert str(refused.value)


def test_only_active_commissioners_can_be_assigned(make_user, make_firm, street):
    firm = make_firm(street=street)
    gone = make_user("commissioner", street=street, active=False)
    street_user = make_user("street", street=street)
    for person in (gone, street_user):
        with pytest.raises(services.FirmError) as refused:
            services.assign(firm, person, "primary", actor=street_user, reason="x")
        assert refused.value.field == "commissioner"
    assert assignments(firm) == []


def test_reassigning_ends_the_old_assignment_and_keeps_the_history_visible(
    client, login_as, make_firm, street, commissioners
):
    login_as("office")
    english(client)
    wang, li, _ = commissioners
    firm = make_firm(street=street)
    post_assignment(client, firm, "primary", wang, reason="首次分配")
    post_assignment(client, firm, "primary", li, reason="王专员调岗")

    old, new = assignments(firm)
    assert (old.commissioner_id, old.end_reason) == (wang.id, "王专员调岗")
    assert old.ended_at is not None
    assert (new.commissioner_id, new.reason, new.ended_at) == (li.id, "王专员调岗", None)
    assert new.started_at >= old.started_at
    [ended] = audit("assignment.end")
    assert (ended.object_id, ended.detail["reason"]) == (old.id, "王专员调岗")

    shown = history(client.get(f"/firms/{firm.id}").get_data(as_text=True))
    assert "王专员" in shown and "李专员" in shown
    assert "Why: 首次分配" in shown
    assert "Ended: 王专员调岗" in shown
    assert shown.count(" now") == 1  # only the current assignment is still open


def test_choosing_nobody_ends_the_assignment_without_a_successor(
    client, login_as, make_firm, street, commissioners, assign
):
    login_as("office")
    firm = make_firm(street=street)
    assign(firm, commissioners[0], "backup")
    assert post_assignment(client, firm, "backup", None, reason="不再需要备岗").status_code == 302
    assert current(firm) == {}
    [a] = assignments(firm)
    assert a.end_reason == "不再需要备岗"
    assert len(audit("assignment.end")) == 1


def test_an_assignment_needs_a_reason(client, login_as, make_firm, street, commissioners):
    login_as("office")
    firm = make_firm(street=street)
    response = post_assignment(client, firm, "primary", commissioners[0], reason="")
    assert response.status_code == 422
    assert assignments(firm) == []


def test_a_street_user_assigns_in_its_own_street_only(
    client, login_as, make_user, make_firm, street, commissioners
):
    login_as(make_user("street", street=street))
    own = make_firm(street=street)
    other = make_firm()
    assert post_assignment(client, own, "primary", commissioners[0]).status_code == 302
    token = csrf_token(client, f"/firms/{own.id}")
    response = client.post(
        f"/firms/{other.id}/assign",
        data={"csrf_token": token, "role": "primary", "commissioner_id": "", "reason": "x"},
    )
    assert response.status_code == 403
    assert assignments(other) == []


@pytest.mark.parametrize("role", ["commissioner", "leader", "department"])
def test_other_roles_cannot_assign(
    client, login_as, make_user, make_firm, street, commissioners, role
):
    firm = make_firm(street=street, leader_id=None)
    user = make_user(role, street=street) if role == "commissioner" else make_user(role)
    if role == "leader":
        firm.leader_id = user.id
        db.session.commit()
    login_as(user)
    page = client.get(f"/firms/{firm.id}")
    assert f'action="/firms/{firm.id}/assign"' not in page.get_data(as_text=True)
    token = csrf_token(client, "/account/password")
    response = client.post(
        f"/firms/{firm.id}/assign",
        data={
            "csrf_token": token,
            "role": "primary",
            "commissioner_id": str(commissioners[0].id),
            "reason": "x",
        },
    )
    assert response.status_code == 403
    assert assignments(firm) == []


# -- bulk reassignment -------------------------------------------------------------------


def test_bulk_reassignment_hands_every_firm_of_a_leaving_commissioner_to_the_successor(
    client, login_as, make_firm, street, commissioners, assign
):
    office = login_as("office")
    english(client)
    wang, li, zhang = commissioners  # 王 leaves, 李 takes over, 张 stays
    f1, f2, f3, f4 = (make_firm(street=street, name=f"企业{n}") for n in range(1, 5))
    assign(f1, wang, "primary")
    assign(f1, zhang, "backup")
    assign(f2, zhang, "primary")
    assign(f2, wang, "backup")
    assign(f3, wang, "primary")
    assign(f3, li, "backup")  # 李 already backs f3 up: he cannot also be its primary
    assign(f4, zhang, "primary")

    page = client.get("/firms/reassign").get_data(as_text=True)
    assert 'data-confirm="' in page
    response = post_form(
        client,
        "/firms/reassign",
        {"leaving_id": str(wang.id), "successor_id": str(li.id), "reason": "王专员离职"},
    )
    assert response.status_code == 302
    assert f"commissioner_id={li.id}" in response.headers["Location"]

    assert current(f1) == {"primary": li.id, "backup": zhang.id}
    assert current(f2) == {"primary": zhang.id, "backup": li.id}
    assert current(f3) == {"backup": li.id}
    assert current(f4) == {"primary": zhang.id}
    assert not db.session.scalars(
        select(Assignment).where(
            Assignment.commissioner_id == wang.id, Assignment.ended_at.is_(None)
        )
    ).all()

    ended = audit("assignment.end")
    assert sorted(e.detail["firm_id"] for e in ended) == sorted([f1.id, f2.id, f3.id])
    assert {(e.user_id, e.detail["reason"]) for e in ended} == {(office.id, "王专员离职")}
    created = audit("assignment.create")
    assert sorted((e.detail["firm_id"], e.detail["role"]) for e in created) == sorted(
        [(f1.id, "primary"), (f2.id, "backup")]
    )
    assert {e.detail["replaces"] for e in created} == {wang.id}

    assert "2 firms handed from 王专员 to 李专员." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    # Each firm keeps the leaving commissioner in its history.
    shown = history(client.get(f"/firms/{f1.id}").get_data(as_text=True))
    assert "王专员" in shown and "Ended: 王专员离职" in shown


def test_a_disabled_commissioners_firms_can_still_be_handed_over(
    client, login_as, make_firm, street, commissioners, assign
):
    login_as("office")
    wang, li, _ = commissioners
    firm = make_firm(street=street)
    assign(firm, wang, "primary")
    make_firm(street=street, name="别的企业")
    wang.active = False  # the account was closed on the day he left
    db.session.commit()
    # His firms can still be found in the list ...
    listed = client.get(f"/firms/?commissioner_id={wang.id}").get_data(as_text=True)
    assert firm.name in listed and "别的企业" not in listed
    # ... and handed on.
    page = client.get("/firms/reassign").get_data(as_text=True)
    leaving = page[
        page.index('name="leaving_id"') : page.index("</select>", page.index('name="leaving_id"'))
    ]
    successor = page[
        page.index('name="successor_id"') : page.index(
            "</select>", page.index('name="successor_id"')
        )
    ]
    assert "王专员" in leaving and "王专员" not in successor
    response = post_form(
        client,
        "/firms/reassign",
        {"leaving_id": str(wang.id), "successor_id": str(li.id), "reason": "离职"},
    )
    assert response.status_code == 302
    assert current(firm) == {"primary": li.id}


def test_a_successor_in_another_street_is_refused_and_nothing_moves(
    client, login_as, make_user, make_firm, street, commissioners, assign
):
    login_as("office")
    english(client)
    wang = commissioners[0]
    elsewhere = make_user("commissioner", display_name="外街道专员")
    firms = [make_firm(street=street) for _ in range(3)]
    for firm in firms:
        assign(firm, wang, "primary")
    response = post_form(
        client,
        "/firms/reassign",
        {"leaving_id": str(wang.id), "successor_id": str(elsewhere.id), "reason": "调岗"},
    )
    assert response.status_code == 200
    assert "The successor works in another street than some of these firms." in response.get_data(
        as_text=True
    )
    assert [current(f) for f in firms] == [{"primary": wang.id}] * 3
    assert audit("assignment.end") == [] and audit("assignment.create") == []


def test_a_commissioner_cannot_hand_firms_to_itself(
    client, login_as, make_firm, street, commissioners, assign
):
    login_as("office")
    wang = commissioners[0]
    firm = make_firm(street=street)
    assign(firm, wang, "primary")
    response = post_form(
        client,
        "/firms/reassign",
        {"leaving_id": str(wang.id), "successor_id": str(wang.id), "reason": "x"},
    )
    assert response.status_code == 200
    assert current(firm) == {"primary": wang.id}


def test_a_street_user_reassigns_only_within_its_street(
    client, login_as, make_user, make_firm, make_street, street, commissioners, assign
):
    wang, li, _ = commissioners
    other_street = make_street()
    outsider = make_user("commissioner", street=other_street, display_name="外街道专员")
    outsiders_firm = make_firm(street=other_street)
    assign(outsiders_firm, outsider, "primary")
    firm = make_firm(street=street)
    assign(firm, wang, "primary")
    login_as(make_user("street", street=street))

    page = client.get("/firms/reassign").get_data(as_text=True)
    assert "王专员" in page and "外街道专员" not in page
    for leaving, successor in ((outsider, li), (wang, outsider)):
        response = post_form(
            client,
            "/firms/reassign",
            {"leaving_id": str(leaving.id), "successor_id": str(successor.id), "reason": "x"},
        )
        assert response.status_code in (200, 403)
    assert current(outsiders_firm) == {"primary": outsider.id}
    assert current(firm) == {"primary": wang.id}

    response = post_form(
        client,
        "/firms/reassign",
        {"leaving_id": str(wang.id), "successor_id": str(li.id), "reason": "调岗"},
    )
    assert response.status_code == 302
    assert current(firm) == {"primary": li.id}


def test_the_reassign_page_shows_how_many_firms_each_commissioner_has(
    client, login_as, make_firm, street, commissioners, assign
):
    login_as("office")
    wang, li, _ = commissioners
    for _ in range(3):
        assign(make_firm(street=street), wang, "primary")
    assign(make_firm(street=street), li, "backup")
    page = client.get("/firms/reassign").get_data(as_text=True)
    assert re.search(rf'commissioner_id={wang.id}">3</a>', page)
    assert re.search(rf'commissioner_id={li.id}">1</a>', page)


@pytest.mark.parametrize("role", ["commissioner", "leader", "department", "firm"])
def test_only_the_office_and_streets_reassign_in_bulk(client, login_as, role):
    login_as(role)
    assert client.get("/firms/reassign").status_code == 403


# -- my firms ----------------------------------------------------------------------------


def test_my_firms_lists_exactly_the_commissioners_current_firms(
    client, login_as, make_firm, street, commissioners, assign
):
    wang, li, _ = commissioners
    primary = make_firm(street=street, name="主岗企业")
    backup = make_firm(street=street, name="备岗企业")
    handed_on = make_firm(street=street, name="已移交企业")
    make_firm(street=street, name="同事的企业")
    assign(primary, wang, "primary")
    assign(backup, li, "primary")
    assign(backup, wang, "backup")
    assign(li_firm := make_firm(street=street, name="李的企业"), li, "primary")
    old = assign(handed_on, wang, "primary")
    old.ended_at = old.started_at
    db.session.commit()

    login_as(wang)
    page = client.get("/firms/mine").get_data(as_text=True)
    listed = set(re.findall(r'<a href="/firms/\d+">([^<]+)</a>', page))
    assert listed == {"主岗企业", "备岗企业"}
    assert li_firm.name not in page
    # A commissioner lands on its day (its firms, demands, cases) after logging in.
    assert client.get("/").headers["Location"].endswith("/my-day/")


def test_my_firms_says_so_when_nothing_is_assigned(
    client, login_as, make_firm, street, commissioners
):
    make_firm(street=street)
    login_as(commissioners[0])
    english(client)
    page = client.get("/firms/mine").get_data(as_text=True)
    assert "No firm is assigned to you yet." in page


@pytest.mark.parametrize("role", ["office", "street", "leader", "department", "firm"])
def test_my_firms_is_for_commissioners(client, login_as, role):
    login_as(role)
    assert client.get("/firms/mine").status_code == 403


def test_moving_a_firm_to_another_street_ends_its_old_streets_assignments(
    client, login_as, make_street, make_firm, make_user, assign
):
    from crm.firms.services import MOVED_STREET_REASON, update_firm

    home, new_home = make_street(), make_street()
    firm = make_firm(street=home)
    commissioner = make_user("commissioner", street=home)
    assign(firm, commissioner, "primary")
    office = make_user("office")

    update_firm(firm, {"street_id": new_home.id}, actor=office)
    db.session.commit()

    ended = firm.assignments[0]
    assert ended.ended_at is not None
    assert ended.end_reason == MOVED_STREET_REASON
    assert firm.primary_commissioner is None
