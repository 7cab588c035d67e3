"""Demo assistance cases (帮办事项): every type at every stage, some landed, some dropped.

A case is drawn as a plan (type, state, stage reached, the days it opened and ended) and
then written out whole: its row, its checklist copied from the type's template and ticked
up to the stage it reached, its timeline of events (opened, advanced, sometimes moved back,
registered, landed or dropped), the departments involved, a note now and then and, for
financing, the banks it was referred to. Rows go in with Core executemany in batches.
"""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, product
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from crm.assistance.models import (
    AssistanceCase,
    CaseChecklistItem,
    CaseEvent,
    CaseNote,
    CaseStage,
    CaseType,
    ChecklistTemplateItem,
    FinancingReferral,
    case_departments,
)
from crm.demo.workspace import Workspace, WsFirm, insert_returning, local_date
from crm.demo.workspace_prospects import WsProspect
from crm.demo.workspace_texts import (
    BANKS,
    CASE_DEPARTMENTS,
    CASE_NOTES,
    CASE_TITLES,
    DAYS_TO_LAND,
    DROP_REASONS,
    PROSPECT_CASE_TITLES,
    REFERRAL_NOTES,
)
from crm.extensions import db

CODES = ("REG", "SITE", "HIRE", "FIN", "TAL", "HOUSE")
TYPE_WEIGHTS = (8, 18, 22, 22, 20, 10)
TIER_WEIGHTS = {"district": 6, "sector": 4, "local": 2, None: 1}
CASES_PER_FIRM = 0.075  # small: ~30 with the featured ones; district: ~1,500
# One finished case of each type for the demo commissioner: landed or dropped.
FINISHED = (("REG", "landed"), ("SITE", "dropped"), ("HIRE", "landed"),
            ("FIN", "landed"), ("TAL", "dropped"), ("HOUSE", "landed"))  # fmt: skip
BATCH = 1000
AMOUNTS = (100, 200, 300, 500, 800, 1000, 1500, 2000, 3000, 5000)


@dataclass
class CasePlan:
    code: str
    state: str  # open, landed, dropped
    position: int  # the stage reached
    opened: date
    end: date | None  # landed_on or dropped_on
    owner: int
    street_id: int
    firm: WsFirm | None = None
    prospect: WsProspect | None = None
    title: str = ""
    reason: str = ""


class _Refs:
    def __init__(self):
        self.types = {
            code: id_ for id_, code in db.session.execute(select(CaseType.id, CaseType.code))
        }
        self.stages: dict[int, list[int]] = defaultdict(list)
        for type_id, stage_id in db.session.execute(
            select(CaseStage.case_type_id, CaseStage.id).order_by(
                CaseStage.case_type_id, CaseStage.position
            )
        ):
            self.stages[type_id].append(stage_id)
        self.template: dict[int, list[tuple]] = defaultdict(list)
        for row in db.session.execute(
            select(
                ChecklistTemplateItem.case_type_id,
                ChecklistTemplateItem.position,
                ChecklistTemplateItem.label,
                ChecklistTemplateItem.stage_id,
                ChecklistTemplateItem.route,
            ).order_by(ChecklistTemplateItem.case_type_id, ChecklistTemplateItem.position)
        ):
            self.template[row[0]].append(tuple(row[1:]))


def load_cases(ws: Workspace, prospects: list[WsProspect]) -> Counter[str]:
    refs = _Refs()
    counts: Counter[str] = Counter()
    if not all(code in refs.types for code in CODES):
        return counts  # the office removed a case type: no demo cases
    rng = random.Random(f"demo:{ws.plan.seed}:cases")
    plans = _prospect_cases(rng, ws, prospects) + _featured(rng, ws)
    generic = max(0, round(ws.plan.firm_count * CASES_PER_FIRM) - len(plans))
    plans += _generic(rng, ws, generic)
    for start in range(0, len(plans), BATCH):
        _insert(rng, ws, refs, plans[start : start + BATCH], counts)
    return counts


# -- planning ---------------------------------------------------------------------------------


def _stage_by_age(opened: date, today: date, days_to_land: int) -> int:
    return min(3, int((today - opened).days / max(1, days_to_land) * 4))


def _prospect_cases(rng, ws: Workspace, prospects: list[WsProspect]) -> list[CasePlan]:
    plans = []
    for p in prospects:
        for code in ("REG", "SITE") if rng.random() < 0.5 else ("REG",):
            opened = p.created + timedelta(days=rng.randint(0, 10))
            plan = CasePlan(code, "open", 0, opened, None, p.owner, p.street_id, prospect=p,
                            title=PROSPECT_CASE_TITLES[code])  # fmt: skip
            if p.state == "registered":
                plan.firm = p.firm
                plan.opened = min(opened, p.registered_on)
                if code == "REG":  # registering is what landed it
                    plan.state, plan.position, plan.end = "landed", 3, p.registered_on
                else:
                    dl = rng.randint(*DAYS_TO_LAND[code])
                    plan.position = _stage_by_age(plan.opened, ws.today, dl)
                    if plan.opened + timedelta(days=dl) <= ws.today:
                        plan.state, plan.position = "landed", 3
                        plan.end = plan.opened + timedelta(days=dl)
            elif p.state == "dropped":
                plan.opened = min(opened, p.dropped_on)
                plan.state, plan.end, plan.reason = "dropped", p.dropped_on, p.drop_reason
                plan.position = rng.randint(0, 2)
            else:
                plan.opened = min(opened, ws.today)
                plan.position = _stage_by_age(plan.opened, ws.today, 60)
            plans.append(plan)
    return plans


def _owned(ws: Workspace) -> list[WsFirm]:
    return [f for f in ws.firms if ws.current_primary(f.id)]


def _featured(rng, ws: Workspace) -> list[CasePlan]:
    """Every type at every stage, half of them the demo commissioner's; and one finished
    case of each type for it."""
    firms = _owned(ws)
    if not firms:
        return []
    demo = [
        f
        for f in firms
        if ws.demo_commissioner and ws.current_primary(f.id) == ws.demo_commissioner
    ]
    plans = []
    for k, (code, position) in enumerate(product(CODES, range(4))):
        firm = demo[(k // 2) % len(demo)] if demo and k % 2 == 0 else rng.choice(firms)
        opened = ws.today - timedelta(days=(position + 1) * rng.randint(5, 20))
        opened = max(opened, local_date(firm.created_at))
        plans.append(_firm_plan(rng, ws, firm, code, "open", position, opened, None))
    for k, (code, state) in enumerate(FINISHED):
        firm = demo[k % len(demo)] if demo else rng.choice(firms)
        dl = rng.randint(*DAYS_TO_LAND[code])
        end = ws.today - timedelta(days=rng.randint(3, 40))
        opened = max(end - timedelta(days=dl), local_date(firm.created_at))
        end = max(end, opened)
        position = 3 if state == "landed" else rng.randint(0, 2)
        plans.append(_firm_plan(rng, ws, firm, code, state, position, opened, end))
    return plans


def _firm_plan(rng, ws, firm, code, state, position, opened, end) -> CasePlan:
    return CasePlan(
        code, state, position, opened, end, ws.current_primary(firm.id), firm.street_id,
        firm=firm, title=rng.choice(CASE_TITLES[code]),
        reason=rng.choice(DROP_REASONS[code]) if state == "dropped" else "",
    )  # fmt: skip


def _generic(rng, ws: Workspace, n: int) -> list[CasePlan]:
    firms = _owned(ws)
    if not firms or n <= 0:
        return []
    firm_cum = list(accumulate(TIER_WEIGHTS[f.tier] for f in firms))
    type_cum = list(accumulate(TYPE_WEIGHTS))
    plans = []
    for _ in range(n):
        firm = rng.choices(firms, cum_weights=firm_cum)[0]
        code = rng.choices(CODES, cum_weights=type_cum)[0]
        opened = max(ws.today - timedelta(days=rng.randint(0, 365)), local_date(firm.created_at))
        dl = rng.randint(*DAYS_TO_LAND[code])
        state, end, position = "open", None, _stage_by_age(opened, ws.today, dl)
        roll = rng.random()
        if roll < 0.15:
            drop = opened + timedelta(days=rng.randint(2, dl))
            if drop <= ws.today:
                state, end = "dropped", drop
                position = min(2, _stage_by_age(opened, drop, dl))
        elif opened + timedelta(days=dl) <= ws.today and roll < 0.87:
            state, end, position = "landed", opened + timedelta(days=dl), 3
        plans.append(_firm_plan(rng, ws, firm, code, state, position, opened, end))
    return plans


# -- writing out ------------------------------------------------------------------------------


def _days_between(rng, start: date, stop: date, n: int) -> list[date]:
    span = max(0, (stop - start).days)
    return sorted(start + timedelta(days=rng.randint(0, span)) for _ in range(n))


class _Moments:
    """Increasing UTC moments for one case's timeline, each on its local day."""

    def __init__(self, ws: Workspace, rng):
        self.ws, self.rng, self.last = ws, rng, None

    def at(self, day: date) -> datetime:
        moment = self.ws.utc_at(day, self.rng)
        if self.last is not None and moment <= self.last:
            moment = self.last + timedelta(minutes=self.rng.randint(1, 30))
        self.last = moment
        return moment


def _case_parts(rng, ws: Workspace, refs: _Refs, plan: CasePlan) -> dict[str, Any]:
    type_id = refs.types[plan.code]
    stages = refs.stages[type_id]
    until = plan.end or ws.today
    high_tech = bool(plan.firm and plan.firm.high_tech)
    route = ("high_tech" if high_tech else "points") if plan.code == "TAL" else None
    # The timeline: opened, one step per stage reached, sometimes a step back, the end.
    back = plan.state == "open" and plan.position >= 2 and rng.random() < 0.08
    steps = _days_between(rng, plan.opened, until, plan.position + (2 if back else 0))
    moments = _Moments(ws, rng)
    events = [("opened", None, stages[0], "", plan.opened)]
    for k in range(plan.position):
        events.append(("advanced", stages[k], stages[k + 1], "", steps[k]))
    if back:
        p = plan.position
        events.append(("back", stages[p], stages[p - 1], "材料需补正，退回上一环节。", steps[p]))
        events.append(("advanced", stages[p - 1], stages[p], "", steps[p + 1]))
    if plan.prospect is not None and plan.prospect.state == "registered":
        events.append(("registered", None, None, "企业完成注册，事项转入企业名下。",
                       max(plan.prospect.registered_on, plan.opened)))  # fmt: skip
    if plan.state == "landed":
        events.append(("landed", stages[3], None, "", plan.end))
    elif plan.state == "dropped":
        events.append(("dropped", stages[plan.position], None, plan.reason, plan.end))
    events.sort(key=lambda e: e[4])  # stable: same-day events keep their order
    event_rows = [
        {"action": a, "actor_id": plan.owner, "from_stage_id": f, "to_stage_id": t,
         "note": note, "at": moments.at(day)}
        for a, f, t, note, day in events
    ]  # fmt: skip
    checklist = []
    for position, label, stage_id, item_route in refs.template[type_id]:
        if item_route is not None and item_route != route:
            continue
        stage_pos = stages.index(stage_id) if stage_id in stages else None
        if plan.state == "landed":
            done = True
        elif stage_pos is None:
            done = rng.random() < 0.3
        else:
            done = stage_pos < plan.position or (stage_pos == plan.position and rng.random() < 0.5)
        when = moments.ws.utc_at(_days_between(rng, plan.opened, until, 1)[0], rng)
        checklist.append(
            {"position": position, "label": label, "stage_id": stage_id, "route": item_route,
             "done": done, "done_at": when if done else None,
             "done_by_id": plan.owner if done else None}
        )  # fmt: skip
    referrals = []
    if plan.code == "FIN" and plan.position >= 1:
        referred = min(steps[0] + timedelta(days=rng.randint(0, 3)), until)
        for n, bank in enumerate(rng.sample(BANKS, rng.choice((1, 1, 2, 3)))):
            asked = Decimal(rng.choice(AMOUNTS))
            if plan.state == "landed":
                outcome = "granted" if n == 0 or rng.random() < 0.4 else "declined"
            elif plan.state == "dropped":
                outcome = "declined"
            else:
                outcome = "granted" if plan.position == 3 and n == 0 else "pending"
            granted = (
                asked * Decimal(rng.choice((5, 6, 8, 10))) / 10 if outcome == "granted" else None
            )
            referrals.append(
                {"bank": bank, "referred_on": referred, "amount_requested": asked,
                 "amount_granted": granted, "outcome": outcome, "note": REFERRAL_NOTES[outcome],
                 "created_by_id": plan.owner, "created_at": moments.ws.utc_at(referred, rng)}
            )  # fmt: skip
    notes = []
    if rng.random() < 0.35:
        day = _days_between(rng, plan.opened, until, 1)[0]
        notes.append({"author_id": plan.owner, "body": rng.choice(CASE_NOTES),
                      "created_at": moments.ws.utc_at(day, rng)})  # fmt: skip
    created = event_rows[0]["at"]
    case = {
        "number": "",
        "case_type_id": type_id,
        "firm_id": plan.firm.id if plan.firm else None,
        "prospect_id": plan.prospect.id if plan.prospect else None,
        "street_id": plan.street_id,
        "title": plan.title,
        "stage_id": stages[plan.position],
        "state": plan.state,
        "owner_id": plan.owner,
        "expected_investment": _money(rng, (500, 1000, 2000, 5000, 10000, 20000))
        if plan.code in ("REG", "SITE") else None,
        "registered_capital": _money(rng, (100, 200, 500, 1000, 2000, 5000))
        if plan.code == "REG" else None,
        "expected_jobs": rng.randint(5, 200) if plan.code in ("REG", "SITE", "HIRE") else None,
        "talent_route": route,
        "opened_on": plan.opened,
        "landed_on": plan.end if plan.state == "landed" else None,
        "dropped_on": plan.end if plan.state == "dropped" else None,
        "drop_reason": plan.reason if plan.state == "dropped" else "",
        "created_by_id": plan.owner,
        "created_at": created,
        "updated_at": event_rows[-1]["at"],
        "version": 1,
    }  # fmt: skip
    departments = [ws.world.department_ids[c] for c in CASE_DEPARTMENTS[plan.code]
                   if c in ws.world.department_ids]  # fmt: skip
    if plan.code == "TAL" and not high_tech:
        departments = departments[:1]
    return {"case": case, "events": event_rows, "checklist": checklist,
            "referrals": referrals, "notes": notes, "departments": departments}  # fmt: skip


def _money(rng, choices) -> Decimal:
    return Decimal(rng.choice(choices))


def _insert(rng, ws: Workspace, refs: _Refs, plans: list[CasePlan], counts: Counter[str]):
    parts = [_case_parts(rng, ws, refs, plan) for plan in plans]
    for n, part in enumerate(parts):
        part["case"]["number"] = f"demo-{n}"  # unique until the ids are known
    ids = insert_returning(AssistanceCase, [p["case"] for p in parts])
    table = AssistanceCase.__table__
    db.session.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(number=bindparam("b_no")),
        [
            {"b_id": id_, "b_no": f"BB{p['case']['opened_on']:%Y%m%d}{id_:06d}"}
            for id_, p in zip(ids, parts, strict=True)
        ],
    )
    tables = {
        "events": CaseEvent.__table__,
        "checklist": CaseChecklistItem.__table__,
        "referrals": FinancingReferral.__table__,
        "notes": CaseNote.__table__,
    }
    for key, target in tables.items():
        rows = [
            {**row, "case_id": id_} for id_, p in zip(ids, parts, strict=True) for row in p[key]
        ]
        if rows:
            db.session.execute(insert(target), rows)
        counts[f"case_{key}"] += len(rows)
    links = [{"case_id": id_, "department_id": d} for id_, p in zip(ids, parts, strict=True)
             for d in p["departments"]]  # fmt: skip
    if links:
        db.session.execute(insert(case_departments), links)
    counts["cases"] += len(ids)
    for plan in plans:
        counts[f"{plan.state}_cases"] += 1
