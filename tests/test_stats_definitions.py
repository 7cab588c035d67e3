"""The figures of DESIGN §9 (crm.stats.definitions) against a recount of the ledger rows.

A property-based test builds random ledgers — demands with random timelines: accepted,
dispatched with deadlines, extensions of the lead or a co-handling unit, pauses,
supervision, resolved, rated, reopened, withdrawn, rejected — and random windows, moments
and slices, and finds every figure equal to a plain Python replay of the same rows, every
drill-down as long as its figure, and the breakdowns adding up to the same figures. Then
the as-of promise, through the real services: a report as of a past moment does not move
when the demand changes afterwards.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from crm.demands import services
from crm.demands.models import Demand, DemandEvent, DemandTask, Escalation
from crm.demands.services import Unit
from crm.extensions import db
from crm.stats import definitions as figures
from crm.stats.definitions import Slice, Window
from crm.timeutil import local_time, utcnow

START = datetime(2026, 9, 1)  # UTC; the ledgers below span the next ~40 days
CHANNELS = ("portal", "visit", "hotline")
RATINGS = ("satisfied", "basically_satisfied", "not_satisfied")


# -- random ledgers -------------------------------------------------------------------------

# Steps of a timeline: (kind, to_state or None); data is drawn with the step.
STEPS = st.sampled_from(
    [
        "accepted",
        "dispatched",
        "extension_lead",
        "extension_co",
        "resumed",
        "resolved",
        "rated",
        "withdrawn",
        "rejected",
        "paused",
        "supervised",
    ]
)


# A demand's usual path, with detours drawn in between and cut off anywhere; or steps
# in any order at all, which the figures must count the same way.
USUAL = ("accepted", "dispatched", "resolved", "rated", "dispatched", "resolved", "rated")
DETOURS = st.sampled_from(["extension_lead", "extension_co", "paused", "resumed", "supervised"])


@st.composite
def timeline(draw) -> list[str]:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.lists(STEPS, max_size=7))
    steps = []
    for step in USUAL[: draw(st.integers(0, len(USUAL)))]:
        steps.append(step)
        if step == "dispatched":
            steps += draw(st.lists(DETOURS, max_size=2))
    ending = draw(st.sampled_from([None, None, None, "withdrawn", "rejected"]))
    if ending:
        steps.insert(draw(st.integers(0, min(len(steps), 1))), ending)
    return steps


@st.composite
def demand_spec(draw) -> dict:
    gaps = st.integers(1, 5 * 24 * 60)  # minutes between steps
    return {
        "firm": draw(st.integers(0, 2)),
        "category": draw(st.integers(0, 1)),
        "channel": draw(st.sampled_from(CHANNELS)),
        "submitted": draw(st.integers(0, 40 * 24 * 60)),  # minutes after START
        "accept_days": draw(st.integers(0, 2)),
        "steps": [
            (
                kind,
                draw(gaps),
                draw(st.integers(0, 12)),  # deadline days
                draw(st.sampled_from(RATINGS)),
                draw(st.integers(0, 1)),  # the lead's department
            )
            for kind in draw(timeline())
        ],
    }


@st.composite
def window_and_slice(draw):
    if draw(st.booleans()):  # the whole span, or a part of it
        first, last = START.date() - timedelta(days=1), START.date() + timedelta(days=45)
    else:
        first = START.date() + timedelta(days=draw(st.integers(-2, 38)))
        last = first + timedelta(days=draw(st.integers(0, 45)))
    as_of = START + timedelta(minutes=draw(st.integers(0, 80 * 24 * 60)))
    # The whole district, or one slice of it: as a report asks.
    dimension = draw(
        st.sampled_from([None, "street", "department", "category", "tier", "channel", "leader"])
    )
    values = {
        "street": [0, 1],
        "department": [0, 1],
        "category": [0, 1],
        "tier": ["district", "sector", "none"],
        "channel": list(CHANNELS),
        "leader": [0],
    }
    where = Slice()
    if dimension is not None:
        key = dimension if dimension in ("tier", "channel") else f"{dimension}_id"
        where = Slice(**{key: draw(st.sampled_from(values[dimension]))})
    return Window(first, last, as_of), where


@dataclass
class World:
    user_id: int
    firms: list  # (id, street index, tier, linked to the leader)
    leader_id: int
    streets: list[int]
    departments: list[int]
    categories: list[int]
    made: list[dict] = field(default_factory=list)


@pytest.fixture
def world(make_street, make_firm, make_user, make_department, category):
    streets = [make_street(), make_street()]
    tiers = ["district", None, "sector"]
    firms = [make_firm(street=streets[i % 2], tier=t) for i, t in enumerate(tiers)]
    leader = make_user("leader")
    firms[0].leader_id = firms[1].leader_id = leader.id  # a leader's firms: any tier
    db.session.commit()
    return World(
        user_id=make_user("office").id,
        leader_id=leader.id,
        firms=[(f.id, i % 2, t, i < 2) for i, (f, t) in enumerate(zip(firms, tiers, strict=True))],
        streets=[s.id for s in streets],
        departments=[make_department().id, make_department().id],
        categories=[category("OTHER").id, category("POLICY").id],
    )


def build(world: World, specs: list[dict]) -> list[dict]:
    """Write the ledger; return each demand as the recount sees it."""
    db.session.execute(delete(Escalation))
    db.session.execute(delete(DemandEvent))
    db.session.execute(delete(DemandTask))
    db.session.execute(delete(Demand))
    ledger = []
    for n, spec in enumerate(specs):
        firm_id, street, tier, led = world.firms[spec["firm"]]
        submitted = START + timedelta(minutes=spec["submitted"])
        local_day = local_time(submitted).date()
        demand_id = db.session.execute(
            insert(Demand)
            .values(
                number=f"SQ{n:010d}",
                firm_id=firm_id,
                street_id=world.streets[street],
                category_id=world.categories[spec["category"]],
                title="诉求",
                description="……",
                channel=spec["channel"],
                submitted_by_id=world.user_id,
                submitted_at=submitted,
                accept_due_on=local_day + timedelta(days=spec["accept_days"]),
                state="submitted",
            )
            .returning(Demand.id)
        ).scalar_one()
        row = {
            "id": demand_id,
            "submitted": submitted,
            "street": street,
            "tier": tier or "none",
            "led": led,
            "supervised": [],  # when supervision (督办) reached it
            "category": spec["category"],
            "channel": spec["channel"],
            "accept_due_on": local_day + timedelta(days=spec["accept_days"]),
            "events": [],  # (at, id, kind, to_state, data)
            "tasks": [],  # (department index, dispatched at)
        }
        at = submitted
        # (at, kind, to_state, data, task, whether the task was the lead task then)
        events = [(at, "submitted", "submitted", {}, None, False)]
        lead = co = None
        for kind, gap, days, rating, department in spec["steps"]:
            at = at + timedelta(minutes=gap)
            due = (local_time(at).date() + timedelta(days=days)).isoformat()
            if kind == "dispatched":
                lead = _task(demand_id, "lead", world.departments[department], at)
                co = _task(demand_id, "co", world.departments[1 - department], at)
                row["tasks"] += [(department, at), (1 - department, at)]
                events.append((at, "dispatched", "dispatched", {"due_on": due}, None, False))
            elif kind in ("extension_lead", "extension_co"):
                task = lead if kind == "extension_lead" else co
                if task is None:
                    continue
                extension = {"new_due_on": due}
                events.append((at, "extension_approved", None, extension, task, task == lead))
            elif kind == "resumed":
                resumed = {"days_added": days, "due_on": due}
                events.append((at, "resumed", None, resumed, None, False))
            elif kind == "paused":
                events.append((at, "paused", None, {}, None, False))
            elif kind == "supervised":
                row["supervised"].append(at)
                db.session.execute(
                    insert(Escalation).values(
                        demand_id=demand_id,
                        task_id=0,
                        step="supervision",
                        due_on=START.date() + timedelta(days=len(row["supervised"])),
                        at=at,
                    )
                )
            elif kind == "rated":
                target = "reopened" if rating == "not_satisfied" else "closed"
                events.append((at, "rated", target, {"rating": rating}, None, False))
            else:
                events.append((at, kind, kind, {}, None, False))
        for at, kind, to_state, data, task, from_lead in events:
            event_id = db.session.execute(
                insert(DemandEvent)
                .values(
                    demand_id=demand_id,
                    task_id=task,
                    at=at,
                    kind=kind,
                    to_state=to_state,
                    data=data,
                )
                .returning(DemandEvent.id)
            ).scalar_one()
            row["events"].append((at, event_id, kind, to_state, data, from_lead))
        # A demand whose last state is closed has the time of that move as its closed_at
        # (in life closed is final; here it may have been closed before and reopened).
        moves = [(at, to_state) for at, _, to_state, _, _, _ in events if to_state]
        if moves and moves[-1][1] == "closed":
            db.session.execute(
                update(Demand).where(Demand.id == demand_id).values(closed_at=moves[-1][0])
            )
        ledger.append(row)
    db.session.commit()
    return ledger


def _task(demand_id: int, role: str, department_id: int, at: datetime) -> int:
    return db.session.execute(
        insert(DemandTask)
        .values(
            demand_id=demand_id,
            role=role,
            department_id=department_id,
            state="pending",
            dispatched_at=at,
            due_on=local_time(at).date(),
        )
        .returning(DemandTask.id)
    ).scalar_one()


# -- the recount: DESIGN §9 read literally, one demand at a time -----------------------------


def recount(ledger: list[dict], window: Window, where: Slice, world: World) -> dict:
    counts = dict.fromkeys(figures.DEMAND_COUNTS, 0)
    for d in ledger:
        day = local_time(d["submitted"]).date()
        if not (window.start <= day <= window.end) or d["submitted"] > window.as_of:
            continue
        if where.street_id is not None and d["street"] != where.street_id:
            continue
        if where.category_id is not None and d["category"] != where.category_id:
            continue
        if where.channel is not None and d["channel"] != where.channel:
            continue
        if where.tier is not None and d["tier"] != where.tier:
            continue
        if where.leader_id is not None and not d["led"]:
            continue
        if where.department_id is not None and not any(
            dept == where.department_id and at <= window.as_of for dept, at in d["tasks"]
        ):
            continue
        seen = sorted(e for e in d["events"] if e[0] <= window.as_of)
        moves = [e for e in seen if e[3]]
        state = moves[-1][3] if moves else "submitted"
        if state in ("withdrawn", "rejected"):
            continue
        counts["collected"] += 1
        accepted = [e[0] for e in seen if e[2] == "accepted"]
        if accepted and local_time(accepted[0]).date() <= d["accept_due_on"]:
            counts["accepted_in_time"] += 1
        ratings = [e[4]["rating"] for e in seen if e[2] == "rated"]
        if ratings:
            counts["rated"] += 1
            counts["satisfied"] += ratings[-1] in ("satisfied", "basically_satisfied")
        deadlines = [
            e[4].get("new_due_on") or e[4].get("due_on")
            for e in seen
            if e[2] in ("dispatched", "resumed") or (e[2] == "extension_approved" and e[5])
        ]
        pauses = [e[2] for e in seen if e[2] in ("paused", "resumed")]
        if (
            state not in ("resolved", "closed")
            and deadlines
            and date.fromisoformat(deadlines[-1]) < local_time(window.as_of).date()
            and (not pauses or pauses[-1] != "paused")
        ):
            counts["overdue"] += 1
            counts["supervised"] += any(at <= window.as_of for at in d["supervised"])
        if state in ("resolved", "closed"):
            counts["resolved"] += 1
            resolved_at = [e[0] for e in seen if e[3] == "resolved"]
            if resolved_at and deadlines:
                on_time = local_time(resolved_at[-1]).date() <= date.fromisoformat(deadlines[-1])
                counts["resolved_on_time"] += on_time
    return counts


def real(where: Slice, world: World) -> Slice:
    """The slice with the world's ids in place of the indexes the strategies draw."""
    return Slice(
        street_id=None if where.street_id is None else world.streets[where.street_id],
        department_id=None
        if where.department_id is None
        else world.departments[where.department_id],
        category_id=None if where.category_id is None else world.categories[where.category_id],
        tier=where.tier,
        channel=where.channel,
        leader_id=None if where.leader_id is None else world.leader_id,
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(demand_spec(), min_size=1, max_size=12),
    asks=st.lists(window_and_slice(), min_size=1, max_size=4),
)
def test_every_figure_equals_a_recount_of_the_ledger(world, specs, asks):
    ledger = build(world, specs)
    for window, where in asks:
        got = figures.demand_figures(window, real(where, world))
        expected = recount(ledger, window, where, world)
        assert {name: getattr(got, name) for name in figures.DEMAND_COUNTS} == expected
        for name in figures.DEMAND_COUNTS:  # each figure drills down to exactly its rows
            ids = db.session.scalars(figures.demand_ids(window, real(where, world), name)).all()
            assert len(ids) == expected[name]
        late = figures.late_figures(window, real(where, world))
        assert (late.overdue, late.supervised) == (expected["overdue"], expected["supervised"])
        # The breakdowns add up to the same figures, and each group is the figures of its
        # narrowed window and slice.
        breakdowns = figures.demand_breakdowns(window, real(where, world))
        assert breakdowns.total == got
        for dimension in figures.DIMENSIONS:
            groups = breakdowns.by(dimension)
            if dimension != "department":
                assert sum(groups.values(), figures.DemandFigures()) == got
            for key, group in groups.items():
                narrowed = figures.narrowed(window, real(where, world), dimension, key)
                assert figures.demand_figures(*narrowed) == group


# -- as of a past moment, through the real services ------------------------------------------


def test_a_report_as_of_a_past_moment_does_not_move_when_the_demand_changes(
    make_demand, make_firm, make_user, make_department
):
    office = make_user("office")
    department = make_department()
    handler = make_user("department", department=department)
    firm = make_firm(tier="district")
    demand = make_demand(firm, actor=office, channel="visit")
    services.accept_demand(demand, actor=office)
    services.dispatch_demand(demand, actor=office, level=3, lead=Unit(department=department))
    db.session.commit()
    task = demand.tasks[0]
    services.accept_task(task, actor=handler)
    services.resolve_task(task, actor=handler, resolution="已办结")
    db.session.commit()

    today = local_time(utcnow()).date()
    moment = utcnow()
    window = Window(today - timedelta(days=1), today, moment)
    before = figures.demand_figures(window)
    assert (before.collected, before.resolved, before.resolved_on_time) == (1, 1, 1)
    assert before.accepted_in_time == 1 and before.rated == 0

    # Afterwards the firm is not satisfied: the demand reopens.
    firm_user = make_user("firm", firm=firm)
    services.rate_demand(demand, actor=firm_user, rating="not_satisfied")
    db.session.commit()
    assert demand.state == "reopened"

    assert figures.demand_figures(window) == before
    now = figures.demand_figures(Window(window.start, window.end, utcnow()))
    assert (now.collected, now.resolved, now.rated, now.satisfied) == (1, 0, 1, 0)
    by_department = figures.demand_figures(window, Slice(department_id=department.id))
    assert by_department == before
    assert figures.demand_figures(window, Slice(tier="sector")).collected == 0


def test_rates_are_none_without_a_denominator():
    empty = figures.DemandFigures()
    assert (empty.resolution_rate, empty.on_time_rate, empty.satisfaction_rate) == (None,) * 3
    some = figures.DemandFigures(collected=4, resolved=3, resolved_on_time=2, rated=2, satisfied=1)
    assert (some.resolution_rate, some.on_time_rate, some.satisfaction_rate) == (0.75, 2 / 3, 0.5)


def test_visits_count_firms_once_and_cover_each_tier(app, make_firm, make_user, make_street):
    from crm.visits.models import Visit

    street = make_street()
    commissioner = make_user("commissioner", street=street)
    key = [make_firm(street=street, tier="district") for _ in range(2)]
    plain = make_firm(street=street)
    october = [(key[0], date(2026, 10, 3)), (key[0], date(2026, 10, 5)), (plain, date(2026, 10, 5))]
    for firm, day in [*october, (plain, date(2026, 11, 9))]:
        db.session.add(
            Visit(
                firm_id=firm.id,
                street_id=street.id,
                commissioner_id=commissioner.id,
                created_by_id=commissioner.id,
                visited_on=day,
                method="on_site",
                summary="走访",
            )
        )
    db.session.commit()
    got = figures.visit_figures(Window(date(2026, 10, 1), date(2026, 10, 31)))
    assert (got.visits, got.firms_visited) == (3, 2)
    assert (got.coverage["district"].visited, got.coverage["district"].firms) == (1, 2)
    assert got.coverage["district"].rate == 0.5
    assert (got.coverage["none"].visited, got.coverage["none"].firms) == (1, 1)
    assert got.coverage["sector"].rate is None
    as_of_before = figures.visit_figures(
        Window(date(2026, 10, 1), date(2026, 10, 31), datetime(2020, 1, 1))
    )
    assert as_of_before.visits == 0  # none had been recorded yet
