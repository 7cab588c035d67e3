"""Demo demands: the closed loop in motion, loaded after the demo district's firms.

Each demand is first told as a story (``crm.demo.demand_story``), then placed on the
calendar — most at random over the last ~9 months, the featured ones so that a chosen
step is where things stand now — and cut off at "now". Replaying the kept events gives
the demand's columns, its tasks and its extension requests, so a row always agrees with
its own timeline. Rows go in with Core ``insert()`` executemany in batches, like the firms.
"""

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import accumulate, islice
from typing import Any

from sqlalchemy import bindparam, insert, update

from crm.demands import states
from crm.demands.models import Demand, DemandEvent, DemandTask, ExtensionRequest
from crm.demo.demand_replay import Clock, Rows, replay
from crm.demo.demand_story import (
    CATEGORY_WEIGHTS,
    CHANNEL_ODDS,
    PORTAL_WEIGHT,
    STAFF_CHANNEL_ODDS,
    TIER_WEIGHTS,
    Ev,
    Story,
)
from crm.demo.demand_world import DemoFirm, World
from crm.demo.facts import pick
from crm.demo.plan import DemoPlan
from crm.extensions import db
from crm.workcal.services import current_calendar

# Demands shaped so every demo account has something to do. "firm": whose demand it is;
# "cut": (event kind, working days between it and now) puts that step at the present,
# "end" places the whole story in the past; "overdue" puts now two days past the deadline.
FEATURED: tuple[dict[str, Any], ...] = (
    {"firm": "demo-firm", "channel": "portal", "category": "TALENT", "level": 2,
     "cut": ("resolved", 1)},
    {"firm": "demo-firm", "channel": "portal", "category": "SITE", "level": 2,
     "rating": "satisfied", "cut": "end"},
    {"firm": "demo-firm", "channel": "visit", "category": "REG", "level": 3, "lead": "SCJGJ",
     "co": ("RSJ",), "cut": ("task_accepted", 2)},
    {"firm": "demo-street", "channel": "visit", "category": "POLICY", "cut": ("submitted", 0)},
    {"firm": "demo-firm2", "channel": "api", "category": "HIRE", "cut": ("submitted", 0)},
    {"firm": "demo-street", "channel": "hotline", "category": "ENV", "cut": ("submitted", 1)},
    {"firm": "demo-street", "channel": "walk_in", "category": "TAX", "cut": ("accepted", 0)},
    {"firm": "demo-street", "category": "IP", "level": 3, "lead": "SCJGJ",
     "cut": ("dispatched", 0)},
    {"firm": "any", "category": "ENV", "level": 3, "lead": "SWW", "co": ("SCJGJ",),
     "cut": ("task_accepted", 1)},
    {"firm": "any", "category": "REG", "level": 3, "lead": "SCJGJ", "extension": "pending",
     "cut": ("extension_requested", 0)},
    {"firm": "demo-street", "channel": "visit", "category": "POLICY", "level": 1,
     "cut": ("task_accepted", 1)},
    {"firm": "demo-street", "category": "SITE", "level": 2, "late": True, "extension": False,
     "cut": ("task_accepted", "overdue")},
    {"firm": "any", "category": "PLAN", "level": 3, "late": True, "extension": False,
     "cut": ("task_accepted", "overdue")},
    {"firm": "any", "category": "HOUSE", "level": 3, "return": True,
     "cut": ("task_returned", 0)},
    {"firm": "demo-firm2", "channel": "portal", "category": "FIN", "level": 2,
     "rating": "not_satisfied", "cut": ("rated", 0)},
    {"firm": "demo-street", "channel": "walk_in", "reject": True, "cut": "end"},
    {"firm": "demo-firm2", "channel": "portal", "withdraw": True, "cut": "end"},
    {"firm": "any", "level": 2, "rating": "unrated", "cut": "end"},
    {"firm": "any", "category": "TALENT", "level": 3, "extension": "approved",
     "rating": "satisfied", "cut": "end"},
    {"firm": "any", "level": 2, "late": True, "rating": "basically_satisfied", "cut": "end"},
)  # fmt: skip

# Fewer per firm in a city: most of its 200,000 firms never raise one in nine months.
DEMANDS_PER_FIRM = {"small": 0.3, "district": 0.28, "city": 0.12}
HISTORY = 190  # working days back: about nine months
BATCH = 1000


def load_demands(
    plan: DemoPlan,
    scale: str,
    *,
    streets: dict[str, int],
    departments: dict[str, int],
    users: dict[str, int],
) -> Counter[str]:
    """Tell, place and insert the demo demands; the counts of what went in."""
    world = World(plan, streets, departments, users)
    counts: Counter[str] = Counter()
    if not world.categories or not world.firms:
        return counts
    clock = Clock(current_calendar(), plan.now)
    rng = random.Random(f"demo:{plan.seed}:demands")
    total = max(len(FEATURED), round(plan.firm_count * DEMANDS_PER_FIRM[scale]))
    rows = (replay(*placed, clock) for placed in _stories(rng, world, clock, total))
    for batch in _batches(rows, BATCH):
        _insert(batch, counts, clock)
    return counts


# -- telling and placing ------------------------------------------------------------------


def _stories(rng: random.Random, world: World, clock: Clock, total: int) -> Iterator[tuple]:
    """(story, shift, kept events) for the featured demands, then the rest at random."""
    firm_cum = list(
        accumulate(TIER_WEIGHTS[f.tier] * (PORTAL_WEIGHT if f.user else 1) for f in world.firms)
    )
    codes = sorted(world.categories)
    code_cum = list(accumulate(CATEGORY_WEIGHTS.get(c, 3) for c in codes))

    def any_firm() -> DemoFirm:
        return rng.choices(world.firms, cum_weights=firm_cum)[0]

    def category(code: str | None):
        if code in world.categories:
            return world.categories[code]
        return world.categories[rng.choices(codes, cum_weights=code_cum)[0]]

    def channel(firm: DemoFirm, wanted: str | None) -> str:
        chosen = wanted or pick(rng, CHANNEL_ODDS)
        if chosen in ("portal", "api") and firm.user is None:
            return pick(rng, STAFF_CHANNEL_ODDS)
        return chosen

    for featured in FEATURED:
        # A featured story goes where it is told: no chance rejection, withdrawal or return.
        want = {"reject": False, "withdraw": False, "return": False, **featured}
        who = want["firm"]
        firm = world.featured_firms.get(who)
        if firm is None:
            street_firms = world.street_firms if who == "demo-street" else []
            firm = rng.choice(street_firms) if street_firms else any_firm()
        chosen = want.get("channel") or pick(rng, STAFF_CHANNEL_ODDS)
        story = Story(rng, world, firm, category(want.get("category")), channel(firm, chosen), want)
        story.tell()
        yield (story, *_place(story, rng, clock, want.get("cut"), -HISTORY))
    for _ in range(total - len(FEATURED)):
        for _attempt in range(10):
            firm = any_firm()
            earliest = max(-HISTORY, clock.index_of(firm.created_at) + 1)
            if earliest <= 0:
                break
        else:
            continue
        story = Story(rng, world, firm, category(None), channel(firm, None), {})
        story.tell()
        shift, kept = _place(story, rng, clock, None, earliest)
        if kept:
            yield story, shift, kept


def _place(
    story: Story, rng: random.Random, clock: Clock, cut, earliest: int
) -> tuple[int, list[Ev]]:
    """Where the story starts (its day 0 as a calendar index) and the events before now.

    ``cut`` None: a random start from ``earliest``; "end": finished 1 to 40 working days
    ago; (kind, days): the first ``kind`` event that many working days before now, or two
    days after its deadline for "overdue", and no change of state after it.
    """
    events = story.events
    stop = None
    if cut is None:
        shift = rng.randint(earliest, 0)
    elif cut == "end":
        shift = -events[-1].i - rng.randint(1, 40)
    else:
        kind, offset = cut
        stop = next(k for k, ev in enumerate(events) if ev.kind == kind)
        ev = events[stop]
        if offset == "overdue":
            dispatch = next(e for e in reversed(events[:stop]) if e.kind == "dispatched")
            offset = dispatch.tasks[0].due_i - ev.i + 2
        if offset == 0 and ev.m > clock.now_minute:
            offset = 1
        shift = -offset - ev.i
    now = (0, clock.now_minute)
    kept = []
    for k, ev in enumerate(events):
        if (ev.i + shift, ev.m) > now or (stop is not None and k > stop and ev.to_state):
            break
        kept.append(ev)
    return shift, kept


# -- inserting ----------------------------------------------------------------------------


def _batches(items: Iterable[Rows], size: int) -> Iterator[list[Rows]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _insert_returning(model, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    table = model.__table__
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [id_ for (id_,) in db.session.execute(stmt, rows)]


def _insert(batch: list[Rows], counts: Counter[str], clock: Clock) -> None:
    for n, rows in enumerate(batch):
        rows.demand["number"] = f"demo-{n}"  # unique until the ids are known
    demand_ids = _insert_returning(Demand, [r.demand for r in batch])
    table = Demand.__table__
    # The number carries the id, as the services make it: SQ + day + id.
    db.session.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(number=bindparam("b_no")),
        [
            {"b_id": id_, "b_no": f"SQ{rows.submitted_on:%Y%m%d}{id_:06d}"}
            for id_, rows in zip(demand_ids, batch, strict=True)
        ],
    )
    tasks, extensions, events = [], [], []
    for demand_id, rows in zip(demand_ids, batch, strict=True):
        first_task, first_ext = len(tasks), len(extensions)
        tasks.extend({**t, "demand_id": demand_id} for t in rows.tasks)
        extensions.extend({**x, "_task": x["_task"] + first_task} for x in rows.extensions)
        for ev in rows.events:
            events.append(
                {
                    **ev,
                    "demand_id": demand_id,
                    "_task": None if ev["_task"] is None else ev["_task"] + first_task,
                    "_ext": None if ev["_ext"] is None else ev["_ext"] + first_ext,
                }
            )
    task_ids = _insert_returning(DemandTask, tasks)
    ext_ids = _insert_returning(
        ExtensionRequest,
        [
            {k: v for k, v in x.items() if k != "_task"} | {"task_id": task_ids[x["_task"]]}
            for x in extensions
        ],
    )
    event_rows = []
    for ev in events:
        row = {k: v for k, v in ev.items() if k not in ("_task", "_ext")}
        row["task_id"] = None if ev["_task"] is None else task_ids[ev["_task"]]
        if ev["_ext"] is not None:
            row["data"] = {**row["data"], "request": ext_ids[ev["_ext"]]}
        event_rows.append(row)
    if event_rows:
        db.session.execute(insert(DemandEvent.__table__), event_rows)
    counts["demands"] += len(batch)
    counts["demand_tasks"] += len(tasks)
    counts["demand_events"] += len(event_rows)
    counts["extension_requests"] += len(extensions)
    for rows in batch:
        d = rows.demand
        if d["state"] in states.OPEN_STATES:
            counts["open_demands"] += 1
            if d["due_on"] is not None and d["due_on"] < clock.today:
                counts["overdue_demands"] += 1
