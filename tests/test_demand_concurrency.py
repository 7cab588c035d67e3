"""Two people acting on one demand at once (issue 3, item 9).

Each ``request()`` block is one request: its own app context and database session, as in
production. The first person's action lands; the second is refused and told who changed
the demand, whether the staleness shows in the version their form carried
(``expected_version``) or only when their write reaches the database (the ORM's version
counter); either way the demand ends as the first person left it, with one event.
"""

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from crm.auth.models import User
from crm.demands import services
from crm.demands.models import Demand, DemandCategory, DemandEvent, DemandTask
from crm.demands.services import StaleDemand, Unit
from crm.extensions import db
from crm.firms.models import Firm
from crm.org.models import Department


@pytest.fixture(autouse=True)
def english(app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def request_of(app):
    @contextmanager
    def _request():
        with app.app_context():
            yield
            db.session.rollback()

    return _request


@pytest.fixture
def people(make_street, make_department, make_firm, make_user):
    """Ids only: each request loads what it needs in its own session."""
    street = make_street()
    dept_a, dept_b = make_department(), make_department()
    firm = make_firm(street=street)
    users = {
        "office": make_user("office", display_name="王主任"),
        "office2": make_user("office", display_name="李科长"),
        "centre": make_user("street", street=street, display_name="街道中心赵敏"),
        "commissioner": make_user("commissioner", street=street, display_name="专员陈静"),
        "lead_user": make_user("department", department=dept_a, display_name="市场监管刘洋"),
        "lead_user2": make_user("department", department=dept_a, display_name="市场监管吴昊"),
        "co_user": make_user("department", department=dept_b, display_name="人社孙磊"),
        "co_user2": make_user("department", department=dept_b, display_name="人社郑洁"),
        "firm_user": make_user("firm", firm=firm, display_name="企业周婷"),
    }
    ids = {name: user.id for name, user in users.items()}
    ids.update(firm=firm.id, street=street.id, dept_a=dept_a.id, dept_b=dept_b.id)
    return ids


def user(people, name: str) -> User:
    return db.session.get(User, people[name])


def demand_of(demand_id: int) -> Demand:
    return db.session.get(Demand, demand_id)


def lead_task(demand: Demand) -> DemandTask:
    return next(t for t in demand.open_tasks if t.role == "lead")


def co_task(demand: Demand) -> DemandTask:
    return next(t for t in demand.open_tasks if t.role == "co")


def event_count(demand_id: int, kind: str | None = None) -> int:
    stmt = select(func.count()).select_from(DemandEvent).where(DemandEvent.demand_id == demand_id)
    if kind is not None:
        stmt = stmt.where(DemandEvent.kind == kind)
    return db.session.scalar(stmt)


# What each person does, to a demand loaded in their own request.
def _accept(d, p, **kw):
    services.accept_demand(d, actor=user(p, "office"), **kw)


def _reject(d, p, **kw):
    services.reject_demand(d, actor=user(p, "centre"), reason="不属于本区事权", **kw)


def _dispatch_level_1(d, p, **kw):
    street = user(p, "centre").street
    services.dispatch_demand(d, actor=user(p, "centre"), level=1, lead=Unit(street=street), **kw)


def _dispatch_level_3(d, p, **kw):
    dept = db.session.get(Department, p["dept_b"])
    services.dispatch_demand(d, actor=user(p, "office"), level=3, lead=Unit(department=dept), **kw)


def _return_lead(d, p, **kw):
    services.return_task(lead_task(d), actor=user(p, "lead_user"), reason="非本部门职责", **kw)


def _co_progress(d, p, **kw):
    services.add_progress(co_task(d), actor=user(p, "co_user"), message="已联系企业核实情况", **kw)


def _co_accept(d, p, **kw):
    services.accept_task(co_task(d), actor=user(p, "co_user"), **kw)


def _co_accept_too(d, p, **kw):
    services.accept_task(co_task(d), actor=user(p, "co_user2"), **kw)


def _extension(d, p, **kw):
    services.request_extension(
        lead_task(d), actor=user(p, "lead_user"), days=3, reason="需现场勘查", **kw
    )


def _extension_too(d, p, **kw):
    services.request_extension(
        lead_task(d), actor=user(p, "lead_user2"), days=5, reason="需补充材料", **kw
    )


def _pause(d, p, **kw):
    services.pause_demand(d, actor=user(p, "office2"), reason="等待企业补充材料", **kw)


def _rate(d, p, **kw):
    services.rate_demand(d, actor=user(p, "firm_user"), rating="satisfied", **kw)


def _follow_up(d, p, **kw):
    services.record_follow_up(
        d,
        actor=user(p, "commissioner"),
        message="电话回访：企业不满意",
        rating="not_satisfied",
        **kw,
    )


# (the demand's state, the first action, who takes it, the second action)
RACES = {
    "accept_vs_reject": ("submitted", _accept, "office", _reject),
    "reject_vs_accept": ("submitted", _reject, "centre", _accept),
    "two_dispatchers": ("accepted", _dispatch_level_1, "centre", _dispatch_level_3),
    "return_vs_progress": ("in_progress", _return_lead, "lead_user", _co_progress),
    "progress_vs_pause": ("in_progress", _co_progress, "co_user", _pause),
    # Two members of one unit: one acceptance of the task, one extension request.
    "one_task_accepted_twice": ("lead_taken", _co_accept, "co_user", _co_accept_too),
    "two_extension_requests": ("in_progress", _extension, "lead_user", _extension_too),
    "rating_vs_follow_up": ("resolved", _rate, "firm_user", _follow_up),
}
FIRST_EVENT = {
    _accept: "accepted",
    _reject: "rejected",
    _dispatch_level_1: "dispatched",
    _return_lead: "task_returned",
    _co_progress: "progress",
    _rate: "rated",
    _co_accept: "task_accepted",
    _extension: "extension_requested",
}


@pytest.fixture
def demand_in(request_of, people, make_demand):
    """The id of a demand brought to ``state``, each step a request of its own."""

    def _bring(state: str) -> int:
        firm = db.session.get(Firm, people["firm"])
        demand_id = make_demand(firm, actor=user(people, "commissioner")).id
        steps = {
            "submitted": [],
            "accepted": ["accept"],
            "lead_taken": ["accept", "dispatch", "take_lead"],
            "in_progress": ["accept", "dispatch", "take"],
            "resolved": ["accept", "dispatch", "take", "resolve"],
        }[state]
        for step in steps:
            with request_of():
                d = demand_of(demand_id)
                if step == "accept":
                    services.accept_demand(d, actor=user(people, "office"))
                elif step == "dispatch":
                    services.dispatch_demand(
                        d,
                        actor=user(people, "office"),
                        level=3,
                        lead=Unit(department=db.session.get(Department, people["dept_a"])),
                        co_units=[Unit(department=db.session.get(Department, people["dept_b"]))],
                    )
                elif step == "take_lead":
                    services.accept_task(lead_task(d), actor=user(people, "lead_user"))
                elif step == "take":
                    services.accept_task(lead_task(d), actor=user(people, "lead_user"))
                    services.accept_task(co_task(d), actor=user(people, "co_user"))
                elif step == "resolve":
                    services.resolve_task(
                        co_task(d), actor=user(people, "co_user"), resolution="ok"
                    )
                    services.resolve_task(
                        lead_task(d), actor=user(people, "lead_user"), resolution="已办结"
                    )
                db.session.commit()
        return demand_id

    return _bring


def _outcome(request_of, demand_id: int) -> dict:
    """The demand as the database has it: state, version, events by kind, tasks, requests."""
    with request_of():
        d = demand_of(demand_id)
        return {
            "state": d.state,
            "version": d.version,
            "events": dict(
                db.session.execute(
                    select(DemandEvent.kind, func.count())
                    .where(DemandEvent.demand_id == demand_id)
                    .group_by(DemandEvent.kind)
                ).all()
            ),
            "tasks": [(t.id, t.state, t.handler_id) for t in d.tasks],
            "extensions": [(r.id, r.state) for t in d.tasks for r in t.extensions],
        }


@pytest.mark.parametrize("race", sorted(RACES))
def test_a_stale_form_is_refused_naming_who_acted(request_of, people, demand_in, race):
    state, first, first_actor, second = RACES[race]
    demand_id = demand_in(state)

    with request_of():  # both people open the demand's page
        form_version = demand_of(demand_id).version
    kinds_before = _outcome(request_of, demand_id)["events"]
    with request_of():  # the first sends their form
        d = demand_of(demand_id)
        first(d, people, expected_version=form_version)
        services.flush_or_stale(d)
        db.session.commit()
    after_first = _outcome(request_of, demand_id)

    with request_of():  # the second sends theirs, with the version their page showed
        d = demand_of(demand_id)
        with pytest.raises(StaleDemand) as info:
            second(d, people, expected_version=form_version)
        assert not (db.session.new or db.session.dirty)  # refused before any change
        assert info.value.demand.id == demand_id
        db.session.rollback()
    name = db.session.get(User, people[first_actor]).display_name
    assert info.value.by == name
    assert name in info.value.message
    assert "Your entries are kept" in info.value.message
    assert info.value.code == "stale"

    assert _outcome(request_of, demand_id) == after_first
    kinds = after_first["events"]
    added = {k: n - kinds_before.get(k, 0) for k, n in kinds.items() if n != kinds_before.get(k)}
    assert added == {FIRST_EVENT[first]: 1}


def test_submitting_again_with_the_new_version_goes_through(request_of, people, demand_in):
    demand_id = demand_in("in_progress")
    with request_of():
        form_version = demand_of(demand_id).version
    with request_of():
        _co_progress(demand_of(demand_id), people, expected_version=form_version)
        db.session.commit()
    with request_of():
        d = demand_of(demand_id)
        with pytest.raises(StaleDemand) as info:
            _pause(d, people, expected_version=form_version)
        db.session.rollback()
        # The refused page shows the demand as it now is, with its new version.
        fresh_version = info.value.demand.version
    assert fresh_version > form_version
    with request_of():
        _pause(demand_of(demand_id), people, expected_version=fresh_version)
        db.session.commit()
    kinds = _outcome(request_of, demand_id)["events"]
    assert (kinds["progress"], kinds["paused"]) == (1, 1)


@pytest.mark.parametrize("race", sorted(RACES))
def test_without_a_version_the_database_write_is_refused(request_of, people, demand_in, race):
    """Both load the demand before either writes: the version counter catches the second."""
    state, first, first_actor, second = RACES[race]
    demand_id = demand_in(state)

    with request_of():  # the second person's request starts first ...
        slow = demand_of(demand_id)
        for task in slow.tasks:  # loaded now, as by the page that sent the form
            _ = list(task.extensions)
        with request_of():  # ... and the first person's lands meanwhile
            d = demand_of(demand_id)
            first(d, people)
            services.flush_or_stale(d)
            db.session.commit()
        after_first = _outcome(request_of, demand_id)
        stale = _second_write(lambda: second(slow, people), slow)
        assert stale.by == db.session.get(User, people[first_actor]).display_name

    assert _outcome(request_of, demand_id) == after_first


def _second_write(act, demand) -> StaleDemand:
    """Run the second person's action as a view does; the refusal it must get."""
    try:
        act()
        services.flush_or_stale(demand)
    except StaleDemand as exc:
        return exc
    except StaleDataError:
        # The action's own flush (or an autoflush before a query) met the new version.
        db.session.rollback()
        fresh = db.session.get(Demand, demand.id)
        return StaleDemand(fresh, services.last_actor(fresh))
    pytest.fail("the second write went through")


def test_two_dispatchers_accepting_at_once_make_one_acceptance(request_of, people, demand_in):
    demand_id = demand_in("submitted")
    with request_of():
        slow = demand_of(demand_id)
        with request_of():
            d = demand_of(demand_id)
            services.accept_demand(d, actor=user(people, "centre"))
            services.flush_or_stale(d)
            db.session.commit()
        stale = _second_write(
            lambda: services.accept_demand(slow, actor=user(people, "office2")), slow
        )
        assert stale.by == "街道中心赵敏"
    with request_of():
        d = demand_of(demand_id)
        assert (d.state, d.owner_id) == ("accepted", people["commissioner"])
        assert event_count(demand_id, "accepted") == 1


# -- a double-clicked submit ---------------------------------------------------------------


def _submit(people, key: str):
    return services.submit_demand(
        firm=db.session.get(Firm, people["firm"]),
        category=db.session.scalar(select(DemandCategory).where(DemandCategory.code == "OTHER")),
        title="场地",
        description="需要扩租办公场地",
        urgency="normal",
        channel="portal",
        actor=user(people, "firm_user"),
        submission_key=key,
    )


def test_a_double_clicked_submit_creates_one_demand(request_of, people):
    with request_of():
        first, created = _submit(people, "k-1")
        db.session.commit()
        first_id = first.id
    with request_of():
        again, created_again = _submit(people, "k-1")
        db.session.commit()
        again_id = again.id
    assert created and not created_again
    assert again_id == first_id
    with request_of():
        assert db.session.scalar(select(func.count()).select_from(Demand)) == 1
        assert event_count(first_id) == 1


def test_the_database_refuses_a_second_demand_with_the_same_key(request_of, people):
    """When both clicks pass the lookup at once, the unique key stops the second row (the
    page then shows the first: see ``crm.demands.views``)."""
    with request_of():
        first, _ = _submit(people, "k-2")
        db.session.commit()
        template = {
            c: getattr(first, c)
            for c in ("firm_id", "street_id", "category_id", "title", "description", "channel")
        }
        template.update(
            submitted_by_id=first.submitted_by_id,
            accept_due_on=first.accept_due_on,
            urgency="normal",
        )
    with request_of():
        db.session.add(Demand(number="SQ-race", submission_key="k-2", **template))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    with request_of():
        assert db.session.scalar(select(func.count()).select_from(Demand)) == 1


def test_two_sends_passing_the_lookup_at_once_make_one_demand(app, request_of, people, monkeypatch):
    """The other send commits its demand after this one looked for the key and before it
    writes: the unique key stops the second row and the service answers with the first."""
    from crm.demands import services

    checked = services._may_take_in

    def the_other_send_lands_now(firm, actor):
        monkeypatch.setattr(services, "_may_take_in", checked)
        with app.app_context():
            _submit(people, "k-3")
            db.session.commit()
        return checked(firm, actor)

    monkeypatch.setattr(services, "_may_take_in", the_other_send_lands_now)
    with request_of():
        demand, created = _submit(people, "k-3")
        db.session.commit()
        assert not created
        assert db.session.scalar(select(func.count()).select_from(Demand)) == 1
        assert event_count(demand.id) == 1
