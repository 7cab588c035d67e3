"""The case pages: the board (its filters and its fixed number of statements), opening a
case, and the case page with its checklist, moves, forms and timeline."""

import re

import pytest
from flask import render_template_string
from sqlalchemy import select

from crm.assistance import queries, services
from crm.assistance.models import AssistanceCase, CaseType, Prospect
from crm.extensions import db
from tests.conftest import english, login, post_form


def case_type(code: str) -> CaseType:
    return db.session.scalar(select(CaseType).where(CaseType.code == code))


@pytest.fixture
def street(make_street):
    return make_street(name="华阳路街道")


@pytest.fixture
def commissioner(make_user, street):
    return make_user("commissioner", street=street, display_name="王专员")


@pytest.fixture
def office(make_user):
    return make_user("office", display_name="李科员")


@pytest.fixture
def open_case(office, commissioner, make_firm, street):
    def _open(code="SITE", *, firm=None, prospect=None, owner=None, **kw):
        if prospect is None and firm is None:
            firm = make_firm(street=street)
        case = services.open_case(
            case_type=case_type(code),
            actor=office,
            title=kw.pop("title", "帮办事项"),
            owner=owner or commissioner,
            firm=firm,
            prospect=prospect,
            **kw,
        )
        db.session.commit()
        return case

    return _open


def board_cards(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-case="(\d+)"', html)}


# -- the board ----------------------------------------------------------------------------


def test_the_board_runs_the_same_statements_for_3_or_30_cases(
    client, login_as, open_case, count_queries, office
):
    login_as(office)
    url = f"/cases/?type={case_type('SITE').id}"

    def statements() -> int:
        with count_queries() as queries_run:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries_run)

    for _ in range(3):
        open_case("SITE", expected_investment=100)
    few = statements()
    for _ in range(27):
        open_case("SITE", expected_investment=100)
    assert statements() == few
    assert len(board_cards(client.get(url).get_data(as_text=True))) == 30


def test_a_column_shows_its_first_cards_and_links_to_the_rest(
    client, login_as, open_case, office, monkeypatch
):
    monkeypatch.setattr(queries, "CARDS_PER_COLUMN", 2)
    cases = [open_case("SITE") for _ in range(3)]
    login_as(office)
    english(client)
    html = client.get(f"/cases/?type={case_type('SITE').id}").get_data(as_text=True)
    board = html.split("data-board", 1)[1].split("data-compact", 1)[0]
    assert board_cards(board) == {cases[0].id, cases[1].id}
    assert "1 more" in board
    stage = case_type("SITE").stages[0].id
    listing = client.get(f"/cases/?type={case_type('SITE').id}&stage_id={stage}")
    assert board_cards(listing.get_data(as_text=True)) == {c.id for c in cases}


def test_the_board_has_a_tab_per_active_type_and_opens_on_the_first(client, login_as, office):
    case_type("HOUSE").active = False
    db.session.commit()
    login_as(office)
    html = client.get("/cases/").get_data(as_text=True)
    assert "工商注册" in html and "人才落户" in html and "人才住房" not in html
    assert 'aria-current="page"' in html.split("工商注册")[0][-300:]
    for stage in case_type("REG").stages:
        assert stage.name in html


def test_board_filters(
    client, login_as, open_case, make_user, make_firm, street, office, commissioner
):
    other_owner = make_user("commissioner", street=street)
    mine = open_case("SITE", firm=make_firm(street=street, name="甲公司"))
    theirs = open_case("SITE", firm=make_firm(street=street, name="乙公司"), owner=other_owner)
    prospect = Prospect(name="丙待落户", street_id=street.id, created_by_id=office.id)
    db.session.add(prospect)
    db.session.commit()
    coming = open_case("SITE", prospect=prospect)
    dropped = open_case("SITE")
    services.drop_case(dropped, actor=office, reason="企业放弃")
    db.session.commit()
    login_as(commissioner)
    base = f"/cases/?type={case_type('SITE').id}"

    def cards(query: str = "") -> set[int]:
        return board_cards(client.get(base + query).get_data(as_text=True))

    assert cards() == {mine.id, theirs.id, coming.id}
    assert cards("&mine=y") == {mine.id, coming.id}
    assert cards(f"&owner_id={other_owner.id}") == {theirs.id}
    assert cards("&q=乙公司") == {theirs.id}
    assert cards("&q=丙待") == {coming.id}
    assert cards("&state=dropped") == {dropped.id}
    html = client.get(base + "&q=丙待").get_data(as_text=True)
    assert "data-prospect" in html


def test_a_street_sees_only_its_cases_and_the_office_narrows_by_street(
    app, client, login_as, open_case, make_user, make_firm, make_street, office
):
    away = make_street()
    here = open_case("SITE")
    there = open_case(
        "SITE", firm=make_firm(street=away), owner=make_user("commissioner", street=away)
    )
    login_as("street", street=here.street)
    url = f"/cases/?type={case_type('SITE').id}"
    assert board_cards(client.get(url).get_data(as_text=True)) == {here.id}
    client = app.test_client()
    login(client, office.username)
    assert board_cards(client.get(url).get_data(as_text=True)) == {here.id, there.id}
    narrowed = client.get(url + f"&street_id={away.id}").get_data(as_text=True)
    assert board_cards(narrowed) == {there.id}


def test_a_department_sees_only_the_cases_it_is_involved_in(
    client, login_as, open_case, make_department, make_user
):
    dept = make_department()
    involved = open_case("SITE", departments=[dept])
    open_case("SITE")
    login_as(make_user("department", department=dept))
    html = client.get(f"/cases/?type={case_type('SITE').id}").get_data(as_text=True)
    assert board_cards(html) == {involved.id}
    page = client.get(f"/cases/{involved.id}").get_data(as_text=True)
    assert 'id="action-note"' in page and f"cases/{involved.id}/advance" not in page


# -- opening a case -----------------------------------------------------------------------


def test_open_a_case_for_a_firm(client, login_as, make_firm, street, commissioner, make_department):
    firm = make_firm(street=street)
    dept = make_department()
    login_as(commissioner)
    url = f"/cases/new?firm_id={firm.id}"
    page = client.get(url).get_data(as_text=True)
    assert firm.name in page
    response = post_form(
        client,
        url,
        {
            "case_type_id": case_type("FIN").id,
            "title": "流动资金贷款",
            "owner_id": commissioner.id,
            "expected_investment": "2000",
            "department_ids": [dept.id],
        },
    )
    assert response.status_code == 302
    case = db.session.scalar(select(AssistanceCase))
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    assert case.firm_id == firm.id and case.departments[0].id == dept.id
    assert case.number in client.get(response.headers["Location"]).get_data(as_text=True)


def test_open_a_case_for_a_prospect(client, login_as, street, commissioner, office):
    prospect = Prospect(name="待落户生物", street_id=street.id, created_by_id=office.id)
    db.session.add(prospect)
    db.session.commit()
    login_as(commissioner)
    url = f"/cases/new?prospect_id={prospect.id}"
    assert "待落户生物" in client.get(url).get_data(as_text=True)
    response = post_form(
        client,
        url,
        {"case_type_id": case_type("REG").id, "title": "设立登记", "owner_id": commissioner.id},
    )
    assert response.status_code == 302
    case = db.session.scalar(select(AssistanceCase))
    assert case.prospect_id == prospect.id and case.firm_id is None


def test_a_prospect_of_another_street_is_not_found(
    client, login_as, make_street, make_user, office
):
    prospect = Prospect(name="别处", street_id=make_street().id, created_by_id=office.id)
    db.session.add(prospect)
    db.session.commit()
    login_as("commissioner")
    assert client.get(f"/cases/new?prospect_id={prospect.id}").status_code == 404


def test_a_refused_new_case_keeps_what_was_typed(client, login_as, make_firm, street, commissioner):
    firm = make_firm(street=street)
    login_as(commissioner)
    url = f"/cases/new?firm_id={firm.id}"
    response = post_form(
        client,
        url,
        {
            "case_type_id": case_type("SITE").id,
            "title": "",
            "owner_id": commissioner.id,
            "expected_investment": "345.5",
            "expected_jobs": "12",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="345.50"' in html or 'value="345.5"' in html
    assert 'value="12"' in html and "is-invalid" in html
    assert db.session.scalar(select(AssistanceCase)) is None


# -- the case page ------------------------------------------------------------------------


def test_the_case_page_shows_the_checklist_moves_and_timeline(
    client, login_as, open_case, commissioner
):
    case = open_case("SITE")
    login_as(commissioner)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    for item in case.checklist:
        assert f'data-item="{item.id}"' in html and item.label in html
    assert 'data-event="opened"' in html
    # The first stage's item is open: the advance button waits, saying why.
    assert 'data-blocked="advance"' in html and 'data-blocked="land"' in html
    assert 'id="action-drop"' in html


def test_ticking_and_advancing_from_the_page(client, login_as, open_case, commissioner):
    case = open_case("SITE")
    first = next(i for i in case.checklist if i.stage_id == case.stage_id)
    login_as(commissioner)
    english(client)
    page = f"/cases/{case.id}"
    response = post_form(
        client, f"/cases/{case.id}/items/{first.id}", {"tick-done": "1"}, form_url=page
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#checklist")
    html = client.get(page).get_data(as_text=True)
    assert "data-done" in html and 'id="action-advance"' in html
    response = post_form(
        client, f"/cases/{case.id}/advance", {"advance-version": case.version}, form_url=page
    )
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.stage.position == 1
    html = client.get(page).get_data(as_text=True)
    assert 'data-event="advanced"' in html


def test_a_refused_move_is_answered_422_with_the_reason(client, login_as, open_case, commissioner):
    case = open_case("SITE")
    login_as(commissioner)
    english(client)
    page = f"/cases/{case.id}"
    response = post_form(
        client, f"/cases/{case.id}/land", {"land-version": case.version}, form_url=page
    )
    assert response.status_code == 422
    assert "last stage" in response.get_data(as_text=True)
    response = post_form(
        client, f"/cases/{case.id}/drop", {"drop-version": case.version}, form_url=page
    )
    assert response.status_code == 422
    db.session.refresh(case)
    assert case.state == "open"


def test_a_stale_move_is_answered_409_naming_who_changed_it(
    client, login_as, open_case, commissioner, office
):
    case = open_case("SITE")
    seen = case.version
    services.update_details(case, actor=office, title="改了标题", owner=commissioner)
    db.session.commit()
    login_as(commissioner)
    response = post_form(
        client,
        f"/cases/{case.id}/drop",
        {"drop-version": seen, "drop-reason": "企业放弃"},
        form_url=f"/cases/{case.id}",
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "李科员" in html and "企业放弃" in html
    db.session.refresh(case)
    assert case.state == "open"


def test_a_refused_referral_keeps_what_was_typed(client, login_as, open_case, commissioner):
    case = open_case("FIN")
    login_as(commissioner)
    response = post_form(
        client,
        f"/cases/{case.id}/referrals",
        {"referral-bank": "浦发银行", "referral-amount_requested": "0"},
        form_url=f"/cases/{case.id}",
    )
    assert response.status_code == 422
    assert 'value="浦发银行"' in response.get_data(as_text=True)
    response = post_form(
        client,
        f"/cases/{case.id}/referrals",
        {"referral-bank": "浦发银行", "referral-amount_requested": "150"},
        form_url=f"/cases/{case.id}",
    )
    assert response.status_code == 302
    assert "浦发银行" in client.get(f"/cases/{case.id}").get_data(as_text=True)


def test_a_leader_reads_a_linked_firms_case_without_forms(
    client, login_as, open_case, make_user, make_firm, street
):
    leader = make_user("leader")
    case = open_case("SITE", firm=make_firm(street=street, leader_id=leader.id))
    login_as(leader)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert case.number in html and '<form method="post" action="/cases/' not in html


def test_the_firm_page_partial_lists_the_firms_cases(
    app, open_case, commissioner, make_firm, street
):
    firm = make_firm(street=street)
    case = open_case("HIRE", firm=firm, title="招聘研发人员")
    open_case("HIRE", title="别家的事")
    # Rendered as the firm page includes it, for the logged-in commissioner.
    with app.test_request_context():
        from flask_login import login_user

        login_user(commissioner)
        html = render_template_string('{% include "assistance/_firm_cases.html" %}', firm=firm)
    assert "招聘研发人员" in html and "别家的事" not in html
    assert f"/cases/{case.id}" in html and f"/cases/new?firm_id={firm.id}" in html
