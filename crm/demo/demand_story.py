"""A demo demand's story, told in working-day time, before it is placed on the calendar.

Day 0 is the story's first day and every deadline is "dispatch day + the category's
limit" in the same units, exactly as the services count. ``crm.demo.demands`` places the
story on the calendar and cuts it at "now". The odds below are a district's usual mix:
most demands resolved on time and rated satisfied, some late, returned or reopened.
"""

import random
from dataclasses import dataclass, field
from typing import Any

from crm.demands import states
from crm.demo import demand_texts as texts
from crm.demo.demand_world import DemoCategory, DemoFirm, Unit, World, code_of
from crm.demo.district import STREETS
from crm.demo.facts import pick

DAY_START, DAY_END = 8 * 60 + 30, 18 * 60  # office hours, minutes after midnight (Shanghai)
SWEEP_MINUTE = 2 * 60  # the nightly sweep closes unrated demands at 02:00

# A firm with a portal account uses it for about half its demands.
CHANNEL_ODDS = (("visit", 28), ("hotline", 14), ("walk_in", 8), ("portal", 32), ("api", 18))
STAFF_CHANNEL_ODDS = (("visit", 55), ("hotline", 28), ("walk_in", 17))
CATEGORY_WEIGHTS = {
    "POLICY": 18,
    "REG": 10,
    "SITE": 10,
    "HIRE": 8,
    "TALENT": 12,
    "HOUSE": 6,
    "TAX": 9,
    "IP": 5,
    "FIN": 7,
    "PLAN": 4,
    "ENV": 5,
    "OTHER": 6,
}
LEVEL_ODDS = {
    "consultation": ((1, 60), (2, 35), (3, 5)),
    "general": ((1, 35), (2, 40), (3, 25)),
    "complex": ((1, 10), (2, 35), (3, 55)),
}
# The departments that lead a category's level-3 demands, and those that often help.
LEADS = {
    "POLICY": ("FGW", "SWW", "KW"),
    "REG": ("SCJGJ",),
    "SITE": ("TCB", "GHZYJ", "FGJ"),
    "HIRE": ("RSJ",),
    "TALENT": ("RSJ",),
    "HOUSE": ("FGJ",),
    "TAX": ("SWJ",),
    "IP": ("SCJGJ", "KW"),
    "FIN": ("JRB",),
    "PLAN": ("GHZYJ",),
    "ENV": ("SCJGJ", "SWW", "FGW"),
    "OTHER": ("TCB", "SWW"),
}
CO_HANDLERS = {
    "POLICY": ("SWJ", "RSJ", "SCJGJ"),
    "REG": ("SWJ", "RSJ"),
    "SITE": ("SCJGJ", "FGJ", "GHZYJ"),
    "HIRE": ("TCB", "KW"),
    "TALENT": ("KW", "FGJ", "TCB"),
    "HOUSE": ("RSJ",),
    "TAX": ("SCJGJ", "TCB"),
    "IP": ("JRB", "TCB"),
    "FIN": ("KW", "SWJ", "SCJGJ"),
    "PLAN": ("FGJ", "SCJGJ", "FGW"),
    "ENV": ("GHZYJ", "FGJ", "TCB"),
    "OTHER": ("FGW", "RSJ"),
}
TIER_WEIGHTS = {"district": 5, "sector": 3, "local": 2, None: 1}
PORTAL_WEIGHT = 3  # firms that signed up to the portal raise demands more often
RATING_ODDS = (("satisfied", 80), ("basically_satisfied", 14), ("not_satisfied", 6))


# -- a story in working-day time -----------------------------------------------------------


@dataclass
class Task:
    role: str
    unit: Unit
    due_i: int
    dispatched_by: int


@dataclass
class Ev:
    i: int  # working day, counted from the story's first day
    m: int  # minute of that day, Asia/Shanghai
    kind: str
    actor: int | None
    to_state: str | None = None
    task: Task | None = None
    message: str = ""
    internal: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)  # a dispatch's new tasks
    level: int | None = None
    days: int = 0  # extension days


class Story:
    def __init__(
        self,
        rng: random.Random,
        world: World,
        firm: DemoFirm,
        category: DemoCategory,
        channel: str,
        want: dict[str, Any],
    ):
        self.rng, self.world, self.firm, self.category = rng, world, firm, category
        self.channel = channel
        self.want = dict(want)
        self.events: list[Ev] = []
        self.i = 0
        portal = channel in ("portal", "api")
        self.m = rng.randrange(7 * 60, 23 * 60) if portal else self._minute()
        self.submitter = firm.user if portal else self._intake_staff()
        self.owner = None if portal else self.submitter
        self.title, self.description = self._topic()
        self.urgency = "urgent" if rng.random() < 0.08 else "normal"

    # time ------------------------------------------------------------------------------

    def _minute(self) -> int:
        return self.rng.randrange(DAY_START, DAY_END)

    def later(self, days: int) -> None:
        if days:
            self.i += days
            self.m = self._minute()
            return
        self.m += self.rng.randrange(10, 150)
        if self.m >= DAY_END:
            self.i += 1
            self.m = DAY_START + self.rng.randrange(90)

    def on_day(self, day: int) -> None:
        if day > self.i:
            self.i, self.m = day, self._minute()
        else:
            self.later(0)

    def emit(self, kind: str, actor: int | None, **kw) -> Ev:
        ev = Ev(self.i, self.m, kind, actor, **kw)
        self.events.append(ev)
        return ev

    # people ----------------------------------------------------------------------------

    def _intake_staff(self) -> int:
        rng, w, street = self.rng, self.world, self.firm.street_id
        if self.channel == "visit":
            return self.firm.commissioner or rng.choice(w.commissioners[street])
        if self.channel == "hotline" and rng.random() < 0.5:
            return rng.choice(w.office)
        return rng.choice(w.centre[street])

    def dispatcher(self, level: int | None = None) -> int:
        w = self.world
        odds = 0.8 if level == 3 else 0.35
        if self.rng.random() < odds:
            return self.rng.choice(w.office)
        if self.firm.street_id == w.demo_street and self.rng.random() < 0.6:
            return w.demo["demo-street"]
        return self.rng.choice(w.centre[self.firm.street_id])

    def member(self, task: Task, level: int) -> int:
        w, rng, unit = self.world, self.rng, task.unit
        if unit.department_id is not None:
            if unit.department_id == w.demo_department and rng.random() < 0.7:
                return w.demo["demo-department"]
            return rng.choice(w.handlers[unit.department_id])
        if level == 1 and rng.random() < 0.65:
            return self.firm.commissioner or rng.choice(w.commissioners[unit.street_id])
        return rng.choice(w.centre[unit.street_id])

    def _topic(self) -> tuple[str, str]:
        rng = self.rng
        title, description = rng.choice(texts.TOPICS.get(self.category.code, texts.TOPICS["OTHER"]))
        street = next(s for s in STREETS if self.world.street_names[self.firm.street_id] == s.name)
        values = {"road": rng.choice(street.roads), "n": rng.randint(2, 9)}
        return title.format(**values), description.format(**values)

    # the loop --------------------------------------------------------------------------

    def tell(self) -> None:
        rng, want = self.rng, self.want
        self.emit(
            "submitted", self.submitter, to_state=states.SUBMITTED, data={"channel": self.channel}
        )
        may_withdraw = self.firm.user is not None and self.channel in ("portal", "api")
        if want.get("withdraw", may_withdraw and rng.random() < 0.03):
            self.later(rng.choice((0, 0, 1)))
            self.emit(
                "withdrawn",
                self.firm.user,
                to_state=states.WITHDRAWN,
                message=rng.choice(texts.WITHDRAW_REASONS),
            )
            return
        self.later(pick(rng, ((0, 70), (1, 25), (2, 4), (3, 1))))
        dispatcher = self.dispatcher()
        if want.get("reject", rng.random() < 0.04):
            self.emit(
                "rejected",
                dispatcher,
                to_state=states.REJECTED,
                message=rng.choice(texts.REJECT_REASONS),
            )
            return
        self.owner = self.owner or dispatcher
        self.emit(
            "accepted", dispatcher, to_state=states.ACCEPTED, message=rng.choice(texts.ACCEPT_NOTES)
        )
        level = want.get("level") or pick(rng, LEVEL_ODDS[self.category.kind])
        self.later(pick(rng, ((0, 55), (1, 40), (2, 5))))
        level = self.handle(level, want.get("lead"), want.get("co"), first=True)
        if self.rate(reopen=True):
            self.later(pick(rng, ((1, 70), (2, 30))))
            self.want.pop("extension", None)
            self.want.pop("late", None)
            self.handle(level, None, None, first=False)
            self.rate(reopen=False)

    def _units(self, level: int, lead: str | None, co) -> tuple[Unit, list[Unit]]:
        rng, w, code = self.rng, self.world, self.category.code
        if level in (1, 2):
            return w.unit(street_id=self.firm.street_id), []
        lead = lead or rng.choice(LEADS.get(code, LEADS["OTHER"]))
        if co is None:
            pool = [d for d in CO_HANDLERS.get(code, CO_HANDLERS["OTHER"]) if d != lead]
            co = rng.sample(pool, k=min(len(pool), pick(rng, ((0, 35), (1, 45), (2, 20)))))
        units = [w.unit(department=d) for d in co]
        if rng.random() < 0.25:  # the firm's street helps on the ground
            units.append(w.unit(street_id=self.firm.street_id))
        return w.unit(department=lead), units

    def handle(self, level: int, lead_code: str | None, co, *, first: bool) -> int:
        """Dispatch, handle and resolve; a returned dispatch goes to level 3 elsewhere."""
        rng, want, cat = self.rng, self.want, self.category
        lead, co_units = self._units(level, lead_code, co)
        dispatcher = self.dispatcher(level)
        limit = cat.level3_days if level == 3 else cat.resolve_days
        start = self.i
        tasks = [Task("lead", lead, start + limit, dispatcher)]
        tasks += [Task("co", u, start + limit, dispatcher) for u in co_units]
        self.emit(
            "dispatched",
            dispatcher,
            to_state=states.DISPATCHED,
            tasks=tasks,
            level=level,
            message=rng.choice(texts.DISPATCH_NOTES),
        )
        self.later(pick(rng, ((0, 50), (1, 45), (2, 5))))
        if first and want.get("return", rng.random() < 0.04):
            self.emit(
                "task_returned",
                self.member(tasks[0], level),
                task=tasks[0],
                to_state=states.RETURNED,
                message=rng.choice(texts.RETURN_REASONS),
                data={"unit": lead.name, "role": "lead"},
            )
            self.later(pick(rng, ((1, 60), (2, 30), (3, 10))))
            taken = lead_code or (None if level < 3 else code_of(self.world, lead))
            others = [d for d in (*LEADS.get(cat.code, LEADS["OTHER"]), "TCB") if d != taken]
            return self.handle(3, rng.choice(others), (), first=False)
        handler = self.member(tasks[0], level)
        self.emit(
            "task_accepted",
            handler,
            task=tasks[0],
            to_state=states.IN_PROGRESS,
            data={"unit": lead.name, "role": "lead"},
        )
        co_handlers = {}
        for task in tasks[1:]:
            self.later(rng.choice((0, 0, 1)))
            co_handlers[id(task)] = self.member(task, level)
            self.emit(
                "task_accepted",
                co_handlers[id(task)],
                task=task,
                data={"unit": task.unit.name, "role": "co"},
            )
        due = tasks[0].due_i
        extension = want.get("extension")
        if extension is None and level >= 2 and rng.random() < 0.1:
            extension = "approved" if rng.random() < 0.85 else "declined"
        if extension and self.i < due:
            self.on_day(rng.randint(max(self.i, start + limit // 2), due - 1))
            days = rng.randint(3, 10)
            self.emit(
                "extension_requested",
                handler,
                task=tasks[0],
                days=days,
                message=rng.choice(texts.EXTENSION_REASONS),
            )
            if extension != "pending":
                self.later(rng.choice((0, 1, 1)))
                approved = extension == "approved"
                self.emit(
                    "extension_approved" if approved else "extension_declined",
                    rng.choice(self.world.office),
                    task=tasks[0],
                    days=days,
                    message=rng.choice(
                        texts.EXTENSION_DECISIONS if approved else texts.EXTENSION_DECLINES
                    ),
                )
                if approved:
                    due += days
        if want.get("late", rng.random() < 0.1):
            resolve_on = due + rng.randint(1, 8)
        else:
            span = max(due - start, 1)
            resolve_on = start + max(1, round(rng.triangular(1, span, span * 0.6)))
        resolve_on = max(resolve_on, self.i)
        for _ in range(pick(rng, ((0, 40), (1, 40), (2, 20)))):
            self.on_day(rng.randint(self.i, max(self.i, resolve_on - 1)))
            self.emit(
                "progress",
                handler,
                task=tasks[0],
                internal=rng.random() < 0.25,
                message=rng.choice(texts.PROGRESS_NOTES),
            )
        self.on_day(max(self.i, resolve_on - 1))
        for task in tasks[1:]:
            self.later(0)
            self.emit(
                "task_resolved",
                co_handlers[id(task)],
                task=task,
                message=rng.choice(texts.PROGRESS_NOTES),
                data={"unit": task.unit.name, "role": "co"},
            )
        self.on_day(resolve_on)
        replies = texts.REPLIES.get(cat.code, texts.REPLIES["OTHER"])
        self.emit(
            "resolved",
            handler,
            task=tasks[0],
            to_state=states.RESOLVED,
            message=rng.choice(replies),
            data={"unit": lead.name},
        )
        return level

    def rate(self, *, reopen: bool) -> bool:
        """The firm's answer; True when it reopened the demand."""
        rng, resolved_on = self.rng, self.i
        rating = self.want.pop("rating", None)
        if rating is None:
            answers = rng.random() < (0.8 if self.firm.user else 0.7)
            rating = pick(rng, RATING_ODDS) if answers else "unrated"
        if rating == "not_satisfied" and not reopen:
            rating = "basically_satisfied"
        if rating == "unrated":
            self.i, self.m = resolved_on + 5, SWEEP_MINUTE
            self.emit("closed_unrated", None, to_state=states.CLOSED)
            if rng.random() < 0.15:
                self.later(rng.randint(1, 3))
                self.emit(
                    "follow_up",
                    rng.choice(self.world.office),
                    message=rng.choice(texts.FOLLOW_UPS),
                    data={"rating": None},
                )
            return False
        self.on_day(resolved_on + rng.randint(0, 4))
        target = states.rating_target(rating)
        comment = rng.choice(texts.RATING_COMMENTS[rating])
        if self.firm.user:
            self.emit(
                "rated",
                self.firm.user,
                to_state=target,
                message=comment,
                data={"rating": rating, "via_follow_up": False},
            )
        else:
            caller = self.firm.commissioner or rng.choice(self.world.office)
            self.emit(
                "follow_up", caller, message=rng.choice(texts.FOLLOW_UPS), data={"rating": rating}
            )
            self.emit(
                "rated",
                caller,
                to_state=target,
                message=comment,
                data={"rating": rating, "via_follow_up": True},
            )
        return target == states.REOPENED
