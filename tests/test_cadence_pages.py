"""The visit cadence pages: the office edits each tier's cadence; the overdue list."""

import re
from datetime import datetime, timedelta

import pytest

from crm.extensions import db
from crm.visits import services
from crm.visits.models import VisitCadence
from crm.workcal.services import today
from tests.conftest import post_form

LONG_AGO = datetime(2020, 1, 1)


def _visit(firm, actor, days_ago):
    services.log_visit(
        firm,
        actor=actor,
        visited_on=today() - timedelta(days=days_ago),
        method="on_site",
        summary="走访。",
        courtesy_override="测试",
    )
    db.session.commit()


def _listed(body: str) -> set[int]:
    return {int(m) for m in re.findall(r'data-firm="(\d+)"', body)}


@pytest.fixture
def firms(make_street, make_firm, make_user, assign):
    """Firms of one street (local tier: 90 days) in every situation, and another street's."""
    street = make_street(name="华阳路街道")
    mine = make_user("commissioner", street=street)
    other = make_user("commissioner", street=street)
    office = make_user("office")

    def firm(name, tier="local", commissioner=mine, **kw):
        f = make_firm(street=street, name=name, tier=tier, created_at=LONG_AGO, **kw)
        if commissioner is not None:
            a = assign(f, commissioner, "primary")
            a.started_at = LONG_AGO
            db.session.commit()
        return f

    late = firm("上海久未走访有限公司")
    _visit(late, office, 100)
    recent = firm("上海刚走访有限公司")
    _visit(recent, office, 10)
    never = firm("上海从未走访有限公司", commissioner=None)
    newly = firm("上海新分配有限公司", commissioner=None)
    fresh = assign(newly, mine, "primary")  # taken on today: not due yet
    assert fresh.ended_at is None
    tier_change = firm("上海升级企业有限公司")
    _visit(tier_change, office, 45)
    others = firm("上海他人负责有限公司", commissioner=other)
    moved = firm("上海已迁出有限公司", status="moved_out")
    away = make_firm(street=make_street(), name="上海别街道有限公司", created_at=LONG_AGO)
    return {
        "street": street,
        "mine": mine,
        "late": late,
        "recent": recent,
        "never": never,
        "newly": newly,
        "tier_change": tier_change,
        "others": others,
        "moved": moved,
        "away": away,
    }


def test_overdue_lists_the_right_firms(client, login_as, firms):
    login_as("office")
    body = client.get("/cadence/overdue").get_data(as_text=True)
    f = firms
    assert _listed(body) == {f["late"].id, f["never"].id, f["others"].id, f["away"].id}
    # Ten days past the 90 of a local firm.
    row = body[body.index(f'data-firm="{f["late"].id}"') :]
    assert ">10</span>" in row[: row.index("</tr>")]


def test_moving_up_a_tier_makes_a_firm_overdue(client, login_as, firms):
    login_as("office")
    target = firms["tier_change"]
    assert target.id not in _listed(client.get("/cadence/overdue").get_data(as_text=True))
    target.tier = "district"  # 30 days; visited 45 days ago
    db.session.commit()
    body = client.get("/cadence/overdue?tier=district").get_data(as_text=True)
    assert _listed(body) == {target.id}


def test_a_shorter_interval_set_by_the_office_applies_at_once(client, login_as, firms):
    login_as("office")
    response = post_form(
        client,
        "/cadence/",
        {
            "district_interval": "30",
            "district_limit": "3",
            "sector_interval": "60",
            "sector_limit": "2",
            "local_interval": "7",
            "local_limit": "2",
            "none_interval": "180",
            "none_limit": "1",
        },
    )
    assert response.status_code == 302
    assert db.session.get(VisitCadence, "local").longest_interval_days == 7
    body = client.get("/cadence/overdue").get_data(as_text=True)
    assert firms["recent"].id in _listed(body)
    assert firms["tier_change"].id in _listed(body)


def test_the_cadence_form_refuses_zero_and_keeps_the_values(client, login_as):
    login_as("office")
    data = {f"{t}_interval": "30" for t in ("district", "sector", "local", "none")}
    data.update({f"{t}_limit": "2" for t in ("district", "sector", "local", "none")})
    data["none_limit"] = "0"
    data["sector_interval"] = "45"
    response = post_form(client, "/cadence/", data)
    assert response.status_code == 422
    assert 'value="45"' in response.get_data(as_text=True)
    assert db.session.get(VisitCadence, "sector").longest_interval_days == 60


def test_a_commissioner_sees_its_own_firms_first_then_its_street(client, login_as, firms):
    login_as(firms["mine"])
    f = firms
    body = client.get("/cadence/overdue").get_data(as_text=True)
    assert _listed(body) == {f["late"].id}
    body = client.get("/cadence/overdue?commissioner=").get_data(as_text=True)
    assert _listed(body) == {f["late"].id, f["never"].id, f["others"].id}
    body = client.get("/cadence/overdue?commissioner=none").get_data(as_text=True)
    assert _listed(body) == {f["never"].id}


def test_grouped_counts(client, login_as, firms):
    login_as("street", street=firms["street"])
    body = client.get("/cadence/overdue").get_data(as_text=True)
    counts = body[body.index("data-counts") : body.index("<table")]
    assert firms["mine"].display_name in counts
    assert "华阳路街道" in counts and "<strong>3</strong>" in counts


def test_overdue_statement_count_does_not_grow_with_rows(
    client, login_as, make_street, make_firm, make_user, assign, count_queries
):
    street = make_street()
    commissioner = make_user("commissioner", street=street)

    def add(n):
        for _ in range(n):
            f = make_firm(street=street, created_at=LONG_AGO)
            assign(f, commissioner, "primary").started_at = LONG_AGO
        db.session.commit()

    login_as("office")

    def statements():
        with count_queries() as queries:
            assert client.get("/cadence/overdue?per_page=50").status_code == 200
        return len(queries)

    add(3)
    few = statements()
    add(27)
    assert statements() == few
    body = client.get("/cadence/overdue?per_page=50").get_data(as_text=True)
    assert len(_listed(body)) == 30
