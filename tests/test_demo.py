"""``crm seed-demo``: the demo district that ``make run`` loads into an empty database."""

from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm import create_app
from crm.auth.models import User
from crm.demands.models import Demand
from crm.demands.states import STATES
from crm.demo.district import DEPARTMENTS, STREETS
from crm.demo.plan import DEMO_PASSWORD, SCALES, DemoPlan
from crm.extensions import db
from crm.firms.models import Assignment, Contact, Firm
from crm.firms.uscc import is_valid
from crm.org.models import Department, Street
from crm.timeutil import utcnow
from tests.conftest import _base_config, login

DEMO_LOGINS = (
    "demo-admin",
    "demo-office",
    "demo-street",
    "demo-commissioner",
    "demo-department",
    "demo-leader",
    "demo-firm",
    "demo-firm2",
)


def seed(runner, *args):
    result = runner.invoke(args=["crm", "seed-demo", *args])
    db.session.rollback()  # read what the command committed, not an older snapshot
    return result


def counts() -> tuple[int, int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Firm, User, Contact, Assignment)
    )


def firm_facts() -> list[tuple]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                Firm.uscc,
                Firm.name,
                Firm.legal_representative,
                Firm.industry_code,
                Firm.size,
                Firm.status,
                Firm.tier,
                Firm.address,
            ).order_by(Firm.uscc)
        )
    ]


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def seeded(runner):
    result = seed(runner, "--scale", "small")
    assert result.exit_code == 0, result.output
    return result


def test_small_scale_builds_the_district(seeded):
    streets = db.session.scalars(select(Street)).all()
    assert sorted(s.name for s in streets) == sorted(s.name for s in STREETS)
    assert all(s.code and s.service_centre_address and s.service_centre_phone for s in streets)
    departments = db.session.scalars(select(Department)).all()
    assert sorted(d.name for d in departments) == sorted(d.name for d in DEPARTMENTS)
    assert all(d.code and d.phone for d in departments)
    assert counts()[0] == 300
    assert "300 firms" in seeded.output and "demo-commissioner" in seeded.output
    # A living loop: demands in every state of the state machine.
    assert set(db.session.scalars(select(Demand.state).distinct())) == set(STATES)


def test_every_firm_has_a_valid_unique_code_and_a_primary_commissioner_of_its_street(seeded):
    firms = db.session.scalars(
        select(Firm).options(
            selectinload(Firm.contacts),
            selectinload(Firm.assignments).selectinload(Assignment.commissioner),
        )
    ).all()
    codes = [f.uscc for f in firms]
    assert all(is_valid(code) and code[2:8] == "310105" for code in codes)
    assert len(set(codes)) == len(codes)
    assert len({f.name for f in firms}) == len(firms)
    for firm in firms:
        primary = firm.primary_commissioner
        assert primary is not None, firm.name
        assert primary.role == "commissioner" and primary.active
        assert primary.street_id == firm.street_id
        assert 1 <= len(firm.contacts) <= 3
        backup = firm.backup_commissioner
        assert backup is None or (backup.street_id == firm.street_id and backup != primary)
    open_primaries = db.session.execute(
        select(Assignment.firm_id, func.count())
        .where(Assignment.role == "primary", Assignment.ended_at.is_(None))
        .group_by(Assignment.firm_id)
    ).all()
    assert len(open_primaries) == len(firms) and all(n == 1 for _, n in open_primaries)
    # Some firms changed commissioner, so the assignment history has something in it.
    ended = db.session.scalars(select(Assignment).where(Assignment.ended_at.is_not(None))).all()
    assert ended and all(a.end_reason and a.ended_at > a.started_at for a in ended)


def test_firms_look_like_a_district(seeded):
    firms = db.session.scalars(select(Firm)).all()
    tiers = [f.tier for f in firms]
    assert tiers.count(None) > len(firms) / 2  # most firms have no tier
    assert all(f.leader_id for f in firms if f.tier == "district")
    assert not any(f.leader_id for f in firms if f.tier != "district")
    assert {f.status for f in firms} == {"active", "prospect", "moved_out"}
    assert sum(f.size in ("small", "micro") for f in firms) > len(firms) * 0.8
    assert any(f.high_tech for f in firms) and any(f.foreign_invested for f in firms)
    assert any(f.tags for f in firms)


def test_demo_accounts_fit_together(seeded):
    street, commissioner = user("demo-street"), user("demo-commissioner")
    assert street.role == "street" and commissioner.role == "commissioner"
    assert street.street_id == commissioner.street_id
    mine = db.session.scalars(
        select(Firm)
        .join(Assignment)
        .where(Assignment.commissioner_id == commissioner.id, Assignment.ended_at.is_(None))
    ).all()
    assert mine and any(f.tier for f in mine)
    leader = user("demo-leader")
    linked = db.session.scalars(select(Firm).where(Firm.leader_id == leader.id)).all()
    assert linked and all(f.tier == "district" for f in linked)
    firm_user, firm_user2 = user("demo-firm"), user("demo-firm2")
    assert firm_user.firm_id and firm_user2.firm_id
    assert firm_user.firm_id != firm_user2.firm_id
    assert user("demo-department").department.name == DEPARTMENTS[0].name


def test_every_demo_login_works_through_the_login_form(seeded, app):
    for username in DEMO_LOGINS:
        client = app.test_client()
        response = login(client, username, DEMO_PASSWORD)
        assert response.status_code == 302, username
        assert "/login" not in response.headers["Location"], username
        # The session is real: a page for any logged-in user opens.
        assert client.get("/account/password").status_code == 200, username


def test_if_empty_on_a_seeded_database_adds_nothing(seeded, runner):
    before = counts()
    result = seed(runner, "--scale", "small", "--if-empty")
    assert result.exit_code == 0
    assert "Nothing done" in result.output
    assert counts() == before


def test_without_if_empty_a_seeded_database_is_refused(seeded, runner):
    before = counts()
    result = seed(runner, "--scale", "small")
    assert result.exit_code != 0
    assert "already holds 300 firms" in result.output
    assert counts() == before


def test_the_same_seed_gives_the_same_firms(runner, tmp_path):
    assert seed(runner, "--seed", "7", "--firms", "60").exit_code == 0
    first = firm_facts()

    other = create_app(_base_config(f"sqlite:///{tmp_path / 'other.sqlite3'}", tmp_path))
    with other.app_context():
        upgrade()
        result = other.test_cli_runner().invoke(
            args=["crm", "seed-demo", "--seed", "7", "--firms", "60"]
        )
        assert result.exit_code == 0, result.output
        again = firm_facts()
        db.session.remove()
        db.engine.dispose()
    assert len(first) == 60
    assert again == first


def test_another_seed_gives_other_firms():
    def names(seed: int) -> list[str]:
        plan = DemoPlan(SCALES["small"], seed=seed, now=utcnow(), firms=60)
        return [firm.fields["name"] for firm in plan.firms()]

    assert names(7) == names(7)
    assert names(7) != names(8)


def test_demo_portal_activity_belongs_to_each_firm(app, runner):
    from crm.portal.models import ProfileChange, ServiceRequest, SignupRequest

    assert seed(runner, "--scale", "small").exit_code == 0
    requests = db.session.scalars(select(ServiceRequest)).all()
    assert requests
    for req in requests:
        asker = db.session.get(User, req.requested_by_id)
        assert (asker.role, asker.firm_id) == ("firm", req.firm_id)
        assert req.street_id == req.firm.street_id
        if req.commissioner_id is not None:
            assert req.commissioner_id == req.firm.primary_commissioner.id
        assert (req.outcome != "") == (req.state == "done")
        if req.scheduled_for is not None:  # agreed in local time, on the hour
            local_created = req.created_at + timedelta(hours=8)
            assert req.scheduled_for.date() >= local_created.date()
            assert req.scheduled_for.minute == 0
            if req.state == "done":
                assert req.scheduled_for <= utcnow() + timedelta(hours=8)
    demo_firm = db.session.scalar(select(User).where(User.username == "demo-firm")).firm_id
    mine = {(r.kind, r.state) for r in requests if r.firm_id == demo_firm}
    assert {("onsite", "requested"), ("appointment", "scheduled")} <= mine
    change = db.session.scalars(select(ProfileChange)).first()
    assert change.state == "pending"
    assert change.changes["employees"]["from"] == change.firm.employees
    for signup in db.session.scalars(select(SignupRequest)):
        assert signup.state == "pending"
        assert (
            db.session.scalar(
                select(func.count()).select_from(User).where(User.firm_id == signup.firm_id)
            )
            == 0
        )


# -- the workspace: visits, prospects and cases ------------------------------------------------


def test_small_scale_gains_visits_prospects_and_cases(seeded):
    from crm.assistance.models import AssistanceCase, FinancingReferral, Prospect
    from crm.visits.models import Visit, VisitParticipant

    visits = db.session.scalars(select(Visit).options(selectinload(Visit.firm))).all()
    assert len(visits) > 100
    today = (utcnow() + timedelta(hours=8)).date()
    for v in visits:
        assert v.street_id == v.firm.street_id and v.visited_on <= today
        assert v.summary and db.session.get(User, v.commissioner_id).role == "commissioner"
    joint = [v for v in visits if v.joint]
    assert joint and all(v.participants for v in joint)
    levels = set(db.session.scalars(select(VisitParticipant.level).distinct()))
    assert {"department", "district"} <= levels
    # Demands taken on a visit point at a visit of the same firm, that day.
    taken = db.session.scalars(select(Demand).where(Demand.channel == "visit")).all()
    assert taken
    for d in taken:
        visit = db.session.get(Visit, d.visit_id)
        assert visit.firm_id == d.firm_id
        assert visit.visited_on == (d.submitted_at + timedelta(hours=8)).date()

    prospects = db.session.scalars(select(Prospect)).all()
    assert {p.state for p in prospects} == {"open", "registered", "dropped"}
    for p in prospects:
        assert (p.firm_id is not None) == (p.state == "registered")
        assert bool(p.drop_reason) == (p.state == "dropped")

    cases = db.session.scalars(select(AssistanceCase)).all()
    assert {(c.case_type.code, c.stage.position) for c in cases if c.state == "open"} == {
        (code, n) for code in ("REG", "SITE", "HIRE", "FIN", "TAL", "HOUSE") for n in range(4)
    }
    assert {c.state for c in cases} == {"open", "landed", "dropped"}
    for c in cases:
        assert c.number == f"BB{c.opened_on:%Y%m%d}{c.id:06d}"
        assert c.stage.case_type_id == c.case_type_id
        assert c.events[0].action == "opened"
        assert [e.at for e in c.events] == sorted(e.at for e in c.events)
        # A prospect's case moves to the firm when it registers, whatever its state.
        moves = [e.action for e in c.events if e.action != "registered"]
        if c.state == "landed":
            assert c.landed_on >= c.opened_on and moves[-1] == "landed"
            assert all(item.done for item in c.checklist)
        if c.state == "dropped":
            assert c.drop_reason and c.dropped_on >= c.opened_on
            assert moves[-1] == "dropped"
        if c.state == "open":
            assert moves[-1] in ("opened", "advanced")
        # Items of the stages already passed are ticked.
        positions = {s.id: s.position for s in c.case_type.stages}
        for item in c.checklist:
            if item.stage_id and positions[item.stage_id] < c.stage.position:
                assert item.done, (c.number, item.label)
        if c.case_type.code == "TAL":
            assert c.talent_route in ("high_tech", "points")
            assert all(i.route in (None, c.talent_route) for i in c.checklist)
        if c.prospect is not None and c.prospect.state == "registered":
            assert c.firm_id == c.prospect.firm_id
    referrals = db.session.scalars(select(FinancingReferral)).all()
    assert referrals and all("银行" in r.bank and r.amount_requested > 0 for r in referrals)
    assert all(
        (r.amount_granted is not None) == (r.outcome == "granted")
        and (r.amount_granted or 0) <= r.amount_requested
        for r in referrals
    )


def test_the_demo_commissioners_day_has_something_in_every_part(seeded, app):
    client = app.test_client()
    assert login(client, "demo-commissioner", DEMO_PASSWORD).status_code == 302
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("data-firm=") >= 5
    assert "data-overdue" in page.split('id="my-firms"')[1].split("</section>")[0]
    assert "data-demand=" in page and "data-request=" in page
    assert page.count("data-case=") >= 10
