"""Pipeline figures: recounted against the case rows they come from, and the page."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, true

from crm.assistance import pipeline
from crm.assistance.models import AssistanceCase, CaseStage, CaseType
from crm.extensions import db

_numbers = itertools.count(1)
PERIOD = pipeline.Period(date(2026, 1, 1), date(2026, 6, 30))


def _stages(type_id: int) -> list[CaseStage]:
    return list(
        db.session.scalars(
            select(CaseStage).where(CaseStage.case_type_id == type_id).order_by(CaseStage.position)
        )
    )


def _case(owner, street, *, type_id=1, stage=0, state="open", firm=None, **kw):
    stage_row = _stages(type_id)[stage]
    case = AssistanceCase(
        number=f"BB2026{next(_numbers):08d}",
        case_type_id=type_id,
        firm_id=firm.id if firm is not None else None,
        street_id=street.id,
        title="帮办事项",
        stage_id=stage_row.id,
        state=state,
        owner_id=owner.id,
        created_by_id=owner.id,
        opened_on=kw.pop("opened_on", date(2026, 1, 5)),
        **kw,
    )
    db.session.add(case)
    db.session.commit()
    return case


@pytest.fixture
def streets(make_street):
    return make_street(), make_street()


@pytest.fixture
def owner(make_user):
    return make_user("office")


def _mixed_cases(owner, home, away, make_firm):
    """A spread of cases over two types, their stages, states and both streets."""
    cases = [
        _case(owner, home, stage=0, expected_investment=Decimal("100.50"), expected_jobs=10),
        _case(owner, home, stage=0, registered_capital=Decimal("300"), expected_jobs=None),
        _case(owner, home, stage=2, expected_investment=Decimal("20"), registered_capital=5),
        _case(owner, away, stage=2, expected_investment=Decimal("7"), expected_jobs=3),
        _case(owner, home, type_id=4, stage=1, expected_investment=Decimal("1000")),
        _case(
            owner,
            home,
            stage=3,
            state="landed",
            landed_on=date(2026, 3, 1),
            expected_investment=Decimal("50"),
            expected_jobs=4,
        ),
        _case(
            owner,
            away,
            type_id=4,
            stage=3,
            state="landed",
            landed_on=date(2026, 2, 1),
            registered_capital=Decimal("80"),
        ),
        _case(owner, home, state="dropped", dropped_on=date(2026, 2, 2), drop_reason="迁往外区"),
        _case(owner, away, state="dropped", dropped_on=date(2026, 2, 3), drop_reason="迁往外区"),
        _case(
            owner,
            home,
            type_id=4,
            state="dropped",
            dropped_on=date(2026, 4, 1),
            drop_reason="资金未到位",
        ),
    ]
    return cases


def _recount(rows, keep):
    """The figures the slow way, from the rows."""
    open_cells, landed, dropped = {}, {}, {}
    for c in rows:
        if not keep(c):
            continue
        if c.state == "open":
            cell = open_cells.setdefault((c.case_type_id, c.stage_id), [0, 0, 0, 0])
            cell[0] += 1
            cell[1] += c.expected_investment or 0
            cell[2] += c.registered_capital or 0
            cell[3] += c.expected_jobs or 0
        elif c.state == "landed" and PERIOD.start <= c.landed_on <= PERIOD.end:
            cell = landed.setdefault(c.case_type_id, [0, 0, 0, 0, 0])
            cell[0] += 1
            cell[1] += c.expected_investment or 0
            cell[2] += c.registered_capital or 0
            cell[3] += c.expected_jobs or 0
            cell[4] += (c.landed_on - c.opened_on).days
        elif c.state == "dropped" and PERIOD.start <= c.dropped_on <= PERIOD.end:
            dropped[c.drop_reason] = dropped.get(c.drop_reason, 0) + 1
    return open_cells, landed, dropped


@pytest.mark.parametrize("scope", ["all", "home street"])
def test_figures_recount_the_rows(app, streets, owner, make_firm, scope):
    home, away = streets
    rows = _mixed_cases(owner, home, away, make_firm)
    if scope == "all":
        where, keep = true(), lambda c: True
    else:
        where, keep = AssistanceCase.street_id == home.id, lambda c: c.street_id == home.id

    figures = pipeline.pipeline(where, PERIOD)
    open_cells, landed, dropped = _recount(rows, keep)

    shown_open = {
        (row.case_type.id, stage.id): [cell.count, cell.investment, cell.capital, cell.jobs]
        for row in figures.types
        for stage, cell in row.stages
        if cell.count
    }
    assert shown_open == open_cells
    shown_landed = {
        row.case_type.id: [
            row.landed.count,
            row.landed.investment,
            row.landed.capital,
            row.landed.jobs,
            row.landed.days,
        ]
        for row in figures.types
        if row.landed.count
    }
    assert shown_landed == landed
    assert dict(figures.drop_reasons) == dropped
    assert figures.open_total.count == sum(c[0] for c in open_cells.values())
    assert figures.dropped_total == sum(dropped.values())
    # Every stage of a type in use is listed, counted or not, in its order.
    registration = next(row for row in figures.types if row.case_type.id == 1)
    assert [s.name for s, _ in registration.stages] == [
        "对接需求",
        "准备材料",
        "提交申请",
        "领取执照",
    ]


def test_landed_in_the_period_includes_both_ends(app, streets, owner):
    home, _ = streets
    for day in (
        PERIOD.start - timedelta(days=1),
        PERIOD.start,
        PERIOD.end,
        PERIOD.end + timedelta(days=1),
    ):
        _case(owner, home, stage=3, state="landed", opened_on=date(2025, 12, 1), landed_on=day)

    figures = pipeline.pipeline(true(), PERIOD)

    assert figures.landed_total.count == 2
    assert figures.open_total.count == 0


def test_average_days_to_land(app, streets, owner):
    home, _ = streets
    _case(
        owner,
        home,
        stage=3,
        state="landed",
        opened_on=date(2026, 2, 1),
        landed_on=date(2026, 2, 11),
    )  # 10 days
    _case(
        owner,
        home,
        stage=3,
        state="landed",
        opened_on=date(2026, 1, 31),
        landed_on=date(2026, 2, 21),
    )  # 21 days, across a month's end
    _case(
        owner,
        home,
        type_id=4,
        stage=3,
        state="landed",
        opened_on=date(2026, 3, 1),
        landed_on=date(2026, 3, 1),
    )  # landed the day it opened

    figures = pipeline.pipeline(true(), PERIOD)

    by_type = {row.case_type.id: row.landed.avg_days for row in figures.types}
    assert by_type[1] == 15.5
    assert by_type[4] == 0
    assert figures.landed_total.avg_days == round(31 / 3, 1)
    assert by_type[2] is None  # nothing landed: no average, not zero


def test_a_retired_type_shows_only_with_something_to_count(app, streets, owner):
    home, _ = streets
    db.session.get(CaseType, 2).active = False
    db.session.get(CaseType, 3).active = False
    db.session.commit()
    _case(owner, home, type_id=3, stage=1)

    ids = [row.case_type.id for row in pipeline.pipeline(true(), PERIOD).types]

    assert 2 not in ids and 3 in ids


# -- the page --------------------------------------------------------------------------------


def test_a_street_sees_its_street_and_a_leader_its_firms(
    client, login_as, streets, owner, make_firm, make_user
):
    home, away = streets
    leader = make_user("leader")
    linked = make_firm(street=away, leader_id=leader.id)
    _case(owner, home, expected_investment=Decimal("1111.5"))
    _case(owner, away, expected_investment=Decimal("2222.5"), firm=linked)
    _case(owner, away, expected_investment=Decimal("4444.5"))

    login_as("street", street=home)
    body = client.get("/pipeline/").get_data(as_text=True)
    assert "1,111.5" in body and "2,222.5" not in body  # 万元, grouped

    client.post("/logout", data={"csrf_token": _token(client)})
    login_as(leader)
    body = client.get("/pipeline/").get_data(as_text=True)
    assert "2,222.5" in body and "1,111.5" not in body and "4,444.5" not in body


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/account/password")


def test_the_office_narrows_to_a_street_and_a_period(client, login_as, streets, owner):
    home, away = streets
    _case(owner, home, stage=3, state="landed", landed_on=date(2026, 3, 1), expected_jobs=5)
    _case(owner, away, stage=3, state="landed", landed_on=date(2026, 3, 2), expected_jobs=7)
    login_as("office")

    body = client.get(f"/pipeline/?start=2026-03-01&end=2026-03-01&street_id={home.id}").get_data(
        as_text=True
    )

    assert 'data-figure="landed">1<' in body
    everything = client.get("/pipeline/?start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    assert 'data-figure="landed">2<' in everything


def test_open_counts_link_to_the_board_narrowed_to_them(client, login_as, streets, owner):
    home, _ = streets
    stage = _stages(1)[2]
    _case(owner, home, stage=2)
    login_as("office")

    body = client.get("/pipeline/").get_data(as_text=True)

    assert f'href="/cases/?type=1&amp;stage_id={stage.id}"' in body
    assert 'href="/cases/?type=1"' in body


def test_a_wrong_period_is_shown_and_the_default_used(client, login_as):
    login_as("commissioner")
    response = client.get("/pipeline/?start=2026-05-01&end=2026-04-01")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "is-invalid" in body and 'value="2026-04-01"' in body  # shown as typed, marked
    assert client.get("/pipeline/?start=not-a-date&street_id=x").status_code == 200


def test_a_department_has_no_figures(client, login_as):
    login_as("department")
    assert client.get("/pipeline/").status_code == 403


def test_the_page_runs_a_fixed_number_of_statements(
    client, login_as, streets, owner, make_firm, count_queries
):
    home, away = streets
    login_as("office")
    _case(owner, home)
    with count_queries() as few:
        client.get("/pipeline/")
    _mixed_cases(owner, home, away, make_firm)
    _mixed_cases(owner, away, home, make_firm)
    with count_queries() as many:
        response = client.get("/pipeline/")
    assert response.status_code == 200
    assert len(many) == len(few)
