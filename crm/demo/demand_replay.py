"""A demo demand's story on the calendar: working-day indices become dates and times,
and replaying the events that happened before now gives the rows the services would have
written — the demand's columns, its tasks, extension requests and timeline."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from crm.demands import states
from crm.demo.demand_story import Ev, Story
from crm.workcal.calendar import WorkCalendar

SHANGHAI_OFFSET = timedelta(hours=8)  # UTC+8 all year


class Clock:
    """Working-day indices on the calendar: 0 is today (or, on a day off, the last working
    day), negative indices are the working days before it."""

    def __init__(self, cal: WorkCalendar, now: datetime):
        local = now + SHANGHAI_OFFSET
        self.cal = cal
        self.today = local.date()
        if cal.is_workday(self.today):
            self.base, self.now_minute = self.today, local.hour * 60 + local.minute
        else:
            self.base, self.now_minute = cal.add_working_days(self.today, -1).day, 24 * 60
        self._days: dict[int, date] = {}

    def day(self, index: int) -> date:
        found = self._days.get(index)
        if found is None:
            found = self._days[index] = self.cal.add_working_days(self.base, index).day
        return found

    def at(self, index: int, minute: int) -> datetime:
        """The naive UTC time of ``minute`` (Asia/Shanghai) on working day ``index``."""
        local = datetime.combine(self.day(index), time()) + timedelta(minutes=minute)
        return local - SHANGHAI_OFFSET

    def index_of(self, moment: datetime) -> int:
        """The index of the last working day on or before ``moment`` (naive UTC)."""
        day = (moment + SHANGHAI_OFFSET).date()
        return -self.cal.working_days_between(day, self.base) if day <= self.base else 1


@dataclass
class Rows:
    """One demand's rows; ``_task`` and ``_ext`` are indices into its own lists."""

    demand: dict[str, Any]
    submitted_on: date
    tasks: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def replay(story: Story, shift: int, kept: list[Ev], clock: Clock) -> Rows:
    """The rows the services would have written had these events happened."""
    first = kept[0]
    submitted_on = clock.day(first.i + shift)
    staff_intake = story.channel not in ("portal", "api")
    d: dict[str, Any] = {
        "number": "",
        "firm_id": story.firm.id,
        "street_id": story.firm.street_id,
        "category_id": story.category.id,
        "title": story.title,
        "description": story.description,
        "urgency": story.urgency,
        "channel": story.channel,
        "state": None,  # set by the first event
        "level": None,
        "owner_id": story.submitter if staff_intake else None,
        "submitted_by_id": story.submitter,
        "submission_key": None,
        "submitted_at": clock.at(first.i + shift, first.m),
        "accept_due_on": clock.day(first.i + shift + story.category.accept_days),
        "accepted_at": None,
        "dispatched_at": None,
        "due_on": None,
        "due_verified": True,
        "paused_at": None,
        "pause_reason": "",
        "resolved_at": None,
        "reply": "",
        "rating": None,
        "rated_at": None,
        "closed_at": None,
        "closed_without_rating": False,
        "reject_reason": "",
        "merged_into_id": None,
        "withdrawn_at": None,
        "reopen_count": 0,
        "updated_at": None,
        "version": 1,
    }
    rows = Rows(d, submitted_on)
    index: dict[int, int] = {}  # id(Task) -> its row
    due: dict[int, int] = {}  # row -> its deadline as a working-day index
    lead = None
    for ev in kept:
        at = clock.at(ev.i + shift, ev.m)
        local = index.get(id(ev.task)) if ev.task is not None else None
        task = rows.tasks[local] if local is not None else None
        event = {
            "_task": local,
            "_ext": None,
            "at": at,
            "actor_id": ev.actor,
            "kind": ev.kind,
            "from_state": d["state"] if ev.to_state else None,
            "to_state": ev.to_state,
            "message": ev.message,
            "internal": ev.internal,
            "data": dict(ev.data),
        }
        if ev.to_state:
            d["state"] = ev.to_state
        kind = ev.kind
        if kind == "accepted":
            d["accepted_at"] = at
            d["owner_id"] = d["owner_id"] or ev.actor
        elif kind == "rejected":
            d["reject_reason"] = ev.message[:200]
        elif kind == "withdrawn":
            d["withdrawn_at"] = at
        elif kind == "dispatched":
            lead = _dispatch(rows, ev, at, shift, clock, index, due)
            lead_row = rows.tasks[lead]
            d.update(
                level=ev.level,
                due_on=lead_row["due_on"],
                due_verified=lead_row["due_verified"],
                dispatched_at=at,
            )
            event["data"] = {
                "level": ev.level,
                "lead": ev.tasks[0].unit.name,
                "co": [t.unit.name for t in ev.tasks[1:]],
                "due_on": lead_row["due_on"].isoformat(),
                "due_verified": lead_row["due_verified"],
            }
        elif kind == "task_accepted":
            task.update(
                state="accepted", accepted_at=at, accepted_by_id=ev.actor, handler_id=ev.actor
            )
        elif kind == "task_returned":
            task.update(state="returned", returned_at=at, return_reason=ev.message[:200])
        elif kind in ("task_resolved", "resolved"):
            task.update(state="resolved", resolved_at=at, resolution=ev.message)
            if kind == "resolved":
                d.update(resolved_at=at, reply=ev.message)
        elif kind == "extension_requested":
            event["_ext"] = len(rows.extensions)
            event["data"] = {"days": ev.days}
            rows.extensions.append(
                {
                    "_task": local,
                    "requested_by_id": ev.actor,
                    "requested_at": at,
                    "days": ev.days,
                    "reason": ev.message[:200],
                    "state": "pending",
                    "decided_by_id": None,
                    "decided_at": None,
                    "decision_note": "",
                    "old_due_on": task["due_on"],
                    "new_due_on": None,
                }
            )
        elif kind in ("extension_approved", "extension_declined"):
            request = rows.extensions[-1]
            approved = kind == "extension_approved"
            request.update(
                state="approved" if approved else "declined",
                decided_by_id=ev.actor,
                decided_at=at,
                decision_note=ev.message[:200],
            )
            if approved:
                due[local] += ev.days
                new_due = clock.day(due[local])
                request["new_due_on"] = task["due_on"] = new_due
                task["due_verified"] = task["due_verified"] and clock.cal.is_known(new_due)
                if local == lead:
                    d.update(due_on=new_due, due_verified=task["due_verified"])
            event["data"] = {
                "days": ev.days,
                "new_due_on": request["new_due_on"].isoformat() if approved else None,
            }
        elif kind == "rated":
            d.update(rating=ev.data["rating"], rated_at=at)
            if ev.to_state == states.CLOSED:
                d["closed_at"] = at
            else:
                d["reopen_count"] += 1
                d["resolved_at"] = None
        elif kind == "closed_unrated":
            d.update(closed_at=at, closed_without_rating=True)
        rows.events.append(event)
    d["updated_at"] = rows.events[-1]["at"]
    return rows


def _dispatch(rows: Rows, ev: Ev, at, shift: int, clock: Clock, index, due) -> int:
    """New tasks for a dispatch, cancelling the open ones; the lead task's row."""
    for task in rows.tasks:
        if task["state"] in ("pending", "accepted"):
            task["state"] = "cancelled"
    dispatched_on = clock.day(ev.i + shift)
    for spec in ev.tasks:
        local = index[id(spec)] = len(rows.tasks)
        due[local] = spec.due_i + shift
        due_on = clock.day(due[local])
        rows.tasks.append(
            {
                "role": spec.role,
                "department_id": spec.unit.department_id,
                "street_id": spec.unit.street_id,
                "state": "pending",
                "dispatched_at": at,
                "dispatched_by_id": spec.dispatched_by,
                "due_on": due_on,
                "due_verified": clock.cal.is_known(dispatched_on) and clock.cal.is_known(due_on),
                "accepted_at": None,
                "accepted_by_id": None,
                "handler_id": None,
                "returned_at": None,
                "return_reason": "",
                "resolved_at": None,
                "resolution": "",
            }
        )
    return index[id(ev.tasks[0])]
