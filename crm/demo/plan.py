"""The demo district as plain data, drawn from a seed: its people and its firms.

Nothing here touches the database, so the same seed gives the same district wherever it
is drawn. Firm facts (names, codes, sizes, dates of establishment) are drawn as of
``FACTS_AS_OF`` and never depend on the clock; only the CRM's own timestamps (when a firm
was recorded, when commissioners took it over) are placed before ``now``.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any

from crm.demo import facts, names
from crm.demo.district import CITY_PREFIX, DEPARTMENTS, DIVISION, STREETS, StreetSpec
from crm.firms import uscc
from crm.firms.industries import DIVISIONS

DEMO_PASSWORD = "Demo-2026!"  # noqa: S105  (published: demo data only)
DEFAULT_SEED = 2026
FACTS_AS_OF = date(2026, 6, 30)
# The service-package system is about three years old when the demo is loaded.
PROGRAMME_AGE = timedelta(days=3 * 365)

DEMO_STREET = STREETS[0].code  # 华阳路街道: demo-street and demo-commissioner work here
DEMO_DEPARTMENT = DEPARTMENTS[0].code  # 区市场监管局


@dataclass(frozen=True)
class Scale:
    firms: int
    firms_per_commissioner: int  # the average load the street's commissioners carry
    centre_staff: int  # per street, besides its commissioners
    office_staff: int
    handlers: int  # per department
    leaders: int
    portal_share: float  # active firms with a portal account


SCALES = {
    "small": Scale(
        firms=300,
        firms_per_commissioner=10,
        centre_staff=2,
        office_staff=4,
        handlers=1,
        leaders=5,
        portal_share=0.05,
    ),
    "district": Scale(
        firms=20_000,
        firms_per_commissioner=100,
        centre_staff=4,
        office_staff=8,
        handlers=3,
        leaders=8,
        portal_share=0.03,
    ),
    "city": Scale(
        firms=200_000,
        firms_per_commissioner=120,
        centre_staff=8,
        office_staff=20,
        handlers=6,
        leaders=12,
        portal_share=0.03,
    ),
}


@dataclass
class Person:
    """A user account; streets, departments and firms are named by code."""

    username: str
    display_name: str
    role: str
    street: str | None = None
    department: str | None = None
    firm_uscc: str | None = None
    phone: str = ""
    email: str = ""
    specialty: str = ""
    active: bool = True


@dataclass
class FirmRecord:
    """A firm's columns (without foreign keys), its street, people and assignments."""

    fields: dict[str, Any]
    street: str
    leader: str | None  # user name
    contacts: list[dict[str, Any]]
    assignments: list[dict[str, Any]]  # "commissioner" and "assigned_by" are user names
    portal_user: Person | None = None


@dataclass
class _StreetTeam:
    spec: StreetSpec
    centre: list[str] = field(default_factory=list)
    commissioners: list[str] = field(default_factory=list)
    talent: list[str] = field(default_factory=list)
    former: list[str] = field(default_factory=list)  # commissioners who have left


_FIRST_REASONS = ("纳入包保名单", "企业落户，分配服务专员", "年度包保名单调整")
_END_REASONS = ("专员岗位调整", "工作量均衡调整", "企业要求更换专员", "街道专员队伍调整")
_LEFT_REASON = "专员调离"


class DemoPlan:
    """``people`` first (firms refer to them), then iterate ``firms()`` once."""

    def __init__(
        self, scale: Scale, *, seed: int = DEFAULT_SEED, now: datetime, firms: int | None = None
    ):
        self.scale = scale
        self.seed = seed
        self.now = now
        self.firm_count = scale.firms if firms is None else firms
        self.people: list[Person] = []
        self.teams: dict[str, _StreetTeam] = {}
        self.leaders: list[str] = []
        self.office: list[str] = []
        # Separate streams, so adding people never reshuffles the firms.
        self._draw_people(random.Random(f"demo:{seed}:people"))
        self._street_codes = [s.code for s in STREETS]
        self._street_cum = list(accumulate(s.weight for s in STREETS))
        self._divisions = list(DIVISIONS)
        self._division_cum = list(accumulate(w for _, w in DIVISIONS.values()))

    # -- people ---------------------------------------------------------------------------

    def _person(self, rng, username, role, *, phone=None, **kw) -> Person:
        person = Person(
            username=username,
            display_name=names.person_name(rng),
            role=role,
            phone=phone if phone is not None else names.mobile(rng),
            email=f"{username}@example.com",
            **kw,
        )
        self.people.append(person)
        return person

    def _draw_people(self, rng: random.Random) -> None:
        s = self.scale
        self._person(rng, "demo-admin", "admin", phone="")
        for n in range(s.office_staff):
            name = "demo-office" if n == 0 else f"tcb{n:02d}"
            self.office.append(self._person(rng, name, "office").username)
        for n in range(s.leaders):
            name = "demo-leader" if n == 0 else f"ld{n:02d}"
            self.leaders.append(
                self._person(rng, name, "leader", phone=names.landline(rng)).username
            )
        total_weight = sum(st.weight for st in STREETS)
        for spec in STREETS:
            team = _StreetTeam(spec)
            self.teams[spec.code] = team
            demo = spec.code == DEMO_STREET
            for n in range(1, s.centre_staff + 1):
                name = "demo-street" if demo and n == 1 else f"{spec.abbr}-zx{n:02d}"
                team.centre.append(self._person(rng, name, "street", street=spec.code).username)
            expected = self.firm_count * spec.weight / total_weight
            count = max(3, round(expected / s.firms_per_commissioner))
            for n in range(1, count + 1):
                name = "demo-commissioner" if demo and n == 1 else f"{spec.abbr}-zy{n:03d}"
                talent = n % 5 == 0  # one in five is a talent commissioner (人才专员)
                self._person(
                    rng,
                    name,
                    "commissioner",
                    street=spec.code,
                    specialty="talent" if talent else "",
                )
                team.commissioners.append(name)
                if talent:
                    team.talent.append(name)
            for n in range(count + 1, count + 1 + max(1, count // 6)):
                name = f"{spec.abbr}-zy{n:03d}"
                self._person(rng, name, "commissioner", street=spec.code, active=False)
                team.former.append(name)
        for spec in DEPARTMENTS:
            for n in range(1, s.handlers + 1):
                demo = spec.code == DEMO_DEPARTMENT and n == 1
                name = "demo-department" if demo else f"{spec.abbr}-bl{n:02d}"
                self._person(
                    rng, name, "department", department=spec.code, phone=names.landline(rng)
                )

    # -- firms ----------------------------------------------------------------------------

    def _featured(self) -> dict[int, dict[str, Any]]:
        """The first firms are shaped so every demo account has something to look at."""
        commissioner = "demo-commissioner"
        return {
            0: {
                "street": DEMO_STREET,
                "size": "large",
                "tier": "district",
                "status": "active",
                "leader": "demo-leader",
                "primary": commissioner,
                "portal": "demo-firm",
            },
            1: {
                "street": DEMO_STREET,
                "size": "medium",
                "tier": "sector",
                "status": "active",
                "high_tech": True,
                "primary": commissioner,
                "portal": "demo-firm2",
            },
            2: {
                "street": DEMO_STREET,
                "size": "small",
                "tier": "local",
                "status": "active",
                "primary": commissioner,
            },
            3: {
                "street": STREETS[6].code,
                "size": "large",
                "tier": "district",
                "status": "active",
                "leader": "demo-leader",
            },
        }

    def firms(self) -> Iterator[FirmRecord]:
        rng = random.Random(f"demo:{self.seed}:firms")
        taken_names: set[str] = set()
        taken_codes: set[str] = set()
        featured = self._featured()
        for i in range(self.firm_count):
            yield self._firm(rng, featured.get(i, {}), taken_names, taken_codes)

    def _firm(self, rng, want, taken_names, taken_codes) -> FirmRecord:
        street = (
            want.get("street") or rng.choices(self._street_codes, cum_weights=self._street_cum)[0]
        )
        team = self.teams[street]
        division = rng.choices(self._divisions, cum_weights=self._division_cum)[0]
        size = want.get("size") or facts.pick(rng, facts.SIZES)
        status = want.get("status") or facts.pick(rng, facts.STATUSES)
        high_tech = want.get("high_tech", facts.high_tech(rng, division, size))
        foreign = facts.foreign_invested(rng, division, size, team.spec.foreign_factor)
        joint_stock = facts.joint_stock(rng, size, foreign)
        established = facts.established_on(rng, size, status, FACTS_AS_OF)
        tier = want.get("tier") or facts.tier(rng, size, status)
        leader = want.get("leader")
        if tier == "district" and leader is None:
            leader = rng.choice(self.leaders)

        code = uscc.generate(rng, DIVISION)
        while code in taken_codes:
            code = uscc.generate(rng, DIVISION)
        taken_codes.add(code)
        name = names.company_name(
            rng, division, foreign=foreign, joint_stock=joint_stock, taken=taken_names
        )
        legal = (
            names.foreign_person_name(rng)
            if foreign and rng.random() < 0.45
            else names.person_name(rng)
        )
        created = self._recorded_at(rng, established, status)
        fields = {
            "name": name,
            "uscc": code,
            "legal_representative": legal,
            "industry_code": names.industry_code(rng, division),
            "size": size,
            "registered_capital": facts.capital(rng, size, foreign),
            "employees": facts.employees(rng, size, status),
            "revenue_band": facts.revenue_band(rng, size, status),
            "established_on": established,
            "address": names.address(rng, CITY_PREFIX, rng.choice(team.spec.roads)),
            "high_tech": high_tech,
            "foreign_invested": foreign,
            "tier": tier,
            "tags": facts.tags(
                rng,
                division,
                size,
                high_tech=high_tech,
                foreign=foreign,
                joint_stock=joint_stock,
                established=established,
            ),
            "status": status,
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }
        contacts = facts.contacts(rng, size, legal)
        portal = None
        if want.get("portal") or (status == "active" and rng.random() < self.scale.portal_share):
            first = contacts[0]
            portal = Person(
                username=want.get("portal") or code,
                display_name=first["name"],
                role="firm",
                firm_uscc=code,
                phone=first["phone"],
            )
        return FirmRecord(
            fields=fields,
            street=street,
            leader=leader,
            contacts=contacts,
            assignments=self._assignments(rng, team, created, high_tech, want.get("primary")),
            portal_user=portal,
        )

    def _recorded_at(self, rng, established: date, status: str) -> datetime:
        """When the office first recorded the firm: at the programme's start or later."""
        now = self.now
        if status == "prospect":
            return now - timedelta(minutes=rng.randrange(60, 365 * 24 * 60))
        start = now - PROGRAMME_AGE
        since = datetime.combine(established, time(1, 30))
        if since < start:
            at = start + timedelta(minutes=rng.randrange(180 * 24 * 60))
        else:
            at = since + timedelta(minutes=rng.randrange(60 * 24 * 60))
        return min(at, now - timedelta(hours=1))

    def _assignments(self, rng, team, created, high_tech, primary) -> list[dict[str, Any]]:
        """A primary, usually a backup, and for some firms the commissioner before."""
        now = self.now
        start = min(created + timedelta(minutes=rng.randrange(30 * 24 * 60)), now)
        primary = primary or rng.choice(team.commissioners)

        def row(who, role, started, ended=None, reason="", end_reason=""):
            by = rng.choice(self.office) if rng.random() < 0.3 else rng.choice(team.centre)
            return {
                "commissioner": who,
                "role": role,
                "started_at": started,
                "ended_at": ended,
                "reason": reason,
                "end_reason": end_reason,
                "assigned_by": by,
            }

        rows = []
        others = [c for c in team.commissioners if c != primary]
        if rng.random() < 0.15 and now - start > timedelta(days=60):
            left = bool(team.former) and (not others or rng.random() < 0.5)
            before = rng.choice(team.former) if left else rng.choice(others or team.former)
            switch = start + (now - start) * rng.uniform(0.2, 0.9)
            end_reason = _LEFT_REASON if left else rng.choice(_END_REASONS)
            rows.append(
                row(before, "primary", start, switch, rng.choice(_FIRST_REASONS), end_reason)
            )
            rows.append(row(primary, "primary", switch, reason=f"接替原专员（{end_reason}）"))
        else:
            rows.append(row(primary, "primary", start, reason=rng.choice(_FIRST_REASONS)))
        if others and rng.random() < 0.85:
            talent = [c for c in team.talent if c != primary]
            pool = talent if high_tech and talent and rng.random() < 0.5 else others
            rows.append(row(rng.choice(pool), "backup", start, reason="配备备岗专员"))
        return rows
