"""Demo portal activity: the service requests firms booked (预约, 上门, 跑腿代办), profile
changes waiting for review and a few people asking for an account.

Rows are inserted with Core executemany, as the rest of the demo, and drawn from the
firms that have a portal account; the two featured demo firms get a fixed, readable set.
"""

import random
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select

from crm.auth.passwords import hash_password
from crm.demo.demand_replay import SHANGHAI_OFFSET
from crm.demo.demand_world import DemoFirm, World
from crm.demo.plan import DemoPlan
from crm.extensions import db
from crm.firms.models import Firm
from crm.portal.models import ProfileChange, ServiceRequest, SignupRequest

# Of the firms with a portal account, the share that booked a service lately.
SERVICE_SHARE = 0.15
CHANGE_SHARE = 0.03
BATCH = 2000

REQUESTS: dict[str, tuple[str, ...]] = {
    "appointment": (
        "预约到街道营商服务中心咨询人才落户积分政策，想当面核对材料清单。",
        "预约办理公司地址变更登记，希望一次把材料问清楚。",
        "预约咨询稳岗补贴申请流程和截止时间。",
        "预约了解小微企业房租补贴的申请条件。",
    ),
    "onsite": (
        "新办公室装修完工，请服务专员上门了解扩招用工需求。",
        "希望上门指导高新技术企业认定的申报材料。",
        "厂房消防验收前，请上门协调相关部门看一下现场。",
        "公司准备扩大研发团队，请上门介绍人才公寓政策。",
    ),
    "errand": (
        "请代办员工居住证积分材料的递交，公司人手不够。",
        "请帮忙代办营业执照副本的换领。",
        "请代为递交房租补贴的纸质申请材料。",
        "请代办社保登记信息变更。",
    ),
}
OUTCOMES = {
    "appointment": "已在营商服务中心当面解答，材料清单已交企业。",
    "onsite": "已上门走访，需求已记录并转相关部门跟进。",
    "errand": "已代办完成，回执已交企业负责人。",
}
SLOTS = ("morning", "afternoon")


def load_portal(plan: DemoPlan, world: World) -> Counter[str]:
    counts: Counter[str] = Counter()
    rng = random.Random(f"demo:{plan.seed}:portal")
    now = plan.now
    featured = {f.id for f in world.featured_firms.values()}
    portal_firms = [f for f in world.firms if f.user is not None and f.id not in featured]
    rows = [
        _service_row(rng, firm, now, kind=None)
        for firm in portal_firms
        if rng.random() < SERVICE_SHARE
    ]
    rows += _featured_requests(world, now)
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(ServiceRequest), rows[start : start + BATCH])
    counts["service_requests"] = len(rows)

    changing = [f for f in portal_firms if rng.random() < CHANGE_SHARE]
    changing += list(world.featured_firms.values())[:1]
    counts["profile_changes"] = _profile_changes(rng, changing, now)
    counts["signup_requests"] = _signups(rng, world, plan, now)
    return counts


def _service_row(
    rng: random.Random, firm: DemoFirm, now: datetime, *, kind: str | None, age: int | None = None
) -> dict[str, Any]:
    kind = kind or rng.choices(tuple(REQUESTS), weights=(4, 3.5, 2.5))[0]
    age = age if age is not None else rng.randrange(0, 90)
    created = max(now - timedelta(days=age, minutes=rng.randrange(600)), firm.created_at)
    if age > 14:
        state = rng.choices(("done", "cancelled", "scheduled", "requested"), (75, 10, 5, 10))[0]
    else:
        state = rng.choices(("requested", "scheduled", "done"), (50, 35, 15))[0]
    if state == "done" and age < 2:
        state = "scheduled"  # nothing is carried out on the day it is asked for
    scheduled = None  # local time (Asia/Shanghai), on the hour, as people agree on it
    if state in ("scheduled", "done"):
        scheduled = _local_hour(created + timedelta(days=rng.randrange(1, 6)), rng)
        if state == "done":
            scheduled = min(scheduled, _local_hour(now - timedelta(days=1), rng))
    preferred = (created + timedelta(days=rng.randrange(1, 8))).date()
    return {
        "firm_id": firm.id,
        "street_id": firm.street_id,
        "kind": kind,
        "state": state,
        "details": rng.choice(REQUESTS[kind]),
        "preferred_date": preferred,
        "preferred_slot": rng.choice(SLOTS),
        "address": "",
        "contact_phone": "",
        "commissioner_id": firm.commissioner,
        "requested_by_id": firm.user,
        "scheduled_for": scheduled,
        "schedule_note": "",
        "outcome": OUTCOMES[kind] if state == "done" else "",
        "cancel_reason": "企业已自行办理，取消预约。" if state == "cancelled" else "",
        "handled_by_id": firm.commissioner if state in ("scheduled", "done") else None,
        "created_at": created,
        "updated_at": created,
        "closed_at": created if state == "cancelled" else (_utc(scheduled) if scheduled else None),
        "version": 1,
    }


def _local_hour(moment: datetime, rng: random.Random) -> datetime:
    """A working hour on the Shanghai date of ``moment`` (naive UTC), in local time."""
    day = (moment + SHANGHAI_OFFSET).date()
    return datetime.combine(day, time(rng.choice((9, 10, 14, 15, 16))))


def _utc(local: datetime) -> datetime:
    return local - SHANGHAI_OFFSET


def _featured_requests(world: World, now: datetime) -> list[dict[str, Any]]:
    """demo-firm: an on-site visit waiting and an appointment agreed; demo-firm2: an
    errand done last month."""
    rows = []
    first = world.featured_firms.get("demo-firm")
    if first is not None:
        waiting = _service_row(random.Random(1), first, now, kind="onsite", age=1)
        waiting.update(state="requested", scheduled_for=None, outcome="", closed_at=None)
        waiting.update(handled_by_id=None, details=REQUESTS["onsite"][0])
        agreed = _service_row(random.Random(2), first, now, kind="appointment", age=3)
        agreed.update(
            state="scheduled", outcome="", closed_at=None, details=REQUESTS["appointment"][0]
        )
        agreed.update(
            scheduled_for=_local_hour(now + timedelta(days=2), random.Random(4)),
            schedule_note="请带营业执照复印件。",
        )
        rows += [waiting, agreed]
    second = world.featured_firms.get("demo-firm2")
    if second is not None:
        done = _service_row(random.Random(3), second, now, kind="errand", age=30)
        done.update(state="done", cancel_reason="", details=REQUESTS["errand"][1])
        done.update(
            scheduled_for=_local_hour(now - timedelta(days=27), random.Random(5)),
            outcome=OUTCOMES["errand"],
            closed_at=now - timedelta(days=27),
            handled_by_id=second.commissioner,
        )
        rows.append(done)
    return rows


def _profile_changes(rng: random.Random, firms: list[DemoFirm], now: datetime) -> int:
    if not firms:
        return 0
    ids = [f.id for f in firms]
    stored = {
        i: n for i, n in db.session.execute(select(Firm.id, Firm.employees).where(Firm.id.in_(ids)))
    }
    rows = []
    for firm in firms:
        old = stored.get(firm.id)
        new = (old or 20) + rng.randrange(5, 60)
        rows.append(
            {
                "firm_id": firm.id,
                "changes": {"employees": {"from": old, "to": new}},
                "note": "今年新招了一批研发人员，请更新员工人数。",
                "state": "pending",
                "proposed_by_id": firm.user,
                "created_at": now - timedelta(days=rng.randrange(0, 10), hours=rng.randrange(12)),
                "review_note": "",
            }
        )
    db.session.execute(insert(ProfileChange), rows)
    return len(rows)


SIGNUP_PEOPLE = (("李明", "人事经理"), ("王静", "行政主管"), ("张伟", "财务负责人"))


def _signups(rng: random.Random, world: World, plan: DemoPlan, now: datetime) -> int:
    """People of firms in the demo street without an account yet, waiting for approval."""
    candidates = [f for f in world.street_firms if f.user is None][: len(SIGNUP_PEOPLE)]
    if not candidates:
        return 0
    # Nobody logs in with these before approval; one hash serves them all.
    password_hash = hash_password(f"demo-signup-{plan.seed}-{rng.random()}")
    rows = [
        {
            "firm_id": firm.id,
            "person_name": name,
            "job_title": title,
            "phone": f"1390000{1000 + i:04d}",
            "email": "",
            "username": f"signup-{firm.id}",
            "password_hash": password_hash,
            "state": "pending",
            "created_at": now - timedelta(hours=3 + 20 * i),
            "review_note": "",
        }
        for i, (firm, (name, title)) in enumerate(zip(candidates, SIGNUP_PEOPLE, strict=False))
    ]
    db.session.execute(insert(SignupRequest), rows)
    return len(rows)
