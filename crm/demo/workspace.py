"""The demo commissioners' workspace: visits, prospects (待落户) and assistance cases.

Loaded after the firms, demands and portal activity. Visits follow each firm's tier
cadence over the last nine months, made by whoever was its primary commissioner on the
day, with some firms left behind (overdue) and some joint visits with leaders, departments
and the street's service centre; demands taken on a visit are tied to a visit on that firm
and day. Prospects come a few per street; some registered and became a firm, some were
dropped. Cases (``crm.demo.workspace_cases``) cover every type at every stage.

Everything is drawn from seeded streams and inserted with Core executemany in batches.
"""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from crm.auth.models import User
from crm.demands.models import Demand
from crm.demo.demand_replay import SHANGHAI_OFFSET
from crm.demo.demand_world import World
from crm.demo.plan import DemoPlan
from crm.demo.workspace_texts import (
    OUTSIDE_PEOPLE,
    demand_visit_summary,
    joint_summary,
    visit_summary,
)
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from crm.visits.models import Visit, VisitCadence, VisitParticipant

BATCH = 2000
HISTORY_DAYS = 270  # about nine months of visits
BEHIND_SHARE = 0.12  # firms whose last visit is older than their cadence allows
METHODS = (("on_site", 62), ("phone", 14), ("online", 9), ("meeting", 15))
JOINT_ODDS = {"district": 0.25, "sector": 0.1, "local": 0.04, None: 0.015}


@dataclass
class WsFirm:
    id: int
    street_id: int
    tier: str | None
    created_at: datetime
    high_tech: bool
    leader_id: int | None
    name: str
    industry_code: str


@dataclass
class Term:
    """A primary assignment: who looked after the firm from ``start`` until ``end``."""

    commissioner: int
    start: date
    end: date | None


class Workspace:
    """Ids and facts the workspace loaders draw on, read once."""

    def __init__(self, plan: DemoPlan, world: World):
        self.plan = plan
        self.world = world
        self.now = plan.now
        self.today = (plan.now + SHANGHAI_OFFSET).date()
        self.firms = [
            WsFirm(*row)
            for row in db.session.execute(
                select(
                    Firm.id,
                    Firm.street_id,
                    Firm.tier,
                    Firm.created_at,
                    Firm.high_tech,
                    Firm.leader_id,
                    Firm.name,
                    Firm.industry_code,
                )
                .where(Firm.status == "active")
                .order_by(Firm.id)
            )
        ]
        self.terms: dict[int, list[Term]] = defaultdict(list)
        for firm_id, who, start, end in db.session.execute(
            select(
                Assignment.firm_id,
                Assignment.commissioner_id,
                Assignment.started_at,
                Assignment.ended_at,
            )
            .where(Assignment.role == "primary")
            .order_by(Assignment.firm_id, Assignment.started_at)
        ):
            self.terms[firm_id].append(Term(who, local_date(start), end and local_date(end)))
        self.cadence = {
            tier: days
            for tier, days in db.session.execute(
                select(VisitCadence.tier, VisitCadence.longest_interval_days)
            )
        }
        self.people = {
            id_: (name, role)
            for id_, name, role in db.session.execute(
                select(User.id, User.display_name, User.role).where(User.role != "firm")
            )
        }
        self.demo_commissioner = world.demo.get("demo-commissioner")
        self.street_names = world.street_names
        self.department_names = world.department_names

    def primary_on(self, firm_id: int, day: date) -> int | None:
        terms = self.terms.get(firm_id, [])
        for term in terms:
            if term.start <= day and (term.end is None or day < term.end):
                return term.commissioner
        return terms[-1].commissioner if terms else None

    def current_primary(self, firm_id: int) -> int | None:
        terms = self.terms.get(firm_id, [])
        return terms[-1].commissioner if terms and terms[-1].end is None else None

    def utc_at(self, day: date, rng: random.Random, hours=(9, 17)) -> datetime:
        """A working-hour moment of local ``day``, as naive UTC, never after now."""
        local = datetime.combine(day, time(rng.randrange(*hours), rng.randrange(60)))
        return min(local - SHANGHAI_OFFSET, self.now - timedelta(minutes=rng.randrange(5, 120)))


def local_date(moment: datetime) -> date:
    return (moment + SHANGHAI_OFFSET).date()


def load_workspace(plan: DemoPlan, world: World) -> Counter[str]:
    from crm.demo.workspace_cases import load_cases
    from crm.demo.workspace_prospects import load_prospects

    ws = Workspace(plan, world)
    counts: Counter[str] = Counter()
    if not ws.firms:
        return counts
    counts.update(_load_visits(ws))
    counts.update(_link_visit_demands(ws))
    prospects = load_prospects(ws, counts)
    counts.update(load_cases(ws, prospects))
    return counts


# -- visits -----------------------------------------------------------------------------------


def _visit_dates(rng: random.Random, ws: Workspace, firm: WsFirm, behind: bool) -> list[date]:
    """The days the firm was visited, newest first, about its cadence apart."""
    terms = ws.terms.get(firm.id)
    if not terms:
        return []
    interval = ws.cadence.get(firm.tier or "none", 180)
    window = max(ws.today - timedelta(days=HISTORY_DAYS), terms[0].start)
    if behind:
        last = ws.today - timedelta(days=interval + rng.randint(1, max(2, min(60, interval // 2))))
    else:
        last = ws.today - timedelta(days=rng.randint(0, int(interval * 0.85)))
    days = []
    while last >= window:
        days.append(last)
        last -= timedelta(days=max(1, round(interval * rng.uniform(0.6, 0.95))))
    return days


def _participants(rng: random.Random, ws: Workspace, firm: WsFirm) -> list[dict[str, Any]]:
    people = []
    if firm.leader_id and firm.tier == "district" and rng.random() < 0.6:
        name, _ = ws.people[firm.leader_id]
        people.append(
            {"user_id": firm.leader_id, "department_id": None, "name": name,
             "unit": "区领导", "level": "district"}
        )  # fmt: skip
    departments = [d for d in ws.world.handlers if ws.world.handlers[d]]
    for dept_id in rng.sample(departments, k=min(len(departments), rng.choice((1, 1, 2)))):
        user_id = rng.choice(ws.world.handlers[dept_id])
        people.append(
            {"user_id": user_id, "department_id": dept_id, "name": ws.people[user_id][0],
             "unit": ws.department_names[dept_id], "level": "department"}
        )  # fmt: skip
    centre = ws.world.centre.get(firm.street_id) or []
    if centre and rng.random() < 0.5:
        user_id = rng.choice(centre)
        people.append(
            {"user_id": user_id, "department_id": None, "name": ws.people[user_id][0],
             "unit": ws.street_names[firm.street_id], "level": "street"}
        )  # fmt: skip
    if rng.random() < 0.15:
        unit, name = rng.choice(OUTSIDE_PEOPLE)
        people.append(
            {"user_id": None, "department_id": None, "name": name, "unit": unit, "level": "other"}
        )
    return people


def _load_visits(ws: Workspace) -> Counter[str]:
    rng = random.Random(f"demo:{ws.plan.seed}:visits")
    counts: Counter[str] = Counter()
    plain: list[dict[str, Any]] = []
    joint: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    demo_index = 0
    for firm in ws.firms:
        if ws.demo_commissioner and ws.current_primary(firm.id) == ws.demo_commissioner:
            behind = demo_index % 3 == 0  # the demo commissioner has some firms to catch up
            demo_index += 1
        else:
            behind = rng.random() < BEHIND_SHARE
        for day in _visit_dates(rng, ws, firm, behind):
            who = ws.primary_on(firm.id, day)
            method = rng.choices([m for m, _ in METHODS], [w for _, w in METHODS])[0]
            row = {
                "firm_id": firm.id,
                "street_id": firm.street_id,
                "commissioner_id": who,
                "visited_on": day,
                "method": method,
                "summary": "",
                "joint": False,
                "requested_by_firm": rng.random() < 0.06,
                "service_request_id": None,
                "courtesy_override": "",
                "created_by_id": who,
                "created_at": ws.utc_at(day, rng, (10, 19)),
            }
            if method in ("on_site", "meeting") and rng.random() < JOINT_ODDS[firm.tier]:
                people = _participants(rng, ws, firm)
                row["joint"] = True
                row["summary"] = joint_summary(rng, list(dict.fromkeys(p["unit"] for p in people)))
                joint.append((row, people))
            else:
                row["summary"] = visit_summary(rng, method)
                plain.append(row)
            if len(plain) >= BATCH:
                _insert_visits(plain, [], counts)
                plain = []
            if len(joint) >= BATCH // 4:
                _insert_visits([], joint, counts)
                joint = []
    _insert_visits(plain, joint, counts)
    return counts


def _insert_visits(plain, joint, counts: Counter[str]) -> None:
    if plain:
        db.session.execute(insert(Visit.__table__), plain)
        counts["visits"] += len(plain)
    if joint:
        ids = insert_returning(Visit, [row for row, _ in joint])
        participants = [
            {**p, "visit_id": visit_id}
            for visit_id, (_, people) in zip(ids, joint, strict=True)
            for p in people
        ]
        if participants:
            db.session.execute(insert(VisitParticipant.__table__), participants)
        counts["visits"] += len(joint)
        counts["joint_visits"] += len(joint)
        counts["visit_participants"] += len(participants)


def insert_returning(model, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    table = model.__table__
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [id_ for (id_,) in db.session.execute(stmt, rows)]


def _link_visit_demands(ws: Workspace) -> Counter[str]:
    """Each demand taken on a visit gets that visit: the firm, the day, the commissioner."""
    rng = random.Random(f"demo:{ws.plan.seed}:visit-demands")
    demands = db.session.execute(
        select(
            Demand.id, Demand.firm_id, Demand.street_id, Demand.submitted_at,
            Demand.submitted_by_id, Demand.title,
        ).where(Demand.channel == "visit").order_by(Demand.id)
    ).all()  # fmt: skip
    rows, links = [], []
    for demand_id, firm_id, street_id, submitted_at, by, title in demands:
        day = local_date(submitted_at)
        who = by if ws.people.get(by, ("", ""))[1] == "commissioner" else None
        who = who or ws.primary_on(firm_id, day) or by
        rows.append(
            {
                "firm_id": firm_id,
                "street_id": street_id,
                "commissioner_id": who,
                "visited_on": day,
                "method": "on_site",
                "summary": demand_visit_summary(title),
                "joint": False,
                "requested_by_firm": rng.random() < 0.2,
                "service_request_id": None,
                "courtesy_override": "",
                "created_by_id": who,
                "created_at": submitted_at - timedelta(minutes=rng.randrange(5, 40)),
            }
        )
        links.append(demand_id)
    counts: Counter[str] = Counter()
    for start in range(0, len(rows), BATCH):
        ids = insert_returning(Visit, rows[start : start + BATCH])
        table = Demand.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(visit_id=bindparam("b_visit")),
            [
                {"b_id": d, "b_visit": v}
                for d, v in zip(links[start : start + BATCH], ids, strict=True)
            ],
        )
        counts["visits"] += len(ids)
        counts["visit_demands"] += len(ids)
    return counts
