"""The ids a demo demand story draws on: categories, firms, people and units, read once
from the database after the demo district's firms are in."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from crm.auth.models import User
from crm.demands.models import DemandCategory
from crm.demo.district import DEPARTMENTS, STREETS
from crm.demo.plan import DEMO_DEPARTMENT, DEMO_STREET, DemoPlan
from crm.extensions import db
from crm.firms.models import Assignment, Firm


@dataclass(frozen=True)
class DemoCategory:
    id: int
    code: str
    kind: str
    accept_days: int
    resolve_days: int
    level3_days: int


@dataclass(frozen=True)
class DemoFirm:
    id: int
    street_id: int
    tier: str | None
    created_at: datetime
    commissioner: int | None  # the primary commissioner's user id
    user: int | None  # the portal account's user id


@dataclass(frozen=True)
class Unit:
    department_id: int | None
    street_id: int | None
    name: str


class World:
    """Ids of everything the demand stories need, read once after the firms are in."""

    def __init__(
        self,
        plan: DemoPlan,
        streets: dict[str, int],
        departments: dict[str, int],
        users: dict[str, int],
    ):
        self.street_names = {streets[s.code]: s.name for s in STREETS}
        self.department_ids = {code: departments[code] for code in departments}
        self.department_names = {departments[d.code]: d.name for d in DEPARTMENTS}
        self.office = [users[u] for u in plan.office]
        self.centre = {streets[c]: [users[u] for u in t.centre] for c, t in plan.teams.items()}
        self.commissioners = {
            streets[c]: [users[u] for u in t.commissioners] for c, t in plan.teams.items()
        }
        self.handlers: dict[int, list[int]] = {}
        for p in plan.people:
            if p.role == "department" and p.active:
                self.handlers.setdefault(departments[p.department], []).append(users[p.username])
        self.demo = {name: users[name] for name in users if name.startswith("demo-")}
        self.demo_street = streets[DEMO_STREET]
        self.demo_department = departments[DEMO_DEPARTMENT]
        self.categories = {
            c.code: c
            for c in (
                DemoCategory(*row)
                for row in db.session.execute(
                    select(
                        DemandCategory.id,
                        DemandCategory.code,
                        DemandCategory.kind,
                        DemandCategory.accept_days,
                        DemandCategory.resolve_days,
                        DemandCategory.level3_days,
                    ).where(DemandCategory.active.is_(True))
                )
            )
        }
        primaries = {
            firm_id: commissioner_id
            for firm_id, commissioner_id in db.session.execute(
                select(Assignment.firm_id, Assignment.commissioner_id).where(
                    Assignment.role == "primary", Assignment.ended_at.is_(None)
                )
            )
        }
        portal = {
            firm_id: user_id
            for firm_id, user_id in db.session.execute(
                select(User.firm_id, User.id).where(User.role == "firm", User.active.is_(True))
            )
        }
        self.firms = [
            DemoFirm(id_, street_id, tier, created, primaries.get(id_), portal.get(id_))
            for id_, street_id, tier, created in db.session.execute(
                select(Firm.id, Firm.street_id, Firm.tier, Firm.created_at)
                .where(Firm.status == "active")
                .order_by(Firm.id)
            )
        ]
        by_user = {f.user: f for f in self.firms if f.user is not None}
        self.featured_firms = {
            name: by_user[self.demo[name]]
            for name in ("demo-firm", "demo-firm2")
            if self.demo.get(name) in by_user
        }
        self.street_firms = [f for f in self.firms if f.street_id == self.demo_street]

    def unit(self, department: str | None = None, street_id: int | None = None) -> Unit:
        if department is not None:
            dept_id = self.department_ids[department]
            return Unit(dept_id, None, self.department_names[dept_id])
        return Unit(None, street_id, self.street_names[street_id])


def code_of(world: World, unit: Unit) -> str | None:
    return next(
        (code for code, id_ in world.department_ids.items() if id_ == unit.department_id), None
    )
