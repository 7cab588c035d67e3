"""The demo's policies and packages: about sixty policies whose criteria the editor would
accept, matches worth looking at, and packages the demo firm sees in its portal."""

import random
import re
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.demo.demand_world import World
from crm.demo.district import DEPARTMENTS, STREETS
from crm.demo.plan import DEMO_PASSWORD
from crm.demo.policies import _plan_issues, local_day, policy_of
from crm.demo.policy_texts import POLICIES
from crm.extensions import db
from crm.firms.industries import DIVISIONS
from crm.firms.models import Firm
from crm.org.models import Department, Street
from crm.policies import matching
from crm.policies.attributes import clean_value
from crm.policies.models import BulkIssuance, Policy, PolicyCriterion, ServicePackage
from crm.policies.queries import match_firm
from crm.workcal.services import today
from tests.conftest import english, login

DEMO_STREETS = {n: spec.name for n, spec in enumerate(STREETS, 1)}


def test_about_sixty_policies_with_criteria_the_editor_accepts(app):
    assert 55 <= len(POLICIES) <= 70
    assert len({p.title for p in POLICIES}) == len(POLICIES)
    for text in POLICIES:
        assert text.criteria, text.title
        for attribute, operator, value in text.criteria:
            cleaned = clean_value(attribute, operator, value, streets=DEMO_STREETS)
            assert clean_value(attribute, operator, cleaned, streets=DEMO_STREETS) == cleaned
            if attribute == "industry":  # prefixes of divisions the demo firms have
                assert all(any(d.startswith(p) for d in DIVISIONS) for p in cleaned), text.title


def test_the_policies_cover_the_topics_and_every_stage_of_life(app):
    year = 2026
    policies = [policy_of(t, year=year, streets=DEMO_STREETS) for t in POLICIES]
    day = date(year, 11, 30)
    assert {p.topic for p in policies} >= {
        "talent",
        "housing",
        "project",
        "financing",
        "technology",
        "tax",
        "employment",
    }
    assert {p.kind for p in policies} == {"universal", "individual"}
    assert sum(p.no_application for p in policies) >= 3
    assert sum(p.effective_to is not None and p.effective_to < day for p in policies) >= 2
    assert sum(p.effective_from > day for p in policies) >= 2
    assert sum(bool(t.retired) for t in POLICIES) == 1
    assert sum(p.in_force(day) for p in policies) >= 50
    for p in policies:  # 文号 such as 沪府办规〔2025〕3号, of the last years
        found = re.fullmatch(r"[\u4e00-\u9fff]+〔(\d{4})〕\d+号", p.doc_number)
        assert found and year - 3 <= int(found.group(1)) <= year + 1, p.doc_number


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["crm", "seed-demo", "--scale", "small"])
    assert result.exit_code == 0, result.output
    db.session.rollback()


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def test_the_demo_loads_the_policies_and_their_matches(seeded):
    assert db.session.scalar(select(func.count()).select_from(Policy)) == len(POLICIES)
    streets = {s.id: s.name for s in db.session.scalars(select(Street))}
    for c in db.session.scalars(select(PolicyCriterion)):
        assert clean_value(c.attribute, c.operator, c.value, streets=streets) == c.value

    firm = db.session.get(Firm, _user("demo-firm").firm_id)
    outcomes = Counter(m.outcome for m in match_firm(firm, today()))
    assert outcomes[matching.ELIGIBLE] >= 1
    assert outcomes[matching.NEAR_MISS] >= 1

    # Across the district: some policies most firms get, some few, many near misses.
    firms = db.session.scalars(select(Firm).where(Firm.status == "active")).all()
    eligible, near = Counter(), Counter()
    for f in firms:
        for m in match_firm(f, today()):
            eligible[m.rule.policy_id] += m.qualifies
            near[m.rule.policy_id] += m.outcome == matching.NEAR_MISS
    shares = sorted(n / len(firms) for n in eligible.values())
    assert shares[-1] > 0.5 and shares[len(shares) // 2] < 0.2
    assert sum(near.values()) > sum(eligible.values()) / 2


def test_the_demo_firm_has_packages_to_see_and_to_acknowledge(seeded, client):
    firm_id = _user("demo-firm").firm_id
    packages = db.session.scalars(
        select(ServicePackage)
        .where(ServicePackage.firm_id == firm_id)
        .order_by(ServicePackage.number)
    ).all()
    assert [p.number for p in packages] == [1, 2]
    assert packages[0].acknowledged_at is not None and packages[1].acknowledged_at is None
    assert all(p.snapshot["universal"] or p.snapshot["individual"] for p in packages)
    bulk = db.session.scalar(select(BulkIssuance))
    in_bulk = select(func.count()).where(ServicePackage.bulk_id == bulk.id)
    assert bulk.status == "done" and bulk.total == bulk.issued == db.session.scalar(in_bulk)

    assert login(client, "demo-firm", DEMO_PASSWORD).status_code == 302
    english(client)
    html = client.get("/portal/packages").get_data(as_text=True)
    assert html.count("data-package=") == 2
    html = client.get(f"/portal/packages/{packages[1].id}").get_data(as_text=True)
    assert 'id="acknowledge"' in html
    html = client.get("/portal/policies").get_data(as_text=True)
    assert 'data-outcome="eligible"' in html and 'data-outcome="near_miss"' in html


def test_the_packages_drawn_are_the_same_for_the_same_seed(seeded):
    from crm.demo.plan import SCALES, DemoPlan

    plan = DemoPlan(SCALES["small"], now=db.session.scalar(select(func.max(Firm.created_at))))
    codes = {s.name: s.code for s in STREETS}
    streets = {codes[s.name]: s.id for s in db.session.scalars(select(Street))}
    dcodes = {d.name: d.code for d in DEPARTMENTS}
    departments = {dcodes[d.name]: d.id for d in db.session.scalars(select(Department))}
    users = dict(db.session.execute(select(User.username, User.id)).all())
    world = World(plan, streets, departments, users)
    first = _plan_issues(plan, world, random.Random("demo:2026:packages"))
    again = _plan_issues(plan, world, random.Random("demo:2026:packages"))
    assert first == again and first
    assert local_day(plan.now) >= max(i.issued_at for i in first).date()
