"""The dashboard, the rows behind its numbers, and the help page, as their users see them.

The figures themselves are tested against a recount in tests/test_stats_definitions.py;
here: that each user sees the figures of its own scope, that a number and the list it
links to agree, that a report as of a past moment keeps its figures, that a wrong address
is a form error, and that the page runs the same statements however many demands there are.
"""

import html
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from crm.demands import services
from crm.demands.models import DemandEvent, DemandTask
from crm.demands.services import Unit
from crm.extensions import db
from crm.stats import definitions as figures
from crm.stats.views import FIGURE_LABELS
from crm.timeutil import local_time, utcnow
from tests.conftest import english

_FIGURE = re.compile(r'data-figure="([\w-]+)"[^>]*>\s*<a href="([^"]+)" data-count="(\d+)"')
_TOTAL = re.compile(r'data-total="(\d+)"')


def figures_on(html_text: str) -> dict[str, tuple[int, str]]:
    """Each card's figure name → (its number, the address it links to)."""
    return {
        name: (int(count), html.unescape(href)) for name, href, count in _FIGURE.findall(html_text)
    }


def total_on(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return int(_TOTAL.search(response.get_data(as_text=True)).group(1))


def resolve(demand, office, department, handler, *, rating=None, firm_user=None):
    """Take ``demand`` through the real services to resolved (and rated)."""
    services.accept_demand(demand, actor=office)
    services.dispatch_demand(demand, actor=office, level=3, lead=Unit(department=department))
    db.session.commit()
    task = demand.tasks[0]
    services.accept_task(task, actor=handler)
    services.resolve_task(task, actor=handler, resolution="已办结")
    db.session.commit()
    if rating:
        services.rate_demand(demand, actor=firm_user, rating=rating)
        db.session.commit()


@pytest.fixture
def district(make_street, make_firm, make_user, make_department, make_demand):
    """Two streets; in the first two demands (one resolved), in the second one."""
    east, west = make_street(name="东街道"), make_street(name="西街道")
    office = make_user("office")
    department = make_department(name="区商务委")
    handler = make_user("department", department=department)
    east_firm, west_firm = make_firm(street=east), make_firm(street=west)
    done = make_demand(east_firm, actor=office, channel="visit")
    resolve(done, office, department, handler)
    make_demand(east_firm, actor=office)
    other = make_demand(west_firm, actor=office)
    return {
        "east": east,
        "west": west,
        "office": office,
        "department": department,
        "handler": handler,
        "east_firm": east_firm,
        "west_firm": west_firm,
        "done": done,
        "other": other,
    }


def test_office_sees_the_figures_and_the_breakdowns(client, login_as, district):
    login_as("office")
    english(client)
    page = client.get("/stats/").get_data(as_text=True)
    shown = figures_on(page)
    assert shown["collected"][0] == 3
    assert shown["resolved"][0] == 1
    assert 'data-figure="resolution_rate"' in page and "33.3%" in page
    # The breakdown by street names both streets, with their own counts.
    by_street = page[page.index('id="by-street"') :]
    by_street = by_street[: by_street.index("</table>")]
    assert "东街道" in by_street and "西街道" in by_street
    assert f'data-key="{district["east"].id}"' in by_street
    assert "区商务委" in page  # the department's row
    assert "<svg" in page and "<title" in page  # the charts, drawn in the page
    assert "What the figures mean" in page


def test_each_number_equals_the_rows_it_links_to(client, login_as, district):
    login_as("office")
    page = client.get("/stats/").get_data(as_text=True)
    shown = figures_on(page)
    for name in ("collected", "resolved", "overdue-now", "supervised-now", "visits"):
        count, url = shown[name]
        assert total_on(client, url) == count, name
    # A cell of a breakdown: the east street's demands collected.
    east = district["east"].id
    cell = re.search(rf'<tr data-key="{east}">.*?<a href="([^"]+)" data-count="(\d+)"', page, re.S)
    url, count = html.unescape(cell.group(1)), int(cell.group(2))
    assert count == 2 and "dim=street" in url
    assert total_on(client, url) == 2
    rows = client.get(url).get_data(as_text=True)
    assert district["done"].number in rows and district["other"].number not in rows
    # A month of the trend.
    month = local_time(utcnow()).strftime("%Y-%m")
    assert total_on(client, f"/stats/rows?figure=collected&dim=month&key={month}") == 3


def test_a_report_as_of_a_past_moment_keeps_its_figures(client, login_as, district, make_user):
    done = district["done"]
    # Its history moved two hours back, so that a moment between it and now exists.
    for event in db.session.scalars(select(DemandEvent).where(DemandEvent.demand_id == done.id)):
        event.at -= timedelta(hours=2)
    for task in db.session.scalars(select(DemandTask).where(DemandTask.demand_id == done.id)):
        task.dispatched_at -= timedelta(hours=2)
    done.submitted_at -= timedelta(hours=2)
    db.session.commit()
    moment = local_time(utcnow() - timedelta(hours=1))
    # Afterwards the firm is not satisfied: the demand reopens.
    services.rate_demand(
        done, actor=make_user("firm", firm=district["east_firm"]), rating="not_satisfied"
    )
    db.session.commit()
    assert done.state == "reopened"

    login_as("office")
    since = (moment.date() - timedelta(days=2)).isoformat()
    now = figures_on(client.get(f"/stats/?from={since}").get_data(as_text=True))
    assert now["resolved"][0] == 0
    as_of = moment.strftime("%Y-%m-%d %H:%M")
    then = figures_on(client.get(f"/stats/?from={since}&as_of={as_of}").get_data(as_text=True))
    # Then it was resolved, and the other two demands had not come in yet.
    assert then["resolved"][0] == 1 and then["collected"][0] == 1
    # The rows behind it are those of that moment too.
    assert total_on(client, then["resolved"][1]) == 1
    # A day alone is the end of that day: today's, so far, is now.
    today = local_time(utcnow()).date().isoformat()
    page = client.get(f"/stats/?from={since}&as_of={today}").get_data(as_text=True)
    assert "as-of time is in the future" not in page
    assert figures_on(page)["resolved"][0] == 0


def test_a_street_sees_only_its_street(client, login_as, district):
    east, west = district["east"], district["west"]
    login_as("street", street=east)
    page = client.get("/stats/").get_data(as_text=True)
    assert figures_on(page)["collected"][0] == 2
    assert 'name="street_id"' not in page  # its street is not a choice
    # Asking for the other street in the address changes nothing.
    asked = figures_on(client.get(f"/stats/?street_id={west.id}").get_data(as_text=True))
    assert asked["collected"][0] == 2
    rows = client.get(f"/stats/rows?figure=collected&street_id={west.id}")
    text = rows.get_data(as_text=True)
    assert int(_TOTAL.search(text).group(1)) == 2
    assert district["other"].number not in text
    # Nor does drilling into the other street's cell.
    cell = client.get(f"/stats/rows?figure=collected&dim=street&key={west.id}")
    assert cell.status_code == 200
    assert district["other"].number not in cell.get_data(as_text=True)
    assert int(_TOTAL.search(cell.get_data(as_text=True)).group(1)) == 2


def test_a_leader_sees_only_its_linked_firms(
    client, login_as, district, make_user, make_firm, make_demand
):
    leader = make_user("leader")
    linked = make_firm(street=district["west"], tier="district", leader_id=leader.id)
    mine = make_demand(linked, actor=district["office"])
    login_as(leader)
    shown = figures_on(client.get("/stats/").get_data(as_text=True))
    assert shown["collected"][0] == 1
    rows = client.get(shown["collected"][1]).get_data(as_text=True)
    assert mine.number in rows and district["other"].number not in rows


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("from=2026-13-01", "Not a valid date value."),
        ("from=2026-06-01&to=2026-05-01", "The end date is before the start date."),
        ("as_of=yesterday", "Enter a date, or a date and time"),
        ("as_of=2999-01-01", "The as-of time is in the future."),
        ("street_id=999999", "Not a valid choice"),
        ("street_id=abc", "Invalid Choice: could not coerce."),
        ("tier=galactic", "Not a valid choice"),
    ],
)
def test_a_wrong_filter_is_a_form_error(client, login_as, district, query, error):
    login_as("office")
    english(client)
    response = client.get(f"/stats/?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert error in html.unescape(page)
    # The figures fall back to their defaults: this year, the whole district.
    assert figures_on(page)["collected"][0] == 3


def test_a_wrong_drill_down_is_a_form_error_or_a_bad_request(client, login_as, district):
    login_as("office")
    english(client)
    assert client.get("/stats/rows?figure=everything").status_code == 400
    assert client.get("/stats/rows?kind=nonsense").status_code == 400
    no_key = client.get("/stats/rows?figure=collected&dim=street")
    assert no_key.status_code == 200
    assert "Say which row of the breakdown." in no_key.get_data(as_text=True)
    wrong_key = client.get("/stats/rows?figure=collected&dim=month&key=2026-13")
    assert "There is no such row in this breakdown." in wrong_key.get_data(as_text=True)
    assert int(_TOTAL.search(wrong_key.get_data(as_text=True)).group(1)) == 3


def test_the_help_page_lists_every_definition(client, login_as):
    login_as("street")
    english(client)
    page = html.unescape(client.get("/stats/help").get_data(as_text=True))
    with force_locale("en"):
        for name, text in figures.DEFINITIONS.items():
            assert str(text) in page, name
            assert str(FIGURE_LABELS[name]) in page, name


def test_the_dashboard_runs_the_same_statements_for_more_demands(
    client, login_as, district, make_firm, make_demand, count_queries
):
    login_as("office")
    client.get("/stats/")
    with count_queries() as few:
        client.get("/stats/")
    for n in range(17):
        firm = make_firm(street=district["west" if n % 2 else "east"])
        make_demand(firm, actor=district["office"], channel=("portal", "visit", "hotline")[n % 3])
    with count_queries() as many:
        page = client.get("/stats/").get_data(as_text=True)
    assert figures_on(page)["collected"][0] == 20
    assert len(many) == len(few)
