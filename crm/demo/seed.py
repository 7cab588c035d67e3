"""Loading a demo plan into the database: Core ``insert()`` executemany, in batches.

One ORM object per row would take minutes at city scale; here a batch of firms is one
multi-row INSERT (with RETURNING, to learn their ids) and their contacts and assignments
one executemany each. Memory stays flat because the plan yields firms one at a time.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TypeVar

from sqlalchemy import func, insert, select

from crm.audit.services import record
from crm.auth.models import User
from crm.auth.passwords import hash_password
from crm.demo.demand_world import World
from crm.demo.demands import load_demands
from crm.demo.district import DEPARTMENTS, STREETS
from crm.demo.plan import DEFAULT_SEED, DEMO_PASSWORD, SCALES, DemoPlan, FirmRecord, Person
from crm.demo.policies import load_policies
from crm.demo.portal import load_portal
from crm.demo.workspace import load_workspace
from crm.extensions import db
from crm.firms.models import Assignment, Contact, Firm
from crm.org.models import Department, Street
from crm.timeutil import utcnow

BATCH = 2000
T = TypeVar("T")


class NotEmpty(RuntimeError):
    """The database already holds firms or users: demo data would mix with them."""


@dataclass
class SeedReport:
    scale: str
    seed: int
    seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    demo_logins: dict[str, str] = field(default_factory=dict)  # user name -> what it is


def existing_data() -> tuple[int, int]:
    """How many firms and users the database holds."""
    firms = db.session.scalar(select(func.count()).select_from(Firm))
    users = db.session.scalar(select(func.count()).select_from(User))
    return firms, users


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def seed_demo(
    scale: str,
    *,
    seed: int = DEFAULT_SEED,
    firms: int | None = None,
    now: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SeedReport:
    """Load the demo district into an empty database; the caller commits.

    ``firms`` overrides the scale's number of firms; ``on_batch`` hears how many firms
    each batch added.
    """
    started = time.perf_counter()
    if any(existing_data()):
        raise NotEmpty("the database already holds firms or users")
    plan = DemoPlan(SCALES[scale], seed=seed, now=now or utcnow(), firms=firms)
    loader = _Loader(plan)
    report = SeedReport(scale=scale, seed=seed)
    report.counts = loader.load(on_batch)
    report.counts.update(
        load_demands(
            plan,
            scale,
            streets=loader.streets,
            departments=loader.departments,
            users=loader.users,
        )
    )
    world = World(plan, loader.streets, loader.departments, loader.users)
    report.counts.update(load_portal(plan, world))
    report.counts.update(load_workspace(plan, world))
    report.counts.update(load_policies(plan, world))
    record(
        "demo.seed", username="seed-demo", detail={"scale": scale, "seed": seed, **report.counts}
    )
    db.session.flush()
    report.seconds = time.perf_counter() - started
    report.demo_logins = loader.demo_logins()
    return report


class _Loader:
    def __init__(self, plan: DemoPlan):
        self.plan = plan
        # Every demo account has the same published password, so it is hashed once: with
        # scrypt, hashing it per account would cost more than loading the firms.
        self.password_hash = hash_password(DEMO_PASSWORD)
        self.streets: dict[str, int] = {}
        self.departments: dict[str, int] = {}
        self.users: dict[str, int] = {}
        self.counts: Counter[str] = Counter()
        self.featured: dict[str, str] = {}

    def load(self, on_batch) -> Counter[str]:
        self._org()
        self._insert_users(self.plan.people)
        self.counts["commissioners"] = sum(
            p.role == "commissioner" and p.active for p in self.plan.people
        )
        for batch in _batches(self.plan.firms(), BATCH):
            self._insert_firms(batch)
            if on_batch:
                on_batch(len(batch))
        return self.counts

    def _org(self) -> None:
        """Streets and departments, reusing any that already exist under the same name."""
        streets = {s.name: s for s in db.session.scalars(select(Street))}
        for spec in STREETS:
            if spec.name not in streets:
                streets[spec.name] = Street(
                    name=spec.name,
                    code=spec.code,
                    service_centre_address=spec.service_centre_address,
                    service_centre_phone=spec.service_centre_phone,
                )
                db.session.add(streets[spec.name])
                self.counts["streets"] += 1
        departments = {d.name: d for d in db.session.scalars(select(Department))}
        for spec in DEPARTMENTS:
            if spec.name not in departments:
                departments[spec.name] = Department(
                    name=spec.name, code=spec.code, phone=spec.phone
                )
                db.session.add(departments[spec.name])
                self.counts["departments"] += 1
        db.session.flush()
        self.streets = {spec.code: streets[spec.name].id for spec in STREETS}
        self.departments = {spec.code: departments[spec.name].id for spec in DEPARTMENTS}

    def _insert_users(self, people: list[Person], firm_ids: dict[str, int] | None = None):
        if not people:
            return
        now = self.plan.now
        rows = [
            {
                "username": p.username,
                "display_name": p.display_name,
                "password_hash": self.password_hash,
                "role": p.role,
                "street_id": self.streets[p.street] if p.street else None,
                "department_id": self.departments[p.department] if p.department else None,
                "firm_id": firm_ids[p.firm_uscc] if p.firm_uscc else None,
                "phone": p.phone,
                "email": p.email,
                "specialty": p.specialty,
                "active": p.active,
                "failed_logins": 0,
                "locked_until": None,
                "last_login_at": None,
                "password_changed_at": now,
                "created_at": now,
            }
            for p in people
        ]
        table = User.__table__
        result = db.session.execute(insert(table).returning(table.c.username, table.c.id), rows)
        self.users.update((name, id_) for name, id_ in result)
        self.counts["users"] += len(rows)
        self.counts["firm_users"] += sum(p.role == "firm" for p in people)

    def _insert_firms(self, batch: list[FirmRecord]) -> None:
        users = self.users
        rows = [
            {
                **r.fields,
                "street_id": self.streets[r.street],
                "leader_id": users[r.leader] if r.leader else None,
            }
            for r in batch
        ]
        table = Firm.__table__
        result = db.session.execute(insert(table).returning(table.c.uscc, table.c.id), rows)
        ids = {code: id_ for code, id_ in result}
        contacts, assignments, portal = [], [], []
        for r in batch:
            firm_id = ids[r.fields["uscc"]]
            contacts.extend({**c, "firm_id": firm_id} for c in r.contacts)
            for a in r.assignments:
                assignments.append(
                    {
                        "firm_id": firm_id,
                        "commissioner_id": users[a["commissioner"]],
                        "role": a["role"],
                        "started_at": a["started_at"],
                        "ended_at": a["ended_at"],
                        "reason": a["reason"],
                        "end_reason": a["end_reason"],
                        "assigned_by_id": users[a["assigned_by"]],
                    }
                )
            if r.portal_user:
                portal.append(r.portal_user)
                if r.portal_user.username.startswith("demo-"):
                    self.featured[r.portal_user.username] = r.fields["name"]
            if tier := r.fields["tier"]:
                self.counts[f"{tier}_tier"] += 1
        db.session.execute(insert(Contact.__table__), contacts)
        db.session.execute(insert(Assignment.__table__), assignments)
        self._insert_users(portal, ids)
        self.counts["firms"] += len(rows)
        self.counts["contacts"] += len(contacts)
        self.counts["assignments"] += len(assignments)
        self.counts["ended_assignments"] += sum(a["ended_at"] is not None for a in assignments)

    def demo_logins(self) -> dict[str, str]:
        """Each demo account and what it is: role, and its street, department or firm."""
        units = {s.code: s.name for s in STREETS} | {d.code: d.name for d in DEPARTMENTS}
        logins = {}
        for p in self.plan.people:
            if p.username.startswith("demo-"):
                logins[p.username] = f"{p.role} {units.get(p.street or p.department, '')}"
        for username, firm_name in self.featured.items():
            logins[username] = f"firm {firm_name}"
        return {k: v.strip() for k, v in logins.items()}
