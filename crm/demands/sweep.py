"""The escalation sweep (DESIGN §8): take every step of the ladder that a deadline has
reached, once, and close the demands the firm left unrated.

Run by ``flask --app wsgi crm sweep`` from cron, or as the RQ job in ``crm.demands.jobs``;
safe to run every few minutes, and by two processes at once:

- Each step is remembered by an ``Escalation`` row, unique per (demand, task, step,
  deadline). The row is inserted first with INSERT ... ON CONFLICT DO NOTHING, and the
  timeline event and notifications are written only for the rows this sweep inserted: a
  second sweep, running now or later, inserts nothing for the same step and stays silent.
  A new deadline (an approved extension, a resumed pause) is a new key: its steps are
  taken again.
- The calendar is asked once per sweep, for the dates that separate the steps
  (``escalation.Cutoffs``); the database then picks each step's deadlines with date
  comparisons and leaves out those already taken with NOT EXISTS.
- The work goes in slices of task (or demand) ids, each a transaction of its own when
  the caller passes ``commit``: the service never commits by itself.

Notifications go out by the rules of ``crm.demands.notify``; who belongs to which unit is
read once per sweep (``recipients.Directory``) rather than once per demand.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.exc import StaleDataError

from crm.demands import escalation, mail, states
from crm.demands.escalation import BULLETIN, DUE_SOON, REMINDER, SUPERVISION, Cutoffs
from crm.demands.models import Demand, DemandEvent, DemandTask, Escalation, Notification
from crm.demands.recipients import Directory
from crm.demands.services import UNRATED_CLOSE_DAYS, close_unrated, stored_text
from crm.extensions import db
from crm.timeutil import utcnow
from crm.workcal.services import SHANGHAI, current_calendar, today

# Ids per slice: one transaction, and the most rows one step's query returns.
BATCH = 2000
OPEN_TASK_STATES = ("pending", "accepted")
ACCEPTANCE = 0  # Escalation.task_id of a demand's acceptance deadline

# Notification texts, translated once per sweep into the office's language and filled in
# per demand (``stored_text`` of the bare msgid keeps the placeholders).
_TASK_TEXTS = {
    DUE_SOON: _l("Due soon: demand %(number)s (%(unit)s) must be resolved by %(due)s."),
    REMINDER: _l("Reminder: demand %(number)s (%(unit)s) was due on %(due)s and is overdue."),
    SUPERVISION: _l(
        "Supervision: demand %(number)s (%(unit)s) is %(days)s working days overdue (due %(due)s)."
    ),
    BULLETIN: _l(
        "Demand %(number)s (%(unit)s) is %(days)s working days overdue (due %(due)s) and "
        "will be listed in the next bulletin."
    ),
}
_ACCEPTANCE_TEXTS = {
    REMINDER: _l(
        "Reminder: demand %(number)s has not been accepted; it was due for acceptance on %(due)s."
    ),
    SUPERVISION: _l(
        "Supervision: demand %(number)s is still not accepted, %(days)s working days after "
        "its acceptance deadline (%(due)s)."
    ),
    BULLETIN: _l(
        "Demand %(number)s is still not accepted %(days)s working days after its acceptance "
        "deadline (%(due)s) and will be listed in the next bulletin."
    ),
}


@dataclass
class SweepReport:
    """What one sweep did: steps taken per kind, demands closed, notifications written."""

    on: date
    counts: Counter[str] = field(default_factory=Counter)

    KEYS = (
        *escalation.STEPS,
        *(f"acceptance_{step}" for step in escalation.ACCEPTANCE_STEPS),
        "closed_unrated",
        "notifications",
    )

    @property
    def steps_taken(self) -> int:
        return sum(n for key, n in self.counts.items() if key != "notifications")

    def as_dict(self) -> dict[str, int | str]:
        return {"on": self.on.isoformat(), **{key: self.counts[key] for key in self.KEYS}}


def run_sweep(
    now: datetime | None = None,
    *,
    on: date | None = None,
    commit: Callable[[], None] | None = None,
    batch_size: int = BATCH,
) -> SweepReport:
    """Take the escalation steps due ``on`` (default: today in Asia/Shanghai) and close
    the demands left unrated.

    ``now`` (naive UTC) stamps what is written; ``commit`` ends each slice's transaction
    (without it everything stays in the caller's transaction, flushed).
    """
    if on is None:
        on = today() if now is None else now.replace(tzinfo=UTC).astimezone(SHANGHAI).date()
    now = now or utcnow()
    cal = current_calendar()
    sweep = _Sweep(on, now, cal, commit or db.session.flush, batch_size)
    sweep.tasks()
    sweep.acceptance()
    sweep.bulletin_digest()
    sweep.unrated(retry=commit is not None)
    return sweep.report


class _Sweep:
    def __init__(self, on: date, now: datetime, cal, end_batch, batch_size: int):
        self.on = on
        self.now = now
        self.cal = cal
        self.cutoffs = Cutoffs.on(on, cal)
        self.end_batch = end_batch
        self.batch_size = batch_size
        self.report = SweepReport(on)
        self.people = Directory.load()
        self.task_texts = {step: stored_text(text) for step, text in _TASK_TEXTS.items()}
        self.acceptance_texts = {
            step: stored_text(text) for step, text in _ACCEPTANCE_TEXTS.items()
        }
        self._overdue: dict[date, int] = {}

    def days_overdue(self, due_on: date) -> int:
        if due_on not in self._overdue:
            self._overdue[due_on] = escalation.days_overdue(due_on, self.on, self.cal)
        return self._overdue[due_on]

    # -- deadlines -----------------------------------------------------------------------

    def tasks(self) -> None:
        """The units' deadlines: the open tasks of demands being handled and not paused
        (while paused, the clock stops)."""
        self._climb(
            ids=DemandTask.id,
            scope=(
                Demand.id == DemandTask.demand_id,
                DemandTask.state.in_(OPEN_TASK_STATES),
                Demand.state.in_(states.HANDLING_STATES),
                Demand.paused_at.is_(None),
            ),
            steps=escalation.STEPS,
            key=(DemandTask.demand_id, DemandTask.id, DemandTask.due_on),
            extra=(
                DemandTask.role,
                DemandTask.department_id,
                DemandTask.street_id,
                Demand.number,
                Demand.owner_id,
                Demand.street_id.label("demand_street_id"),
            ),
            take=self._task_step,
        )

    def acceptance(self) -> None:
        """The acceptance deadlines of the demands still waiting to be accepted."""
        self._climb(
            ids=Demand.id,
            scope=(Demand.state == states.SUBMITTED,),
            steps=escalation.ACCEPTANCE_STEPS,
            key=(Demand.id, literal(ACCEPTANCE), Demand.accept_due_on),
            extra=(Demand.number, Demand.street_id),
            take=self._acceptance_step,
        )

    def _climb(self, *, ids, scope, steps, key, extra, take) -> None:
        """For each slice of ``ids`` in ``scope``, and each step: select the deadlines
        ``key`` = (demand id, task id, due date) at that step and not taken yet, insert
        their escalations, and have ``take`` write the events and notifications of the
        ones this sweep inserted. One transaction per slice."""
        demand_id, task_id, due_on = key
        first, last = db.session.execute(select(func.min(ids), func.max(ids)).where(*scope)).one()
        if first is None:
            return
        columns = (
            demand_id.label("demand_id"),
            task_id.label("task_id"),
            due_on.label("due_on"),
            *extra,
        )
        for low in range(first, last + 1, self.batch_size):
            for step in steps:
                since, before = self.cutoffs.window(step)
                taken = (
                    select(Escalation.id)
                    .where(
                        Escalation.demand_id == demand_id,
                        Escalation.task_id == task_id,
                        Escalation.step == step,
                        Escalation.due_on == due_on,
                    )
                    .exists()
                )
                stmt = (
                    select(*columns)
                    .where(ids >= low, ids < low + self.batch_size, *scope)
                    .where(due_on < before, ~taken)
                    .order_by(ids)
                )
                if since is not None:
                    stmt = stmt.where(due_on >= since)
                rows = db.session.execute(stmt).all()
                inserted = self._insert_escalations(
                    step, [(r.demand_id, r.task_id, r.due_on) for r in rows]
                )
                take(step, [r for r in rows if (r.demand_id, r.task_id) in inserted])
            self.end_batch()

    def _task_step(self, step: str, rows: list) -> None:
        if not rows:
            return
        people = self.people
        events, notes = [], []
        text = self.task_texts[step]
        for r in rows:
            unit = people.unit_name(r.department_id, r.street_id)
            overdue = self.days_overdue(r.due_on)
            data = {"due_on": r.due_on.isoformat(), "unit": unit, "role": r.role}
            if step == DUE_SOON:
                data["days_left"] = escalation.days_left(r.due_on, self.on, self.cal)
            else:
                data["days_overdue"] = overdue
            events.append(self._event(r.demand_id, r.task_id, step, data))
            if step in (DUE_SOON, REMINDER):
                owner = [r.owner_id] if r.owner_id in people.active else []
                to = people.unit(r.department_id, r.street_id) + owner
            elif step == SUPERVISION:
                heads = people.unit(r.department_id, r.street_id, heads_only=True)
                to = (heads or people.unit(r.department_id, r.street_id)) + people.dispatchers(
                    r.demand_street_id
                )
            else:  # BULLETIN: the event marks it for the next bulletin; the digest tells
                to = []
            message = text % {
                "number": r.number,
                "unit": unit,
                "due": r.due_on.isoformat(),
                "days": overdue,
            }
            notes.extend(self._notifications(to, r.demand_id, step, message))
        self._write(step, events, notes)

    def _acceptance_step(self, step: str, rows: list) -> None:
        if not rows:
            return
        people = self.people
        events, notes = [], []
        text = self.acceptance_texts[step]
        for r in rows:
            overdue = self.days_overdue(r.due_on)
            data = {
                "deadline": "acceptance",
                "due_on": r.due_on.isoformat(),
                "days_overdue": overdue,
            }
            events.append(self._event(r.demand_id, None, step, data))
            if step == REMINDER:
                to = people.dispatchers(r.street_id)
            elif step == SUPERVISION:
                to = people.dispatchers(r.street_id, heads_only=True) or people.dispatchers(
                    r.street_id
                )
            else:  # BULLETIN: the digest tells the office
                to = []
            message = text % {
                "number": r.number,
                "due": r.due_on.isoformat(),
                "days": overdue,
            }
            notes.extend(self._notifications(to, r.demand_id, step, message))
        self._write(f"acceptance_{step}", events, notes)

    # -- writing -------------------------------------------------------------------------

    def _insert_escalations(
        self, step: str, keys: list[tuple[int, int, date]]
    ) -> set[tuple[int, int]]:
        """Insert the step's rows; the (demand_id, task_id) of those this sweep inserted.

        Rows that exist already (an earlier sweep, or one running now that committed
        first) are skipped by the database, so their steps are not taken twice.
        """
        if not keys:
            return set()
        table = Escalation.__table__
        rows = [
            {"demand_id": d, "task_id": t, "step": step, "due_on": due, "at": self.now}
            for d, t, due in keys
        ]
        inserted = _insert_many(
            table,
            rows,
            returning=(table.c.demand_id, table.c.task_id),
            skip_conflicts_on=("demand_id", "task_id", "step", "due_on"),
        )
        return {(row.demand_id, row.task_id) for row in inserted}

    def _event(self, demand_id: int, task_id: int | None, step: str, data: dict) -> dict:
        return {
            "demand_id": demand_id,
            "task_id": task_id,
            "at": self.now,
            "actor_id": None,  # the system
            "kind": step,
            "from_state": None,
            "to_state": None,
            "message": "",
            "internal": True,
            "data": data,
        }

    def _notifications(
        self, users: Iterable[int], demand_id: int, kind: str, message: str
    ) -> list[dict]:
        return [
            {
                "user_id": user_id,
                "demand_id": demand_id,
                "kind": kind,
                "message": message[:300],
                "created_at": self.now,
            }
            for user_id in dict.fromkeys(users)  # each person once, in order
        ]

    def bulletin_digest(self) -> None:
        """One line per office user for everything this sweep listed for the bulletin.

        A backlog can list thousands of demands at once; a notification for each, to every
        office user, would bury everything else they are told.
        """
        listed = self.report.counts[BULLETIN] + self.report.counts[f"acceptance_{BULLETIN}"]
        if not listed:
            return
        message = stored_text(
            _l("%(n)s overdue demands were listed for the next bulletin.", n=listed)
        )
        notes = self._notifications(self.people.office, None, BULLETIN, message)
        if notes:
            table = Notification.__table__
            inserted = _insert_many(table, notes, returning=(table.c.id,))
            mail.send_after_commit(db.session, [row.id for row in inserted])
            self.report.counts["notifications"] += len(notes)
        self.end_batch()

    def _write(self, key: str, events: list[dict], notes: list[dict]) -> None:
        db.session.execute(insert(DemandEvent.__table__), events)
        if notes:
            table = Notification.__table__
            inserted = _insert_many(table, notes, returning=(table.c.id,))
            mail.send_after_commit(db.session, [row.id for row in inserted])
        self.report.counts[key] += len(events)
        self.report.counts["notifications"] += len(notes)

    # -- unrated resolutions -------------------------------------------------------------

    def unrated(self, *, retry: bool) -> None:
        """Close what was resolved ``UNRATED_CLOSE_DAYS`` working days ago, still unrated."""
        before_day = escalation.passed_at_least(self.on, UNRATED_CLOSE_DAYS, self.cal)
        # resolved_at is naive UTC; the resolution's day is its date in Asia/Shanghai.
        before = (
            datetime.combine(before_day, time(), tzinfo=SHANGHAI)
            .astimezone(UTC)
            .replace(tzinfo=None)
        )
        after_id, failures = 0, 0
        while True:
            demands = db.session.scalars(
                select(Demand)
                .where(
                    Demand.state == states.RESOLVED,
                    Demand.resolved_at < before,
                    Demand.id > after_id,
                )
                .order_by(Demand.id)
                .limit(self.batch_size)
            ).all()
            if not demands:
                return
            closed = sum(close_unrated(d, cal=self.cal, on=self.on) for d in demands)
            last_id = demands[-1].id
            try:
                self.end_batch()
            except StaleDataError:
                # Someone (another sweep, the firm rating at last) changed one of these
                # demands meanwhile: start the slice again from what is now committed.
                failures += 1
                if not retry or failures > 3:
                    raise
                db.session.rollback()
                continue
            self.report.counts["closed_unrated"] += closed
            after_id = last_id


def _insert_many(
    table, rows: list[dict], *, returning: tuple, skip_conflicts_on: tuple[str, ...] = ()
) -> list:
    """Insert ``rows`` (dicts with the same keys) into ``table``; the ``returning`` columns
    of the rows inserted. With ``skip_conflicts_on``, rows that would repeat that unique
    key are left out (ON CONFLICT DO NOTHING) and not returned."""
    postgres = db.session.get_bind().dialect.name == "postgresql"
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    names = tuple(rows[0])
    if postgres:
        # One array per column, unnested by the server. A multi-row VALUES, with a
        # placeholder per value, is parsed anew by psycopg on every execution, which costs
        # more than the insert itself when a first sweep writes hundreds of thousands.
        arrays = (
            func.unnest(
                *(
                    bindparam(name, [row[name] for row in rows], type_=ARRAY(table.c[name].type))
                    for name in names
                )
            )
            .table_valued(*names)
            .render_derived()
        )
        stmt = dialect_insert(table).from_select(names, select(*(arrays.c[n] for n in names)))
        params = None
    else:
        stmt, params = dialect_insert(table), rows
    if skip_conflicts_on:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    return db.session.execute(stmt.returning(*returning), params).all()
