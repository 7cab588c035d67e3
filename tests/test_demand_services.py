"""The demand loop through its real services (DESIGN §8, issue 3).

Every allowed path checks what moved (state, timestamps, owner, the timeline event with
its from/to states, who was told); every refused path checks the message and that nothing
changed once the session is rolled back, as a view does after a ``DemandError``.
"""

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.demands import services, states
from crm.demands.models import (
    Demand,
    DemandCategory,
    DemandEvent,
    DemandTask,
    ExtensionRequest,
    Notification,
)
from crm.demands.services import DemandError, Unit
from crm.extensions import db
from crm.workcal.services import SHANGHAI, current_calendar, today


@pytest.fixture(autouse=True)
def english(app):
    """Outside a request the services speak the default language; read them in English."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def w(make_street, make_department, make_firm, make_user):
    """A small district: one firm's street and another street, three departments."""
    street, far_street = make_street(), make_street()
    dept_a, dept_b, dept_c = make_department(), make_department(), make_department()
    firm, neighbour = make_firm(street=street), make_firm(street=street)
    return SimpleNamespace(
        street=street,
        far_street=far_street,
        dept_a=dept_a,
        dept_b=dept_b,
        dept_c=dept_c,
        firm=firm,
        neighbour=neighbour,
        office=make_user("office", display_name="王主任"),
        office2=make_user("office"),
        centre=make_user("street", street=street),
        far_centre=make_user("street", street=far_street),
        commissioner=make_user("commissioner", street=street),
        far_commissioner=make_user("commissioner", street=far_street),
        lead_user=make_user("department", department=dept_a),
        co_user=make_user("department", department=dept_b),
        idle_user=make_user("department", department=dept_c),
        firm_user=make_user("firm", firm=firm),
        neighbour_user=make_user("firm", firm=neighbour),
        leader=make_user("leader"),
        admin=make_user("admin"),
    )


# -- reading the database ------------------------------------------------------------------


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def events(demand) -> list[DemandEvent]:
    return list(
        db.session.scalars(
            select(DemandEvent).where(DemandEvent.demand_id == demand.id).order_by(DemandEvent.id)
        )
    )


def last_event(demand) -> DemandEvent:
    return events(demand)[-1]


def move(event: DemandEvent) -> tuple[str, str | None, str | None]:
    """What the event was, and the states the demand moved from and to (None: it stayed)."""
    return event.kind, event.from_state, event.to_state


def notified(demand, kind: str) -> set[int]:
    return set(
        db.session.scalars(
            select(Notification.user_id).where(
                Notification.demand_id == demand.id, Notification.kind == kind
            )
        )
    )


def ids(*users) -> set[int]:
    return {u.id for u in users}


def snapshot(demand_id: int) -> dict:
    """Everything a refused action must leave as it was."""
    row = db.session.execute(
        select(
            Demand.state,
            Demand.version,
            Demand.owner_id,
            Demand.level,
            Demand.due_on,
            Demand.paused_at,
            Demand.rating,
            Demand.merged_into_id,
        ).where(Demand.id == demand_id)
    ).one()
    tasks = db.session.execute(
        select(DemandTask.id, DemandTask.state, DemandTask.due_on)
        .where(DemandTask.demand_id == demand_id)
        .order_by(DemandTask.id)
    ).all()
    extensions = db.session.execute(
        select(ExtensionRequest.id, ExtensionRequest.state).order_by(ExtensionRequest.id)
    ).all()
    return {
        "demand": tuple(row),
        "tasks": [tuple(t) for t in tasks],
        "extensions": [tuple(e) for e in extensions],
        "demands": count(Demand),
        "events": count(DemandEvent),
        "notifications": count(Notification),
        "audit": count(AuditLog),
    }


def refused(demand, call, match: str, *, code: str | None = None) -> DemandError:
    """``call()`` raises ``DemandError`` saying ``match``, and changes nothing."""
    db.session.commit()
    before = snapshot(demand.id)
    with pytest.raises(DemandError) as info:
        call()
    assert match in info.value.message
    if code is not None:
        assert info.value.code == code
    # Refused before touching anything: a view need not even roll back.
    assert not (db.session.new or db.session.dirty or db.session.deleted)
    db.session.rollback()
    assert snapshot(demand.id) == before
    return info.value


# -- days ----------------------------------------------------------------------------------


def working_days_later(start: date, n: int):
    return current_calendar().add_working_days(start, n)


def working_days_ago(k: int) -> date:
    """The latest day with exactly ``k`` working days after it, up to and including today."""
    cal, day = current_calendar(), today()
    while cal.working_days_between(day, today()) < k:
        day -= timedelta(days=1)
    return day


def at_noon(day: date) -> datetime:
    """Noon in Shanghai on ``day``, as stored (naive UTC)."""
    return datetime.combine(day, time(12), SHANGHAI).astimezone(UTC).replace(tzinfo=None)


# -- getting a demand to a state -----------------------------------------------------------


def lead_of(demand) -> DemandTask:
    return next(t for t in demand.tasks if t.role == "lead" and t.state in ("pending", "accepted"))


def co_of(demand) -> DemandTask:
    return next(t for t in demand.tasks if t.role == "co" and t.state in ("pending", "accepted"))


def dispatch3(demand, w, *, co=("dept_b",), actor=None):
    services.dispatch_demand(
        demand,
        actor=actor or w.office,
        level=3,
        lead=Unit(department=w.dept_a),
        co_units=[Unit(department=getattr(w, name)) for name in co],
    )
    db.session.commit()


@pytest.fixture
def new(w, make_demand):
    return make_demand(w.firm, actor=w.office)


@pytest.fixture
def accepted(new, w):
    services.accept_demand(new, actor=w.office)
    db.session.commit()
    return new


@pytest.fixture
def dispatched(accepted, w):
    """Level 3: the lead task with department A, a co-handling task with department B."""
    dispatch3(accepted, w)
    return accepted


@pytest.fixture
def working(dispatched, w):
    """Both units accepted their tasks."""
    services.accept_task(lead_of(dispatched), actor=w.lead_user)
    services.accept_task(co_of(dispatched), actor=w.co_user)
    db.session.commit()
    return dispatched


@pytest.fixture
def resolved(working, w):
    services.resolve_task(co_of(working), actor=w.co_user, resolution="已配合出具意见")
    services.resolve_task(lead_of(working), actor=w.lead_user, resolution="已办结：补贴已发放")
    db.session.commit()
    return working


# -- intake --------------------------------------------------------------------------------


def test_staff_intake_owns_the_demand(w, category):
    demand, created = services.submit_demand(
        firm=w.firm,
        category=category("POLICY"),
        title=" 租金补贴 ",
        description="申请条件？",
        urgency="urgent",
        channel="visit",
        actor=w.commissioner,
    )
    db.session.commit()
    assert created
    assert demand.state == "submitted"
    assert demand.owner_id == w.commissioner.id  # 首问负责
    assert demand.submitted_by_id == w.commissioner.id
    assert demand.street_id == w.street.id
    assert demand.title == "租金补贴"
    assert demand.number == f"SQ{today():%Y%m%d}{demand.id:06d}"
    assert demand.accept_due_on == working_days_later(today(), 1).day
    event = last_event(demand)
    assert move(event) == ("submitted", None, "submitted")  # came into being
    assert event.actor_id == w.commissioner.id
    assert event.data == {"channel": "visit"}
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "demand.create")).one()
    assert (audit.object_type, audit.object_id, audit.user_id) == (
        "demands",
        demand.id,
        w.commissioner.id,
    )
    assert audit.detail == {"firm_id": w.firm.id, "channel": "visit"}
    # The office and the firm's street centre hear of it; no one else.
    assert notified(demand, "submitted") == ids(w.office, w.office2, w.centre)


def test_a_firms_own_submission_is_owned_by_the_first_staff_member_to_accept(w, category):
    demand, _ = services.submit_demand(
        firm=w.firm,
        category=category(),
        title="招聘",
        description="需要招聘会展位",
        urgency="normal",
        channel="portal",
        actor=w.firm_user,
    )
    db.session.commit()
    assert demand.owner_id is None
    assert notified(demand, "submitted") == ids(w.office, w.office2, w.centre)
    services.accept_demand(demand, actor=w.centre)
    db.session.commit()
    assert demand.owner_id == w.centre.id


def test_an_accepting_colleague_does_not_take_over_a_staff_intake(new, w):
    services.accept_demand(new, actor=w.office2)
    db.session.commit()
    assert new.owner_id == w.office.id


def test_accept_deadline_follows_the_category(w, category):
    cat = category("POLICY")
    cat.accept_days = 2
    db.session.commit()
    demand, _ = services.submit_demand(
        firm=w.firm,
        category=cat,
        title="t",
        description="d",
        urgency="normal",
        channel="hotline",
        actor=w.office,
    )
    assert demand.accept_due_on == working_days_later(today(), 2).day


def test_seeded_time_limits():
    limits = {
        c.code: (c.kind, c.accept_days, c.resolve_days, c.level3_days)
        for c in db.session.scalars(select(DemandCategory))
    }
    assert limits["POLICY"] == ("consultation", 1, 3, 15)
    assert limits["OTHER"] == ("general", 1, 5, 15)
    assert limits["FIN"] == ("complex", 1, 10, 15)


def test_a_repeated_submission_key_returns_the_same_demand(w, category):
    def submit(actor):
        return services.submit_demand(
            firm=w.firm,
            category=category(),
            title="双击",
            description="同一表单提交两次",
            urgency="normal",
            channel="portal",
            actor=actor,
            submission_key="form-7f3a",
        )

    first, created = submit(w.firm_user)
    db.session.commit()
    assert created
    events_before, notes_before = count(DemandEvent), count(Notification)
    again, created_again = submit(w.firm_user)
    db.session.commit()
    assert (again.id, created_again) == (first.id, False)
    assert count(Demand) == 1
    assert (count(DemandEvent), count(Notification)) == (events_before, notes_before)
    # The key is the submitter's own: someone else's form with the same key is new.
    other, created_other = submit(w.office)
    db.session.commit()
    assert created_other and other.id != first.id


@pytest.mark.parametrize(
    ("change", "match", "field"),
    [
        ({"title": "  "}, "A title is required", "title"),
        ({"description": ""}, "A description is required", "description"),
        ({"moved_out": True}, "moved out of the district", "firm"),
        ({"inactive": True}, "no longer in use", "category"),
    ],
)
def test_submission_refused(w, category, change, match, field):
    cat = category()
    if change.get("moved_out"):
        w.firm.status = "moved_out"
    if change.get("inactive"):
        cat.active = False
    db.session.commit()
    before = (count(Demand), count(DemandEvent), count(Notification), count(AuditLog))
    with pytest.raises(DemandError) as info:
        services.submit_demand(
            firm=w.firm,
            category=cat,
            title=change.get("title", "标题"),
            description=change.get("description", "内容"),
            urgency="normal",
            channel="hotline",
            actor=w.office,
        )
    assert match in info.value.message
    assert info.value.field == field
    db.session.rollback()
    assert (count(Demand), count(DemandEvent), count(Notification), count(AuditLog)) == before


@pytest.mark.parametrize(
    "who", ["neighbour_user", "far_commissioner", "far_centre", "lead_user", "leader", "admin"]
)
def test_only_the_firm_itself_and_its_street_or_the_office_take_in_its_demands(w, category, who):
    before = (count(Demand), count(DemandEvent), count(Notification), count(AuditLog))
    with pytest.raises(DemandError) as info:
        services.submit_demand(
            firm=w.firm,
            category=category(),
            title="标题",
            description="内容",
            urgency="normal",
            channel="portal" if who == "neighbour_user" else "hotline",
            actor=getattr(w, who),
        )
    assert info.value.code == "role"
    assert "Only the firm itself, its street or the office" in info.value.message
    db.session.rollback()
    assert (count(Demand), count(DemandEvent), count(Notification), count(AuditLog)) == before


# -- accept, reject, merge, withdraw -------------------------------------------------------


@pytest.mark.parametrize("who", ["office", "centre"])
def test_accept(new, w, who):
    actor = getattr(w, who)
    services.accept_demand(new, actor=actor, note=" 受理 ")
    db.session.commit()
    assert new.state == "accepted"
    assert new.accepted_at is not None
    event = last_event(new)
    assert move(event) == ("accepted", "submitted", "accepted")
    assert (event.actor_id, event.message) == (actor.id, "受理")
    assert notified(new, "firm_update") == ids(w.firm_user)


@pytest.mark.parametrize(
    ("who", "match", "code"),
    [
        ("commissioner", "Your role may not take this action", "role"),
        ("lead_user", "Your role may not take this action", "role"),
        ("firm_user", "Your role may not take this action", "role"),
        ("leader", "Your role may not take this action", "role"),
        ("far_centre", "Only the office or the firm's street", "role"),
    ],
)
def test_accept_refused_to(new, w, who, match, code):
    refused(new, lambda: services.accept_demand(new, actor=getattr(w, who)), match, code=code)


def test_accept_twice_refused(accepted, w):
    refused(
        accepted,
        lambda: services.accept_demand(accepted, actor=w.office2),
        "not possible in the demand's current state",
        code="state",
    )


def test_reject(new, w):
    services.reject_demand(new, actor=w.centre, reason=" 不属于本区事权 ")
    db.session.commit()
    assert (new.state, new.reject_reason) == ("rejected", "不属于本区事权")
    event = last_event(new)
    assert move(event) == ("rejected", "submitted", "rejected")
    assert event.message == "不属于本区事权"
    assert notified(new, "firm_update") == ids(w.firm_user)


def test_reject_refused(new, w):
    refused(new, lambda: services.reject_demand(new, actor=w.office, reason=" "), "A reason")
    refused(
        new,
        lambda: services.reject_demand(new, actor=w.far_centre, reason="x"),
        "Only the office or the firm's street",
    )
    refused(
        new,
        lambda: services.reject_demand(new, actor=w.commissioner, reason="x"),
        "Your role may not",
    )


def test_merge_into_an_earlier_demand_of_the_same_firm(w, make_demand):
    earlier = make_demand(w.firm, actor=w.office)
    repeat = make_demand(w.firm, actor=w.office)
    services.merge_demand(repeat, earlier, actor=w.office)
    db.session.commit()
    assert repeat.state == "rejected"
    assert repeat.merged_into_id == earlier.id
    assert repeat.reject_reason == f"Duplicate of {earlier.number}"
    event = last_event(repeat)
    assert move(event) == ("merged", "submitted", "rejected")
    assert event.data == {"into": earlier.id, "into_number": earlier.number}
    other_side = last_event(earlier)
    assert (other_side.kind, other_side.message) == ("duplicate_merged", repeat.number)
    assert other_side.to_state is None
    assert earlier.state == "submitted"
    assert notified(repeat, "firm_update") == ids(w.firm_user)


def test_merge_refused(w, make_demand):
    mine = make_demand(w.firm, actor=w.office)
    theirs = make_demand(w.neighbour, actor=w.office)
    withdrawn = make_demand(w.firm, actor=w.firm_user, channel="portal")
    services.withdraw_demand(withdrawn, actor=w.firm_user)
    db.session.commit()
    refused(
        mine,
        lambda: services.merge_demand(mine, theirs, actor=w.office),
        "only be merged into one of the same firm",
    )
    refused(mine, lambda: services.merge_demand(mine, mine, actor=w.office), "Choose the demand")
    refused(mine, lambda: services.merge_demand(mine, None, actor=w.office), "Choose the demand")
    refused(
        mine,
        lambda: services.merge_demand(mine, withdrawn, actor=w.office),
        "itself withdrawn or not accepted",
    )
    refused(
        mine,
        lambda: services.merge_demand(mine, withdrawn, actor=w.far_centre),
        "Only the office or the firm's street",
    )


def test_the_firm_withdraws_before_acceptance(w, make_demand):
    demand = make_demand(w.firm, actor=w.firm_user, channel="portal")
    services.withdraw_demand(demand, actor=w.firm_user, reason=" 已自行解决 ")
    db.session.commit()
    assert demand.state == "withdrawn"
    assert demand.withdrawn_at is not None
    event = last_event(demand)
    assert move(event) == ("withdrawn", "submitted", "withdrawn")
    assert (event.actor_id, event.message) == (w.firm_user.id, "已自行解决")


def test_withdraw_refused(new, w):
    refused(
        new,
        lambda: services.withdraw_demand(new, actor=w.neighbour_user),
        "Only the firm that raised a demand may withdraw it",
    )
    refused(new, lambda: services.withdraw_demand(new, actor=w.office), "Your role", code="role")
    services.accept_demand(new, actor=w.office)
    db.session.commit()
    refused(
        new,
        lambda: services.withdraw_demand(new, actor=w.firm_user),
        "current state",
        code="state",
    )


# -- dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "code"), [(1, "POLICY"), (2, "FIN")])
def test_dispatch_levels_1_and_2_to_the_firms_street(w, make_demand, level, code):
    demand = make_demand(w.firm, actor=w.commissioner, code=code)
    services.accept_demand(demand, actor=w.centre)
    db.session.commit()
    [task] = services.dispatch_demand(
        demand, actor=w.centre, level=level, lead=Unit(street=w.street), note=" 网格处理 "
    )
    db.session.commit()
    due = working_days_later(today(), demand.category.resolve_days)
    assert demand.category.resolve_days == (3 if code == "POLICY" else 10)
    assert (demand.state, demand.level, demand.due_on) == ("dispatched", level, due.day)
    assert demand.due_verified == due.verified
    assert demand.dispatched_at is not None
    assert (task.role, task.street_id, task.department_id, task.state) == (
        "lead",
        w.street.id,
        None,
        "pending",
    )
    assert (task.due_on, task.dispatched_by_id) == (due.day, w.centre.id)
    event = last_event(demand)
    assert move(event) == ("dispatched", "accepted", "dispatched")
    assert event.message == "网格处理"
    assert event.data["level"] == level and event.data["co"] == []
    assert event.data["due_on"] == due.day.isoformat()
    # The street's centre users hear of it (commissioners pick it up from their queue).
    assert notified(demand, "dispatched") == ids(w.centre)


def test_dispatch_level_3_with_co_handlers(accepted, w):
    tasks = services.dispatch_demand(
        accepted,
        actor=w.office,
        level=3,
        lead=Unit(department=w.dept_a),
        co_units=[Unit(department=w.dept_b), Unit(street=w.far_street)],
    )
    db.session.commit()
    due = working_days_later(today(), accepted.category.level3_days)
    assert accepted.category.level3_days == 15
    assert [(t.role, t.department_id, t.street_id) for t in tasks] == [
        ("lead", w.dept_a.id, None),
        ("co", w.dept_b.id, None),
        ("co", None, w.far_street.id),
    ]
    assert {t.due_on for t in tasks} == {due.day}
    assert (accepted.state, accepted.level, accepted.due_on) == ("dispatched", 3, due.day)
    assert last_event(accepted).data["lead"] == w.dept_a.name
    assert last_event(accepted).data["co"] == [w.dept_b.name, w.far_street.name]
    assert notified(accepted, "dispatched") == ids(w.lead_user, w.co_user, w.far_centre)


@pytest.mark.parametrize(
    ("level", "lead", "co", "match"),
    [
        (0, "street", (), "Choose level 1, 2 or 3"),
        (4, "dept_a", (), "Choose level 1, 2 or 3"),
        (1, "dept_a", (), "handled by the firm's own street"),
        (2, "far_street", (), "handled by the firm's own street"),
        (2, "street", ("dept_b",), "Only level 3 demands have co-handling units"),
        (3, "dept_a", ("dept_a",), "cannot also be a co-handling unit"),
        (3, "dept_a", ("dept_b", "dept_b"), "listed twice"),
    ],
)
def test_dispatch_refused(accepted, w, level, lead, co, match):
    def unit(name):
        thing = getattr(w, name)
        return Unit(department=thing) if name.startswith("dept") else Unit(street=thing)

    refused(
        accepted,
        lambda: services.dispatch_demand(
            accepted, actor=w.office, level=level, lead=unit(lead), co_units=[unit(c) for c in co]
        ),
        match,
    )


def test_dispatch_refused_to_others(accepted, w, make_demand):
    new = make_demand(w.firm, actor=w.office)

    def dispatch(demand, actor):
        return lambda: services.dispatch_demand(
            demand, actor=actor, level=1, lead=Unit(street=w.street)
        )

    refused(accepted, dispatch(accepted, w.far_centre), "Only the office or the firm's street")
    refused(accepted, dispatch(accepted, w.commissioner), "Your role", code="role")
    refused(accepted, dispatch(accepted, w.lead_user), "Your role", code="role")
    refused(new, dispatch(new, w.office), "current state", code="state")


def test_a_redispatch_cancels_the_open_tasks(working, w):
    old_lead, old_co = lead_of(working), co_of(working)
    services.return_task(old_lead, actor=w.lead_user, reason="不属于本部门职责")
    db.session.commit()
    assert working.state == "returned"
    assert old_co.state == "accepted"
    [new_lead] = services.dispatch_demand(
        working, actor=w.office, level=3, lead=Unit(department=w.dept_c)
    )
    db.session.commit()
    assert (old_lead.state, old_co.state, new_lead.state) == ("returned", "cancelled", "pending")
    assert working.open_tasks == [new_lead]
    event = last_event(working)
    assert (event.from_state, event.to_state) == ("returned", "dispatched")


# -- tasks ---------------------------------------------------------------------------------


def test_accept_task(dispatched, w):
    lead, co = lead_of(dispatched), co_of(dispatched)
    services.accept_task(co, actor=w.co_user)
    db.session.commit()
    assert (co.state, co.accepted_by_id, co.handler_id) == ("accepted", w.co_user.id, w.co_user.id)
    assert co.accepted_at is not None
    event = last_event(dispatched)
    assert (event.kind, event.task_id) == ("task_accepted", co.id)
    assert (event.from_state, event.to_state) == ("dispatched", "in_progress")
    assert dispatched.state == "in_progress"
    services.accept_task(lead, actor=w.lead_user)
    db.session.commit()
    event = last_event(dispatched)
    assert move(event) == ("task_accepted", None, None)
    assert event.data == {"unit": w.dept_a.name, "role": "lead"}
    assert dispatched.state == "in_progress"


def test_accept_task_refused(dispatched, w):
    lead = lead_of(dispatched)
    for who in ("co_user", "idle_user", "centre", "commissioner"):
        refused(
            dispatched,
            lambda who=who: services.accept_task(lead, actor=getattr(w, who)),
            "dispatched to another unit",
            code="role",
        )
    refused(dispatched, lambda: services.accept_task(lead, actor=w.office), "Your role")
    services.accept_task(lead, actor=w.lead_user)
    db.session.commit()
    refused(
        dispatched,
        lambda: services.accept_task(lead, actor=w.lead_user),
        "no longer open",
        code="state",
    )


@pytest.mark.parametrize(("level", "commissioner_may"), [(1, True), (2, False)])
def test_commissioners_handle_level_1_tasks_of_their_street_only(
    accepted, w, make_user, level, commissioner_may
):
    [task] = services.dispatch_demand(
        accepted, actor=w.office, level=level, lead=Unit(street=w.street)
    )
    db.session.commit()
    refused(
        accepted,
        lambda: services.accept_task(task, actor=w.far_commissioner),
        "dispatched to another unit",
    )
    refused(
        accepted,
        lambda: services.accept_task(task, actor=w.far_centre),
        "dispatched to another unit",
    )
    if commissioner_may:
        services.accept_task(task, actor=w.commissioner)
        db.session.commit()
        assert (task.state, accepted.state) == ("accepted", "in_progress")
    else:
        refused(
            accepted,
            lambda: services.accept_task(task, actor=w.commissioner),
            "dispatched to another unit",
        )
        services.accept_task(task, actor=w.centre)
        db.session.commit()
        assert task.state == "accepted"


def test_returning_the_lead_task_sends_the_demand_back(working, w):
    lead = lead_of(working)
    services.return_task(lead, actor=w.lead_user, reason=" 应由规划部门办理 ")
    db.session.commit()
    assert (lead.state, lead.return_reason) == ("returned", "应由规划部门办理")
    assert lead.returned_at is not None
    assert working.state == "returned"
    event = last_event(working)
    assert move(event) == (
        "task_returned",
        "in_progress",
        "returned",
    )
    assert event.task_id == lead.id
    assert notified(working, "task_returned") == ids(w.office, w.office2, w.centre)


def test_returning_a_co_task_leaves_the_demand(dispatched, w):
    co = co_of(dispatched)
    services.return_task(co, actor=w.co_user, reason="非本部门职责")
    db.session.commit()
    assert co.state == "returned"
    assert dispatched.state == "dispatched"
    event = last_event(dispatched)
    assert move(event) == ("task_returned", None, None)
    assert event.data == {"unit": w.dept_b.name, "role": "co"}


def test_return_task_refused(working, w):
    lead = lead_of(working)
    refused(working, lambda: services.return_task(lead, actor=w.lead_user, reason=""), "A reason")
    refused(
        working,
        lambda: services.return_task(lead, actor=w.co_user, reason="x"),
        "dispatched to another unit",
    )
    refused(working, lambda: services.return_task(lead, actor=w.office, reason="x"), "Your role")


def test_progress(dispatched, w):
    lead = lead_of(dispatched)
    event = services.add_progress(lead, actor=w.lead_user, message=" 已约企业面谈 ", internal=True)
    db.session.commit()
    assert (event.kind, event.message, event.internal, event.task_id) == (
        "progress",
        "已约企业面谈",
        True,
        lead.id,
    )
    assert (event.from_state, event.to_state) == (None, None)
    assert dispatched.state == "dispatched"
    refused(dispatched, lambda: services.add_progress(lead, actor=w.lead_user, message=""), "note")
    refused(
        dispatched,
        lambda: services.add_progress(lead, actor=w.idle_user, message="x"),
        "dispatched to another unit",
    )


def test_the_lead_cannot_resolve_while_a_co_task_is_open(working, w):
    err = refused(
        working,
        lambda: services.resolve_task(lead_of(working), actor=w.lead_user, resolution="办结"),
        "Co-handling units are still working",
        code="state",
    )
    assert w.dept_b.name in err.message


def test_a_pending_co_task_also_blocks_resolution(dispatched, w):
    services.accept_task(lead_of(dispatched), actor=w.lead_user)
    db.session.commit()
    err = refused(
        dispatched,
        lambda: services.resolve_task(lead_of(dispatched), actor=w.lead_user, resolution="办结"),
        "Co-handling units are still working",
    )
    assert w.dept_b.name in err.message


def test_resolve_co_then_lead(working, w):
    co, lead = co_of(working), lead_of(working)
    assert services.resolve_task(co, actor=w.co_user, resolution=" 已出具意见 ") is False
    db.session.commit()
    assert (co.state, co.resolution) == ("resolved", "已出具意见")
    assert working.state == "in_progress"
    event = last_event(working)
    assert move(event) == ("task_resolved", None, None)
    assert services.resolve_task(lead, actor=w.lead_user, resolution="补贴已发放") is True
    db.session.commit()
    assert working.state == "resolved"
    assert (working.reply, working.resolved_at) == ("补贴已发放", lead.resolved_at)
    assert lead.state == "resolved"
    event = last_event(working)
    assert move(event) == ("resolved", "in_progress", "resolved")
    assert (event.task_id, event.actor_id) == (lead.id, w.lead_user.id)
    assert notified(working, "firm_update") == ids(w.firm_user)


def test_a_returned_co_task_does_not_block_resolution(working, w):
    services.return_task(co_of(working), actor=w.co_user, reason="非本部门职责")
    assert services.resolve_task(lead_of(working), actor=w.lead_user, resolution="办结") is True
    db.session.commit()
    assert working.state == "resolved"


def test_resolve_task_refused(dispatched, w):
    lead = lead_of(dispatched)
    services.accept_task(co_of(dispatched), actor=w.co_user)
    db.session.commit()
    # The lead has not accepted its task yet.
    refused(
        dispatched,
        lambda: services.resolve_task(lead, actor=w.lead_user, resolution="x"),
        "no longer open",
    )
    services.accept_task(lead, actor=w.lead_user)
    services.resolve_task(co_of(dispatched), actor=w.co_user, resolution="ok")
    db.session.commit()
    refused(
        dispatched,
        lambda: services.resolve_task(lead, actor=w.lead_user, resolution=" "),
        "A reply",
    )
    refused(
        dispatched,
        lambda: services.resolve_task(lead, actor=w.co_user, resolution="x"),
        "dispatched to another unit",
    )


# -- extensions ----------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 30])
def test_request_extension(working, w, days):
    lead = lead_of(working)
    req = services.request_extension(lead, actor=w.lead_user, days=days, reason=" 需现场勘查 ")
    db.session.commit()
    assert (req.state, req.days, req.reason, req.old_due_on) == (
        "pending",
        days,
        "需现场勘查",
        lead.due_on,
    )
    event = last_event(working)
    assert (event.kind, event.task_id, event.data) == (
        "extension_requested",
        lead.id,
        {"days": days, "request": req.id},
    )
    assert (event.from_state, event.to_state) == (None, None)
    assert notified(working, "extension_requested") == ids(w.office, w.office2, w.centre)


def test_an_extension_may_be_asked_for_on_the_deadline_day(working, w):
    lead = lead_of(working)
    lead.due_on = today()
    db.session.commit()
    req = services.request_extension(lead, actor=w.lead_user, days=2, reason="r")
    assert req.old_due_on == today()


@pytest.mark.parametrize(
    ("days", "match"),
    [(0, "Ask for 1 to 30 working days"), (31, "Ask for 1 to 30 working days")],
)
def test_extension_days_refused(working, w, days, match):
    refused(
        working,
        lambda: services.request_extension(
            lead_of(working), actor=w.lead_user, days=days, reason="r"
        ),
        match,
        code="invalid",
    )


def test_extension_refused(working, w):
    lead = lead_of(working)
    refused(
        working,
        lambda: services.request_extension(lead, actor=w.lead_user, days=3, reason=" "),
        "A reason",
    )
    refused(
        working,
        lambda: services.request_extension(lead, actor=w.co_user, days=3, reason="r"),
        "dispatched to another unit",
    )
    services.request_extension(lead, actor=w.lead_user, days=3, reason="r")
    db.session.commit()
    refused(
        working,
        lambda: services.request_extension(lead, actor=w.lead_user, days=2, reason="r"),
        "already waiting",
    )
    # The co-handling unit asks for its own task independently.
    services.request_extension(co_of(working), actor=w.co_user, days=2, reason="r")
    db.session.commit()


def test_no_extension_after_the_deadline(working, w):
    lead = lead_of(working)
    lead.due_on = today() - timedelta(days=1)
    db.session.commit()
    refused(
        working,
        lambda: services.request_extension(lead, actor=w.lead_user, days=3, reason="r"),
        "before the deadline",
    )


def test_no_extension_for_a_task_not_yet_accepted(dispatched, w):
    refused(
        dispatched,
        lambda: services.request_extension(
            lead_of(dispatched), actor=w.lead_user, days=3, reason="r"
        ),
        "no longer open",
    )


@pytest.mark.parametrize("role", ["lead", "co"])
def test_approving_moves_the_deadline(working, w, role):
    task = lead_of(working) if role == "lead" else co_of(working)
    user = w.lead_user if role == "lead" else w.co_user
    demand_due = working.due_on
    req = services.request_extension(task, actor=user, days=4, reason="需补充材料")
    db.session.commit()
    services.decide_extension(req, actor=w.office, approve=True, note=" 同意 ")
    db.session.commit()
    due = working_days_later(req.old_due_on, 4)
    assert (req.state, req.new_due_on, req.decided_by_id) == ("approved", due.day, w.office.id)
    assert req.decision_note == "同意"
    assert task.due_on == due.day
    # The lead's deadline is the demand's; a co-handler's is its own.
    assert working.due_on == (due.day if role == "lead" else demand_due)
    event = last_event(working)
    assert (event.kind, event.task_id, event.to_state) == ("extension_approved", task.id, None)
    assert event.data == {"days": 4, "new_due_on": due.day.isoformat()}
    assert notified(working, "extension_decided") == ids(user)


def test_declining_leaves_the_deadline(working, w):
    lead = lead_of(working)
    due_before = (lead.due_on, working.due_on)
    req = services.request_extension(lead, actor=w.lead_user, days=4, reason="r")
    db.session.commit()
    services.decide_extension(req, actor=w.office, approve=False, note="时限内可办结")
    db.session.commit()
    assert (req.state, req.new_due_on) == ("declined", None)
    assert (lead.due_on, working.due_on) == due_before
    assert last_event(working).kind == "extension_declined"
    assert notified(working, "extension_decided") == ids(w.lead_user)
    # Declined, the unit may ask again.
    services.request_extension(lead, actor=w.lead_user, days=2, reason="r2")


def test_decide_extension_refused(working, w):
    req = services.request_extension(lead_of(working), actor=w.lead_user, days=4, reason="r")
    db.session.commit()
    for who in ("centre", "lead_user", "commissioner"):
        refused(
            working,
            lambda who=who: services.decide_extension(req, actor=getattr(w, who), approve=True),
            "Your role",
            code="role",
        )
    services.decide_extension(req, actor=w.office, approve=True)
    db.session.commit()
    refused(
        working,
        lambda: services.decide_extension(req, actor=w.office2, approve=False),
        "already decided",
    )


def test_an_extension_of_a_task_no_longer_open_cannot_be_approved(working, w):
    lead = lead_of(working)
    req = services.request_extension(lead, actor=w.lead_user, days=4, reason="r")
    services.return_task(lead, actor=w.lead_user, reason="不属于本部门职责")
    db.session.commit()
    services.dispatch_demand(working, actor=w.office, level=3, lead=Unit(department=w.dept_c))
    db.session.commit()
    refused(
        working,
        lambda: services.decide_extension(req, actor=w.office, approve=True),
        "no longer open",
    )
    services.decide_extension(req, actor=w.office, approve=False)
    db.session.commit()
    assert req.state == "declined"


# -- pause and resume ----------------------------------------------------------------------


def test_pause(working, w):
    services.pause_demand(working, actor=w.lead_user, reason=" 等待企业补充材料 ")
    db.session.commit()
    assert working.paused_at is not None
    assert working.pause_reason == "等待企业补充材料"
    assert working.state == "in_progress"
    event = last_event(working)
    assert move(event) == ("paused", None, None)


@pytest.mark.parametrize("k", [1, 3])
def test_resuming_moves_open_deadlines_by_the_working_days_paused(working, w, k):
    services.pause_demand(working, actor=w.office, reason="等待企业")
    working.paused_at = at_noon(working_days_ago(k))
    services.resolve_task(co_of(working), actor=w.co_user, resolution="ok")  # closed: stays
    db.session.commit()
    lead = lead_of(working)
    co = next(t for t in working.tasks if t.role == "co")
    before = (lead.due_on, co.due_on, working.due_on)
    assert services.resume_demand(working, actor=w.lead_user) == k
    db.session.commit()
    assert lead.due_on == working_days_later(before[0], k).day
    assert working.due_on == working_days_later(before[2], k).day
    assert co.due_on == before[1]
    assert working.paused_at is None
    event = last_event(working)
    # The new deadline is on the timeline, for reports rebuilt as of a past moment.
    moved = {"days_added": k, "due_on": working.due_on.isoformat()}
    assert (event.kind, event.data, event.to_state) == ("resumed", moved, None)


def test_resuming_the_same_day_moves_nothing(working, w):
    services.pause_demand(working, actor=w.office, reason="等待企业")
    db.session.commit()
    due = working.due_on
    assert services.resume_demand(working, actor=w.office) == 0
    db.session.commit()
    assert working.due_on == due


def test_a_deadline_resumed_into_an_unknown_year_is_unverified(working, w):
    from crm.workcal.calendar import library_years

    last_known = date(library_years()[-1], 12, 28)
    lead = lead_of(working)
    lead.due_on = working.due_on = last_known
    services.pause_demand(working, actor=w.office, reason="等待企业")
    working.paused_at = at_noon(working_days_ago(5))
    db.session.commit()
    services.resume_demand(working, actor=w.office)
    db.session.commit()
    due = working_days_later(last_known, 5)
    assert not due.verified
    assert (lead.due_on, lead.due_verified) == (due.day, False)
    assert (working.due_on, working.due_verified) == (due.day, False)


def test_pause_and_resume_refused(working, w):
    refused(working, lambda: services.pause_demand(working, actor=w.office, reason=""), "A reason")
    for who in ("co_user", "idle_user", "centre"):
        refused(
            working,
            lambda who=who: services.pause_demand(working, actor=getattr(w, who), reason="r"),
            "Only the office or the lead unit may pause",
            code="role",
        )
    refused(
        working, lambda: services.pause_demand(working, actor=w.firm_user, reason="r"), "Your role"
    )
    refused(working, lambda: services.resume_demand(working, actor=w.office), "not paused")
    services.pause_demand(working, actor=w.office, reason="r")
    db.session.commit()
    refused(
        working,
        lambda: services.pause_demand(working, actor=w.office, reason="r"),
        "already paused",
    )
    refused(
        working,
        lambda: services.resume_demand(working, actor=w.co_user),
        "Only the office or the lead unit may resume",
    )


def test_after_a_redispatch_the_new_lead_unit_pauses(working, w):
    services.return_task(lead_of(working), actor=w.lead_user, reason="不属于本部门职责")
    db.session.commit()
    services.dispatch_demand(working, actor=w.office, level=3, lead=Unit(department=w.dept_c))
    db.session.commit()
    refused(
        working,
        lambda: services.pause_demand(working, actor=w.lead_user, reason="r"),
        "Only the office or the lead unit may pause",
    )
    services.pause_demand(working, actor=w.idle_user, reason="等待企业补充材料")
    db.session.commit()
    assert working.paused_at is not None


# -- the firm's answer ---------------------------------------------------------------------


@pytest.mark.parametrize("rating", ["satisfied", "basically_satisfied"])
def test_a_satisfied_firm_closes_the_demand(resolved, w, rating):
    assert services.rate_demand(resolved, actor=w.firm_user, rating=rating, comment=" 谢谢 ") == (
        "closed"
    )
    db.session.commit()
    assert (resolved.state, resolved.rating) == ("closed", rating)
    assert resolved.closed_at == resolved.rated_at is not None
    assert not resolved.closed_without_rating
    event = last_event(resolved)
    assert move(event) == ("rated", "resolved", "closed")
    assert (event.actor_id, event.message) == (w.firm_user.id, "谢谢")
    assert event.data == {"rating": rating, "via_follow_up": False}


def test_not_satisfied_reopens_and_the_demand_is_dispatched_again(resolved, w):
    assert services.rate_demand(resolved, actor=w.firm_user, rating="not_satisfied") == "reopened"
    db.session.commit()
    assert (resolved.state, resolved.reopen_count, resolved.resolved_at) == ("reopened", 1, None)
    assert resolved.closed_at is None
    event = last_event(resolved)
    assert (event.from_state, event.to_state) == ("resolved", "reopened")
    assert notified(resolved, "reopened") == ids(w.office, w.office2, w.centre)
    [lead] = services.dispatch_demand(
        resolved, actor=w.centre, level=3, lead=Unit(department=w.dept_c)
    )
    db.session.commit()
    assert resolved.state == "dispatched"
    assert last_event(resolved).from_state == "reopened"
    # The new lead unit, not the one that answered before, now handles and pauses it.
    services.accept_task(lead, actor=w.idle_user)
    services.pause_demand(resolved, actor=w.idle_user, reason="等待企业")
    db.session.commit()
    assert resolved.state == "in_progress"


def test_rating_refused(resolved, w):
    refused(
        resolved,
        lambda: services.rate_demand(resolved, actor=w.neighbour_user, rating="satisfied"),
        "Only the firm that raised a demand may rate it",
    )
    refused(
        resolved,
        lambda: services.rate_demand(resolved, actor=w.firm_user, rating="great"),
        "Choose satisfied, basically satisfied or not satisfied",
    )
    refused(
        resolved,
        lambda: services.rate_demand(resolved, actor=w.office, rating="satisfied"),
        "through a follow-up call",
    )
    refused(
        resolved,
        lambda: services.rate_demand(resolved, actor=w.lead_user, rating="satisfied"),
        "Your role",
    )


def test_no_rating_before_resolution(working, w):
    refused(
        working,
        lambda: services.rate_demand(working, actor=w.firm_user, rating="satisfied"),
        "current state",
        code="state",
    )


def test_a_follow_up_call_records_the_rating_given_on_the_phone(resolved, w):
    services.record_follow_up(
        resolved, actor=w.commissioner, message=" 电话回访，企业表示满意 ", rating="satisfied"
    )
    db.session.commit()
    assert (resolved.state, resolved.rating) == ("closed", "satisfied")
    follow_up, rated = events(resolved)[-2:]
    assert (follow_up.kind, follow_up.message, follow_up.data) == (
        "follow_up",
        "电话回访，企业表示满意",
        {"rating": "satisfied"},
    )
    assert (follow_up.from_state, follow_up.to_state) == (None, None)
    assert move(rated) == ("rated", "resolved", "closed")
    assert rated.data == {"rating": "satisfied", "via_follow_up": True}
    assert rated.actor_id == w.commissioner.id


def test_a_follow_up_without_a_rating_and_after_closing(resolved, w):
    services.rate_demand(resolved, actor=w.firm_user, rating="basically_satisfied")
    db.session.commit()
    services.record_follow_up(resolved, actor=w.office, message="回访：已落实")
    db.session.commit()
    assert (resolved.state, resolved.rating) == ("closed", "basically_satisfied")
    assert last_event(resolved).kind == "follow_up"


def test_follow_up_refused(resolved, w):
    refused(
        resolved, lambda: services.record_follow_up(resolved, actor=w.office, message=""), "said"
    )
    for who in ("lead_user", "firm_user", "leader"):
        refused(
            resolved,
            lambda who=who: services.record_follow_up(resolved, actor=getattr(w, who), message="m"),
            "Your role",
            code="role",
        )
    for who in ("far_centre", "far_commissioner"):
        refused(
            resolved,
            lambda who=who: services.record_follow_up(
                resolved, actor=getattr(w, who), message="m", rating="satisfied"
            ),
            "the firm's street",
            code="role",
        )
    refused(
        resolved,
        lambda: services.record_follow_up(resolved, actor=w.office, message="m", rating="great"),
        "Choose satisfied",
    )
    services.rate_demand(resolved, actor=w.firm_user, rating="satisfied")
    db.session.commit()
    # Closed: a call may be recorded, but the rating is already in.
    refused(
        resolved,
        lambda: services.record_follow_up(
            resolved, actor=w.office, message="m", rating="not_satisfied"
        ),
        "current state",
    )


def _resolve_days_ago(demand, k: int) -> None:
    demand.resolved_at = at_noon(working_days_ago(k))
    db.session.commit()


def test_unrated_for_5_working_days_closes(resolved):
    _resolve_days_ago(resolved, 5)
    assert services.close_unrated(resolved) is True
    db.session.commit()
    assert (resolved.state, resolved.closed_without_rating, resolved.rating) == (
        "closed",
        True,
        None,
    )
    assert resolved.closed_at is not None
    event = last_event(resolved)
    assert (event.kind, event.actor_id) == ("closed_unrated", None)
    assert (event.from_state, event.to_state) == ("resolved", "closed")


def test_unrated_for_4_working_days_stays(resolved):
    _resolve_days_ago(resolved, 4)
    before = snapshot(resolved.id)
    assert services.close_unrated(resolved) is False
    db.session.commit()
    assert snapshot(resolved.id) == before


def test_close_unrated_counts_to_the_day_it_is_given(resolved):
    resolved_on = today()
    fifth = working_days_later(resolved_on, 5).day
    fourth = working_days_later(resolved_on, 4).day
    resolved.resolved_at = at_noon(resolved_on)
    db.session.commit()
    assert services.close_unrated(resolved, on=fourth) is False
    assert services.close_unrated(resolved, on=fifth) is True


@pytest.mark.parametrize("state", ["submitted", "in_progress", "reopened", "closed"])
def test_close_unrated_leaves_demands_not_waiting_for_a_rating(reach, state):
    demand = reach(state)
    before = snapshot(demand.id)
    assert services.close_unrated(demand, on=today() + timedelta(days=60)) is False
    db.session.commit()
    assert snapshot(demand.id) == before


# -- notes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["office", "centre", "commissioner", "lead_user"])
def test_staff_who_see_the_demand_add_notes(dispatched, w, who):
    services.add_note(dispatched, actor=getattr(w, who), message=" 企业负责人出差 ")
    db.session.commit()
    event = last_event(dispatched)
    assert (event.kind, event.message, event.internal) == ("note", "企业负责人出差", True)
    assert (event.from_state, event.to_state) == (None, None)
    assert dispatched.state == "dispatched"


def test_note_refused(dispatched, w):
    refused(dispatched, lambda: services.add_note(dispatched, actor=w.office, message=""), "A note")
    for who in ("firm_user", "leader", "admin"):
        refused(
            dispatched,
            lambda who=who: services.add_note(dispatched, actor=getattr(w, who), message="m"),
            "Your role",
        )
    for who in ("idle_user", "far_centre", "far_commissioner"):
        refused(
            dispatched,
            lambda who=who: services.add_note(dispatched, actor=getattr(w, who), message="m"),
            "not one of yours",
            code="role",
        )


# -- every action in every state it is not allowed in --------------------------------------

REACHABLE = (
    "submitted",
    "accepted",
    "dispatched",
    "in_progress",
    "returned",
    "resolved",
    "reopened",
    "closed",
    "withdrawn",
    "rejected",
)
TASK_ACTIONS = (
    "accept_task",
    "return_task",
    "resolve_task",
    "progress",
    "request_extension",
    "decide_extension",
)


@pytest.fixture
def reach(w, make_demand):
    """A demand of ``w.firm`` brought to ``state`` through the services."""

    def _reach(state: str) -> Demand:
        if state == "withdrawn":
            demand = make_demand(w.firm, actor=w.firm_user, channel="portal")
            services.withdraw_demand(demand, actor=w.firm_user)
            db.session.commit()
            return demand
        demand = make_demand(w.firm, actor=w.office)
        steps = {
            "rejected": ["reject"],
            "submitted": [],
            "accepted": ["accept"],
            "dispatched": ["accept", "dispatch"],
            "in_progress": ["accept", "dispatch", "take"],
            "returned": ["accept", "dispatch", "take", "return"],
            "resolved": ["accept", "dispatch", "take", "resolve"],
            "reopened": ["accept", "dispatch", "take", "resolve", "unhappy"],
            "closed": ["accept", "dispatch", "take", "resolve", "happy"],
        }[state]
        for step in steps:
            if step == "reject":
                services.reject_demand(demand, actor=w.office, reason="不属于本区")
            elif step == "accept":
                services.accept_demand(demand, actor=w.office)
            elif step == "dispatch":
                dispatch3(demand, w)
            elif step == "take":
                services.accept_task(lead_of(demand), actor=w.lead_user)
                services.accept_task(co_of(demand), actor=w.co_user)
            elif step == "return":
                services.return_task(lead_of(demand), actor=w.lead_user, reason="r")
            elif step == "resolve":
                services.resolve_task(co_of(demand), actor=w.co_user, resolution="ok")
                services.resolve_task(lead_of(demand), actor=w.lead_user, resolution="ok")
            elif step in ("happy", "unhappy"):
                rating = "satisfied" if step == "happy" else "not_satisfied"
                services.rate_demand(demand, actor=w.firm_user, rating=rating)
            db.session.commit()
        assert demand.state == state
        return demand

    return _reach


def _attempt(action: str, demand: Demand, w, make_demand, actor=None):
    """A call of ``action``, by ``actor`` or else by someone whose role and unit may take it
    (for a task action: on the demand's first task)."""
    task = demand.tasks[0] if demand.tasks else None
    unit_user = w.lead_user if task is not None and task.department_id == w.dept_a.id else None
    if action == "merge":
        other = make_demand(w.firm, actor=w.office)
    if action == "decide_extension":
        req = ExtensionRequest(
            task=task, requested_by_id=w.lead_user.id, days=2, reason="r", old_due_on=task.due_on
        )
        db.session.add(req)
        db.session.commit()
    calls = {
        "accept": lambda a: services.accept_demand(demand, actor=a or w.office),
        "reject": lambda a: services.reject_demand(demand, actor=a or w.office, reason="r"),
        "merge": lambda a: services.merge_demand(demand, other, actor=a or w.office),
        "withdraw": lambda a: services.withdraw_demand(demand, actor=a or w.firm_user),
        "dispatch": lambda a: services.dispatch_demand(
            demand, actor=a or w.office, level=3, lead=Unit(department=w.dept_c)
        ),
        "accept_task": lambda a: services.accept_task(task, actor=a or unit_user),
        "return_task": lambda a: services.return_task(task, actor=a or unit_user, reason="r"),
        "resolve_task": lambda a: services.resolve_task(task, actor=a or unit_user, resolution="r"),
        "progress": lambda a: services.add_progress(task, actor=a or unit_user, message="m"),
        "request_extension": lambda a: services.request_extension(
            task, actor=a or unit_user, days=2, reason="r"
        ),
        "decide_extension": lambda a: services.decide_extension(
            req, actor=a or w.office, approve=True
        ),
        "pause": lambda a: services.pause_demand(demand, actor=a or w.office, reason="r"),
        "resume": lambda a: services.resume_demand(demand, actor=a or w.office),
        "rate": lambda a: services.rate_demand(demand, actor=a or w.firm_user, rating="satisfied"),
        "follow_up": lambda a: services.record_follow_up(demand, actor=a or w.office, message="m"),
        "note": lambda a: services.add_note(demand, actor=a or w.office, message="m"),
        "message": lambda a: services.post_message(demand, actor=a or w.firm_user, message="m"),
    }
    return lambda: calls[action](actor)


SERVICE_ACTIONS = sorted(set(states.ACTIONS) - {"close_unrated"})
WITHOUT_TASKS = ("submitted", "accepted", "withdrawn", "rejected")  # no task to act on
FORBIDDEN_STATES = [
    (action, state)
    for action in SERVICE_ACTIONS
    for state in REACHABLE
    if state not in states.ACTIONS[action].sources
    and not (action in TASK_ACTIONS and state in WITHOUT_TASKS)
]


@pytest.mark.parametrize(("action", "state"), FORBIDDEN_STATES)
def test_every_action_is_refused_in_a_state_it_is_not_allowed_in(
    reach, w, make_demand, action, state
):
    demand = reach(state)
    call = _attempt(action, demand, w, make_demand)
    refused(demand, call, "not possible in the demand's current state", code="state")


# Where each action is allowed, and which role of ``w`` stands for each role.
ALLOWED_IN = {
    "accept": "submitted",
    "reject": "submitted",
    "merge": "submitted",
    "withdraw": "submitted",
    "dispatch": "accepted",
    "accept_task": "in_progress",
    "return_task": "in_progress",
    "resolve_task": "in_progress",
    "progress": "in_progress",
    "request_extension": "in_progress",
    "decide_extension": "in_progress",
    "pause": "in_progress",
    "resume": "in_progress",
    "rate": "resolved",
    "follow_up": "resolved",
    "note": "in_progress",
    "message": "in_progress",
}
PEOPLE = {
    "admin": "admin",
    "office": "office",
    "street": "centre",
    "commissioner": "commissioner",
    "department": "lead_user",
    "leader": "leader",
    "firm": "firm_user",
}
FORBIDDEN_ROLES = [
    (action, role)
    for action in SERVICE_ACTIONS
    for role in PEOPLE
    if role not in states.ACTIONS[action].roles
]


def test_allowed_in_is_allowed():
    for action, state in ALLOWED_IN.items():
        assert state in states.ACTIONS[action].sources, action
    assert set(ALLOWED_IN) == set(SERVICE_ACTIONS)


@pytest.mark.parametrize(("action", "role"), FORBIDDEN_ROLES)
def test_every_action_is_refused_to_a_role_that_may_not_take_it(
    reach, w, make_demand, action, role
):
    demand = reach(ALLOWED_IN[action])
    call = _attempt(action, demand, w, make_demand, actor=getattr(w, PEOPLE[role]))
    refused(demand, call, "Your role may not take this action", code="role")
