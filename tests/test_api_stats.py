"""GET /api/v1/stats/demands and /stats/visits: the figures of DESIGN §9 as
crm.stats.definitions counts them, for the period, moment and slice asked, narrowed to what
the caller may see; bad periods and unknown parameters refused with the field to blame."""

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import pytest

from crm.demands import services
from crm.demands.services import Unit
from crm.extensions import db
from crm.stats import definitions as figures
from crm.stats.definitions import Slice, Window
from crm.timeutil import SHANGHAI, local_time, utcnow
from crm.visits.models import Visit
from crm.workcal.services import today
from tests.test_api_world import Caller, get_token


def _iso(moment: datetime) -> str:
    """A stored (naive UTC) moment as the Shanghai time a client would send."""
    return local_time(moment).replace(tzinfo=SHANGHAI).isoformat()


@pytest.fixture
def ledger(make_street, make_department, make_firm, make_user, make_demand, category):
    """Demands in two streets: resolved (level 3, a department), accepted, just submitted,
    and one rejected, which is never collected."""
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    office = make_user("office")
    leader = make_user("leader")
    departments = [make_department(name="区市场监管局"), make_department(name="区人社局")]
    handler = make_user("department", department=departments[0])
    key = make_firm(street=home, tier="district", leader_id=leader.id)
    plain = make_firm(street=home)
    far = make_firm(street=away, tier="sector")

    resolved = make_demand(key, actor=office, channel="visit")
    services.accept_demand(resolved, actor=office)
    services.dispatch_demand(
        resolved,
        actor=office,
        level=3,
        lead=Unit(department=departments[0]),
        co_units=[Unit(department=departments[1])],
    )
    db.session.commit()
    handlers = {departments[1].id: make_user("department", department=departments[1])}
    handlers[departments[0].id] = handler
    for task in sorted(resolved.tasks, key=lambda t: t.role != "co"):  # the lead last
        services.accept_task(task, actor=handlers[task.department_id])
        services.resolve_task(task, actor=handlers[task.department_id], resolution="已办结")
        db.session.commit()

    accepted = make_demand(plain, actor=office, channel="hotline", code="POLICY")
    services.accept_demand(accepted, actor=office)
    make_demand(far, actor=office, channel="walk_in")
    rejected = make_demand(far, actor=office, channel="hotline")
    services.reject_demand(rejected, actor=office, reason="重复提交")
    db.session.commit()
    return {
        "home": home,
        "away": away,
        "office": office,
        "leader": leader,
        "departments": departments,
        "firms": {"key": key, "plain": plain, "far": far},
        "resolved": resolved,
        "accepted": accepted,
        "category": category("POLICY"),
    }


@pytest.fixture
def as_(client, make_user):
    def _as(user_or_role, **kw) -> Caller:
        user = make_user(user_or_role, **kw) if isinstance(user_or_role, str) else user_or_role
        return Caller(client, get_token(client, user.username))

    return _as


def _get(caller: Caller, path: str, **params):
    return caller.get(f"{path}?{urlencode(params)}" if params else path)


def _expected(window: Window, where: Slice | None = None) -> dict:
    return figures.demand_figures(window, where or Slice()).as_dict()


def _this_year(moment: datetime) -> Window:
    """The default period, as of ``moment``."""
    return Window(date(today().year, 1, 1), today(), moment)


# -- the figures are the definitions' ------------------------------------------------------------


def test_the_figures_are_those_the_definitions_count(as_, ledger):
    moment = utcnow()
    day = today()
    answer = _get(
        as_(ledger["office"]),
        "/stats/demands",
        **{"from": day - timedelta(days=3), "to": day, "as_of": _iso(moment)},
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    expected = _expected(Window(day - timedelta(days=3), day, moment))
    assert body["figures"] == expected
    assert (expected["collected"], expected["resolved"], expected["accepted_in_time"]) == (3, 1, 2)
    assert body["window"] == {
        "from": (day - timedelta(days=3)).isoformat(),
        "to": day.isoformat(),
        "as_of": moment.isoformat() + "Z",
    }
    assert body["slice"] == {
        "street_id": None,
        "department_id": None,
        "category_id": None,
        "tier": None,
        "channel": None,
        "leader_id": None,
    }
    assert "groups" not in body
    assert set(body["definitions"]) == set(body["figures"])
    assert all(isinstance(text, str) and text for text in body["definitions"].values())


@pytest.mark.parametrize(
    "dimension", ["street_id", "department_id", "category_id", "tier", "channel"]
)
def test_each_slice_counts_as_the_definitions_do(as_, ledger, dimension):
    value = {
        "street_id": ledger["home"].id,
        "department_id": ledger["departments"][1].id,
        "category_id": ledger["category"].id,
        "tier": "none",
        "channel": "hotline",
    }[dimension]
    moment = utcnow()
    body = _get(
        as_(ledger["office"]), "/stats/demands", **{dimension: value, "as_of": _iso(moment)}
    ).get_json()
    assert body["slice"][dimension] == value
    expected = _expected(
        Window(date(today().year, 1, 1), today(), moment), Slice(**{dimension: value})
    )
    assert body["figures"] == expected
    assert 0 < expected["collected"] < 3  # a real slice: some demands, not all


def test_the_default_period_is_this_year_to_today(as_, ledger):
    body = _get(as_(ledger["office"]), "/stats/demands").get_json()
    assert body["window"]["from"] == date(today().year, 1, 1).isoformat()
    assert body["window"]["to"] == today().isoformat()
    assert body["figures"]["collected"] == 3
    only_to = _get(as_(ledger["office"]), "/stats/demands", to="2025-06-30").get_json()
    assert (only_to["window"]["from"], only_to["figures"]["collected"]) == ("2025-01-01", 0)


def test_rates_are_shares_or_null(as_, ledger):
    body = _get(as_(ledger["office"]), "/stats/demands").get_json()["figures"]
    assert body["resolution_rate"] == pytest.approx(1 / 3)
    assert body["satisfaction_rate"] is None  # nothing rated yet: no divisor
    empty = _get(as_(ledger["office"]), "/stats/demands", to="2025-06-30").get_json()["figures"]
    assert {empty[name] for name in ("resolution_rate", "on_time_rate", "response_rate")} == {None}


def test_a_past_as_of_gives_the_earlier_figures_after_a_later_change(as_, ledger, make_user):
    office = as_(ledger["office"])
    before = utcnow()
    earlier = _get(office, "/stats/demands", as_of=_iso(before)).get_json()["figures"]
    assert (earlier["resolved"], earlier["rated"]) == (1, 0)
    # Without as_of, the answer says the moment it was taken at, to ask for it again.
    taken_at = _get(office, "/stats/demands").get_json()["window"]["as_of"]
    assert taken_at.endswith("Z")

    # The firm is not satisfied afterwards: the demand reopens.
    firm_user = make_user("firm", firm=ledger["firms"]["key"])
    services.rate_demand(ledger["resolved"], actor=firm_user, rating="not_satisfied")
    db.session.commit()

    again = _get(office, "/stats/demands", as_of=_iso(before)).get_json()["figures"]
    assert again == earlier
    assert _get(office, "/stats/demands", as_of=taken_at).get_json()["figures"] == earlier
    # The same moment without an offset is Shanghai time; an unencoded "+" arrives as a space.
    naive = local_time(before).isoformat()
    assert _get(office, "/stats/demands", as_of=naive).get_json()["figures"] == earlier
    spaced = office.get(f"/stats/demands?as_of={_iso(before)}")  # "+08:00" → " 08:00"
    assert spaced.status_code == 200 and spaced.get_json()["figures"] == earlier

    now = _get(office, "/stats/demands").get_json()["figures"]
    assert (now["resolved"], now["rated"], now["not_satisfied"]) == (0, 1, 1)


# -- scope ---------------------------------------------------------------------------------------


def test_a_street_user_gets_its_own_streets_figures(as_, ledger):
    street = as_("street", street=ledger["home"])
    moment = utcnow()
    body = _get(street, "/stats/demands", as_of=_iso(moment)).get_json()
    assert body["slice"]["street_id"] == ledger["home"].id
    window = _this_year(moment)
    assert body["figures"] == _expected(window, Slice(street_id=ledger["home"].id))
    assert body["figures"]["collected"] == 2
    own = _get(street, "/stats/demands", street_id=ledger["home"].id, as_of=_iso(moment))
    assert own.get_json()["figures"] == body["figures"]


def test_a_street_user_asking_for_another_street_is_refused(as_, ledger):
    street = as_("street", street=ledger["home"])
    for path in ("/stats/demands", "/stats/visits"):
        answer = _get(street, path, street_id=ledger["away"].id, lang="en")
        assert answer.status_code == 403
        error = answer.get_json()["error"]
        assert error["code"] == "forbidden" and "outside your scope" in error["message"]


def test_a_leader_gets_the_figures_of_its_firms(as_, ledger):
    moment = utcnow()
    body = _get(as_(ledger["leader"]), "/stats/demands", as_of=_iso(moment)).get_json()
    assert body["slice"]["leader_id"] == ledger["leader"].id
    window = _this_year(moment)
    assert body["figures"] == _expected(window, Slice(leader_id=ledger["leader"].id))
    assert (body["figures"]["collected"], body["figures"]["resolved"]) == (1, 1)


@pytest.mark.parametrize("role", ["firm", "commissioner", "department", "admin"])
def test_other_roles_have_no_figures(as_, ledger, role):
    for path in ("/stats/demands", "/stats/visits"):
        answer = as_(role).get(path)
        assert answer.status_code == 403
        assert answer.get_json()["error"]["code"] == "forbidden"


# -- bad requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from"),
        ({"from": "2010-01-01", "to": "2020-01-01"}, "from"),  # longer than 10 years
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "1999-12-31"}, "from"),
        ({"as_of": "last week"}, "as_of"),
        ({"as_of": "0001-01-01T00:00:00"}, "as_of"),  # before the calendar, in UTC
        ({"street_id": "3a"}, "street_id"),
        ({"department_id": "0"}, "department_id"),
        ({"tier": "gold"}, "tier"),
        ({"channel": "fax"}, "channel"),
        ({"group_by": "firm"}, "group_by"),
        ({"steet_id": "3"}, "steet_id"),  # misspelt: not silently the whole district
    ],
)
def test_bad_parameters_are_refused_naming_the_field(as_, ledger, params, field):
    answer = _get(as_(ledger["office"]), "/stats/demands", **params)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {field} and error["fields"][field]


def test_a_ten_year_period_is_allowed(as_, ledger):
    answer = _get(
        as_(ledger["office"]), "/stats/demands", **{"from": "2017-01-01", "to": "2026-12-31"}
    )
    assert answer.status_code == 200


def test_visits_take_no_demand_only_filters(as_, ledger):
    for name in ("department_id", "category_id", "channel"):
        answer = _get(as_(ledger["office"]), "/stats/visits", **{name: "1"})
        assert answer.status_code == 422
        assert set(answer.get_json()["error"]["fields"]) == {name}
    answer = _get(as_(ledger["office"]), "/stats/visits", group_by="category")
    assert set(answer.get_json()["error"]["fields"]) == {"group_by"}


# -- groups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dimension", ["month", "street", "category", "tier", "channel"])
def test_groups_add_up_to_the_total(as_, ledger, dimension):
    moment = utcnow()
    body = _get(
        as_(ledger["office"]), "/stats/demands", group_by=dimension, as_of=_iso(moment)
    ).get_json()
    window = _this_year(moment)
    assert body["figures"] == _expected(window)
    groups = body["groups"]
    assert groups and all(g["label"] for g in groups)
    for name in ("collected", "resolved", "accepted_in_time", "rated"):
        assert sum(g["figures"][name] for g in groups) == body["figures"][name]
    breakdown = figures.demand_breakdowns(window, Slice()).by(dimension)
    assert {g["key"]: g["figures"] for g in groups} == {
        key: found.as_dict() for key, found in breakdown.items()
    }


def test_groups_by_street_and_department_are_named(as_, ledger):
    office = as_(ledger["office"])
    streets = _get(office, "/stats/demands", group_by="street").get_json()["groups"]
    assert {g["label"]: g["figures"]["collected"] for g in streets} == {
        "华阳路街道": 2,
        "新泾镇": 1,
    }
    departments = _get(office, "/stats/demands", group_by="department").get_json()["groups"]
    # The resolved demand had a task for each department: it counts in both.
    assert {g["label"]: g["figures"]["collected"] for g in departments} == {
        "区市场监管局": 1,
        "区人社局": 1,
    }


def test_labels_and_definitions_follow_the_language(as_, ledger):
    office = as_(ledger["office"])
    body = _get(office, "/stats/demands", group_by="tier", lang="en").get_json()
    assert body["definitions"]["collected"].startswith("Demands received in the period")
    assert {g["key"]: g["label"] for g in body["groups"]}["none"] == "No tier"


def test_a_street_users_groups_are_of_its_street_only(as_, ledger):
    street = as_("street", street=ledger["home"])
    groups = _get(street, "/stats/demands", group_by="street").get_json()["groups"]
    assert [g["key"] for g in groups] == [ledger["home"].id]


def test_groups_take_the_same_statements_whatever_the_data(as_, ledger, make_demand, count_queries):
    office = as_(ledger["office"])
    office.get("/stats/visits")  # the token's first use is written down once
    with count_queries() as few:
        assert _get(office, "/stats/demands", group_by="street").status_code == 200
    for firm in ledger["firms"].values():
        for channel in ("visit", "hotline"):
            make_demand(firm, actor=ledger["office"], channel=channel)
    with count_queries() as many:
        body = _get(office, "/stats/demands", group_by="street").get_json()
    assert body["figures"]["collected"] == 9
    assert len(many) == len(few)


# -- visits --------------------------------------------------------------------------------------


@pytest.fixture
def visits(ledger, make_user):
    commissioner = make_user("commissioner", street=ledger["home"])
    away = make_user("commissioner", street=ledger["away"])
    firms = ledger["firms"]
    plan = [
        (firms["key"], date(2026, 3, 3), commissioner),
        (firms["key"], date(2026, 4, 8), commissioner),
        (firms["plain"], date(2026, 4, 9), commissioner),
        (firms["far"], date(2026, 4, 10), away),
    ]
    for firm, day, by in plan:
        db.session.add(
            Visit(
                firm_id=firm.id,
                street_id=firm.street_id,
                commissioner_id=by.id,
                created_by_id=by.id,
                visited_on=day,
                method="on_site",
                summary="走访",
            )
        )
    db.session.commit()
    return ledger


PERIOD = {"from": "2026-03-01", "to": "2026-04-30"}


def test_visit_figures_are_the_definitions(as_, visits):
    moment = utcnow()
    body = _get(as_(visits["office"]), "/stats/visits", **PERIOD, as_of=_iso(moment)).get_json()
    expected = figures.visit_figures(Window(date(2026, 3, 1), date(2026, 4, 30), moment))
    assert body["figures"] == expected.as_dict()
    assert (body["figures"]["visits"], body["figures"]["firms_visited"]) == (4, 3)
    assert body["figures"]["coverage"]["district"] == {"visited": 1, "firms": 1, "rate": 1.0}
    assert body["figures"]["coverage"]["local"] == {"visited": 0, "firms": 0, "rate": None}
    assert set(body["definitions"]) == {"visits", "firms_visited", "coverage"}


def test_visits_as_of_before_they_were_recorded_are_none(as_, visits):
    body = _get(
        as_(visits["office"]), "/stats/visits", **PERIOD, as_of="2026-01-01T00:00:00+08:00"
    ).get_json()
    assert body["figures"]["visits"] == 0


def test_visits_by_month_and_street(as_, visits):
    office = as_(visits["office"])
    months = _get(office, "/stats/visits", **PERIOD, group_by="month").get_json()["groups"]
    assert [(g["key"], g["label"], g["visits"]) for g in months] == [
        ("2026-03", "2026-03", 1),
        ("2026-04", "2026-04", 3),
    ]
    streets = _get(office, "/stats/visits", **PERIOD, group_by="street").get_json()["groups"]
    assert {g["label"]: g["visits"] for g in streets} == {"华阳路街道": 3, "新泾镇": 1}


def test_a_street_user_sees_its_own_streets_visits(as_, visits):
    body = _get(as_("street", street=visits["home"]), "/stats/visits", **PERIOD).get_json()
    assert (body["figures"]["visits"], body["slice"]["street_id"]) == (3, visits["home"].id)


def test_a_leader_sees_the_visits_of_its_firms(as_, visits):
    body = _get(as_(visits["leader"]), "/stats/visits", **PERIOD).get_json()
    assert (body["figures"]["visits"], body["figures"]["firms_visited"]) == (2, 1)


# -- the description --------------------------------------------------------------------------


def test_the_openapi_description_lists_both_operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, answer in (("/stats/demands", "DemandStats"), ("/stats/visits", "VisitStats")):
        op = spec["paths"][path]["get"]
        names = {p["name"] for p in op["parameters"]}
        assert {"from", "to", "as_of", "street_id", "tier", "group_by"} <= names
        assert op["security"] == [{"bearer": []}]
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{answer}"}
        assert {"401", "403", "422"} <= set(op["responses"])
    demands = {p["name"] for p in spec["paths"]["/stats/demands"]["get"]["parameters"]}
    assert {"department_id", "category_id", "channel"} <= demands
    group_by = next(
        p for p in spec["paths"]["/stats/demands"]["get"]["parameters"] if p["name"] == "group_by"
    )
    assert set(group_by["schema"]["enum"]) == set(figures.DIMENSIONS)
    schemas = spec["components"]["schemas"]
    assert "from" in schemas["WindowOut"]["properties"]
