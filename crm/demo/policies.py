"""Demo policies and the service packages issued from them (DESIGN §7).

The policies (``crm.demo.policy_texts``) are entered as the office would, their criteria
checked with ``clean_value``; one is retired, some have expired, some are not yet in
force. Packages went to most district-tier firms in one bulk issuance about four months
ago and to some sector-tier firms since, each composed by ``crm.policies.packages`` on
its day and frozen with ``snapshot_of``, as issuing does (at most about a thousand, so
the city scale stays quick); a few firms got a second
version lately, and most packages older than a week have been acknowledged. The featured
firm ``demo-firm`` has an acknowledged package and a newer one waiting for it.

Rows are written with Core executemany in batches, so the city scale stays quick; the
snapshots are the only per-firm work, one statement each (the time limits).
"""

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from crm.demo.demand_replay import SHANGHAI_OFFSET
from crm.demo.demand_world import DemoFirm, World
from crm.demo.plan import DemoPlan
from crm.demo.policy_texts import POLICIES, PolicyText
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from crm.policies import matching
from crm.policies.attributes import clean_value
from crm.policies.models import BulkIssuance, Policy, PolicyCriterion, ServicePackage
from crm.policies.packages import compose, snapshot_of

BATCH = 500
CAMPAIGN_DAYS_AGO = 120  # the bulk issuance to the district tier
DISTRICT_SHARE = 0.85  # district-tier firms in the bulk issuance
SECTOR_SHARE = 0.15  # sector-tier firms given a package one by one since
# At city scale the shares would mean thousands of snapshots: the sample stops here, so
# the seed stays quick (each snapshot costs a few milliseconds).
BULK_CAP = 800
SECTOR_CAP = 200
SECOND_SHARE = 0.1  # firms of the bulk issuance given a second version lately
ACK_SHARE = 0.65  # packages older than a week that were acknowledged
CONFIRM_REVIEWED = 0.5  # proposals pending review the commissioner confirmed
SINGLE_CHANNELS = ("in_person", "in_person", "email", "portal", "mail")
STAFF_ACKS = ("企业负责人现场签收", "企业经办人签收", "已电话确认收到")


@dataclass(frozen=True)
class Issue:
    """One package to write: whose, which version, when, how, and its receipt."""

    firm_id: int
    number: int
    issued_at: datetime  # UTC
    channel: str
    bulk: bool = False
    acknowledged: bool = False


def load_policies(plan: DemoPlan, world: World) -> Counter[str]:
    counts: Counter[str] = Counter()
    policies = _insert_policies(plan, world)
    counts["policies"] = len(policies)
    counts["retired_policies"] = sum(p.retired_at is not None for p in policies)
    counts.update(_issue_packages(plan, world, [matching.Rule.of(p) for p in policies]))
    return counts


# -- policies -------------------------------------------------------------------------------


def local_day(moment: datetime) -> date:
    return (moment + SHANGHAI_OFFSET).date()


def on_year(text: str, year: int) -> str:
    return text.format(Y=year, Y1=year - 1, Y2=year - 2, Y3=year - 3, N=year + 1)


def _day(year: int, spec: tuple[int, int, int] | None) -> date | None:
    if spec is None:
        return None
    offset, month, day = spec
    return date(year + offset, month, day)


def policy_of(text: PolicyText, *, year: int, streets: dict[int, str]) -> Policy:
    """The policy as the office would enter it in ``year``; criteria cleaned as entered."""
    policy = Policy(
        title=text.title,
        issuer=text.issuer,
        level=text.level,
        doc_number=on_year(text.doc, year),
        topic=text.topic,
        kind=text.kind,
        effective_from=_day(year, text.start),
        effective_to=_day(year, text.end),
        benefits=text.benefits,
        how_to_apply=text.how_to_apply,
        no_application=text.no_application,
        review_conditions=list(text.review),
    )
    for position, (attribute, operator, value) in enumerate(text.criteria):
        policy.criteria.append(
            PolicyCriterion(
                position=position,
                attribute=attribute,
                operator=operator,
                value=clean_value(attribute, operator, value, streets=streets),
            )
        )
    return policy


def _insert_policies(plan: DemoPlan, world: World) -> list[Policy]:
    now = plan.now
    year = local_day(now).year
    officer = world.office[0]
    policies = []
    for n, text in enumerate(POLICIES):
        policy = policy_of(text, year=year, streets=world.street_names)
        entered = datetime.combine(policy.effective_from, time(2)) - timedelta(days=20 + n % 9)
        policy.created_at = policy.updated_at = min(entered, now - timedelta(days=10 + n))
        policy.created_by_id = officer
        if text.retired:
            policy.retired_at = now - timedelta(days=90)
            policy.retired_by_id = officer
            policy.retire_reason = text.retired
        policies.append(policy)
    db.session.add_all(policies)
    db.session.flush()
    return policies


# -- packages -------------------------------------------------------------------------------


def _sample(rng: random.Random, firms: list[DemoFirm], share: float, cap: int, keep: set[int]):
    """About ``share`` of ``firms``, at most ``cap`` of them, always with those in ``keep``."""
    chosen = [f for f in firms if f.id in keep or rng.random() < share]
    if len(chosen) > cap:
        kept = [f for f in chosen if f.id in keep]
        others = [f for f in chosen if f.id not in keep]
        chosen = kept + rng.sample(others, cap - len(kept))
    return sorted(chosen, key=lambda f: f.id)


def _plan_issues(plan: DemoPlan, world: World, rng: random.Random) -> list[Issue]:
    now = plan.now
    campaign = datetime.combine(local_day(now) - timedelta(days=CAMPAIGN_DAYS_AGO), time(2))
    featured = {name: f.id for name, f in world.featured_firms.items()}
    keep = set(featured.values())
    older = [f for f in world.firms if f.created_at <= campaign or f.id in keep]
    district = [f for f in older if f.tier == "district"]
    sector = [f for f in older if f.tier == "sector"]
    issues = []
    for firm in _sample(rng, district, DISTRICT_SHARE, BULK_CAP, keep):
        issues.append(_issue(rng, now, firm, 1, campaign, "meeting", bulk=True))
        if firm.id == featured.get("demo-firm"):
            issues.append(Issue(firm.id, 2, now - timedelta(days=6), "in_person"))
        elif rng.random() < SECOND_SHARE:
            later = now - timedelta(days=rng.randrange(10, CAMPAIGN_DAYS_AGO - 10))
            issues.append(_issue(rng, now, firm, 2, later, rng.choice(SINGLE_CHANNELS)))
    for firm in _sample(rng, sector, SECTOR_SHARE, SECTOR_CAP, keep):
        if firm.id == featured.get("demo-firm2"):
            issues.append(Issue(firm.id, 1, now - timedelta(days=20), "in_person"))
            continue
        when = now - timedelta(days=rng.randrange(3, 150), minutes=rng.randrange(600))
        issues.append(_issue(rng, now, firm, 1, when, rng.choice(SINGLE_CHANNELS)))
    return issues


def _issue(rng, now, firm: DemoFirm, number, at, channel, *, bulk=False) -> Issue:
    acknowledged = now - at > timedelta(days=7) and rng.random() < ACK_SHARE
    return Issue(firm.id, number, at, channel, bulk=bulk, acknowledged=acknowledged)


def _firms(ids: list[int]) -> Iterator[Firm]:
    for start in range(0, len(ids), BATCH):
        yield from db.session.scalars(
            select(Firm)
            .where(Firm.id.in_(ids[start : start + BATCH]))
            .options(
                selectinload(Firm.street),
                selectinload(Firm.assignments).selectinload(Assignment.commissioner),
            )
            .order_by(Firm.id)
        )


def _issue_packages(plan: DemoPlan, world: World, rules: list[matching.Rule]) -> Counter[str]:
    rng = random.Random(f"demo:{plan.seed}:packages")
    counts: Counter[str] = Counter()
    issues = _plan_issues(plan, world, rng)
    if not issues:
        return counts
    bulk = _bulk(plan, world, sum(i.bulk for i in issues))
    by_firm: dict[int, list[Issue]] = {}
    for item in issues:
        by_firm.setdefault(item.firm_id, []).append(item)
    portal_users = {f.id: f.user for f in world.firms if f.user is not None}
    rows = []
    for firm in _firms(sorted(by_firm)):
        for item in by_firm[firm.id]:
            rows.append(_package_row(rng, plan, world, firm, item, rules, bulk, portal_users))
            counts["packages"] += 1
            counts["acknowledged_packages"] += item.acknowledged
        if len(rows) >= BATCH:
            db.session.execute(insert(ServicePackage), rows)
            rows = []
    if rows:
        db.session.execute(insert(ServicePackage), rows)
    return counts


def _bulk(plan: DemoPlan, world: World, total: int) -> BulkIssuance:
    campaign = datetime.combine(local_day(plan.now) - timedelta(days=CAMPAIGN_DAYS_AGO), time(2))
    bulk = BulkIssuance(
        tier="district",
        as_of=local_day(campaign),
        channel="meeting",
        status="done",
        total=total,
        issued=total,
        created_by_id=world.office[0],
        created_at=campaign - timedelta(hours=1),
        started_at=campaign - timedelta(minutes=50),
        progress_at=campaign - timedelta(minutes=40),
        finished_at=campaign - timedelta(minutes=40),
    )
    db.session.add(bulk)
    db.session.flush()
    return bulk


def _package_row(rng, plan, world, firm, item, rules, bulk, portal_users) -> dict:
    on = local_day(item.issued_at)
    composition = compose(firm, on, rules=rules)
    confirmed = [
        m
        for m in composition.proposed
        if m.outcome == matching.ELIGIBLE or rng.random() < CONFIRM_REVIEWED
    ]
    issuer = firm.primary_commissioner
    row = {
        "firm_id": firm.id,
        "number": item.number,
        "as_of": on,
        "channel": item.channel,
        "note": "年度服务包集中发放" if item.bulk else "",
        "bulk_id": bulk.id if item.bulk else None,
        "issued_by_id": issuer.id if issuer else world.office[0],
        "issued_at": item.issued_at,
        "acknowledged_at": None,
        "acknowledged_by_id": None,
        "acknowledgement": "",
        "snapshot": snapshot_of(
            firm,
            on=on,
            number=item.number,
            issued_at=item.issued_at.isoformat(),
            issued_by=str(issuer) if issuer else "",
            channel=item.channel,
            universal=composition.automatic + [m for m in confirmed if m.rule.kind == "universal"],
            individual=[m for m in confirmed if m.rule.kind != "universal"],
            streets=world.street_names,
        ),
    }
    if item.acknowledged:
        user = portal_users.get(firm.id)
        at = item.issued_at + timedelta(days=rng.randrange(1, 7), minutes=rng.randrange(600))
        row["acknowledged_at"] = min(at, plan.now - timedelta(hours=1))
        if user is not None and rng.random() < 0.7:
            row["acknowledged_by_id"], row["acknowledgement"] = user, "已在企业门户签收"
        else:
            row["acknowledged_by_id"] = issuer.id if issuer else world.office[0]
            row["acknowledgement"] = rng.choice(STAFF_ACKS)
    return row
