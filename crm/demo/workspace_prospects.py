"""Demo prospects (待落户): a few per street, the demo street first; some registered and
became one of the firms recorded within the year, some were dropped with a reason."""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from crm.assistance.models import Prospect
from crm.demo import names
from crm.demo.workspace import Workspace, WsFirm, insert_returning, local_date
from crm.demo.workspace_texts import PROSPECT_DROP_REASONS, PROSPECT_NOTES, PROSPECT_SOURCES
from crm.firms.industries import DIVISIONS

PROSPECTS_PER_FIRM = 1 / 150
# Registered, open and dropped, in turn: every scale has each.
PROSPECT_STATES = ("open", "registered", "open", "dropped", "open", "registered", "open", "open")


@dataclass
class WsProspect:
    id: int
    state: str
    street_id: int
    owner: int
    created: date
    firm: WsFirm | None  # registered: the firm it became
    registered_on: date | None
    dropped_on: date | None
    drop_reason: str


def load_prospects(ws: Workspace, counts: Counter[str]) -> list[WsProspect]:
    rng = random.Random(f"demo:{ws.plan.seed}:prospects")
    total = max(8, round(ws.plan.firm_count * PROSPECTS_PER_FIRM))
    streets = [ws.world.demo_street] + [
        sid for sid in ws.street_names if sid != ws.world.demo_street
    ]
    year_ago = ws.now - timedelta(days=365)
    newcomers = defaultdict(list)  # street -> firms recorded within the year, not yet taken
    for firm in ws.firms:
        if firm.created_at >= year_ago and ws.current_primary(firm.id):
            newcomers[firm.street_id].append(firm)
    divisions = list(DIVISIONS)
    taken: set[str] = set()
    rows, plans = [], []
    for i in range(total):
        # The demo street first, twice, then round the district.
        street_id = streets[0] if i < 2 else streets[(i - 2) % len(streets)]
        state = PROSPECT_STATES[i % len(PROSPECT_STATES)]
        firm = None
        if state == "registered":
            pool = newcomers[street_id]
            firm = pool.pop(rng.randrange(len(pool))) if pool else None
            state = "registered" if firm else "open"
        commissioners = ws.world.commissioners.get(street_id) or [ws.world.office[0]]
        if firm is not None:
            owner = ws.current_primary(firm.id)
            registered = firm.created_at
            created = registered - timedelta(days=rng.randint(30, 150), hours=rng.randrange(9))
            name, industry = firm.name, firm.industry_code
        else:
            owner = (
                ws.demo_commissioner
                if street_id == ws.world.demo_street and ws.demo_commissioner
                else rng.choice(commissioners)
            )
            registered = None
            created = ws.now - timedelta(days=rng.randint(5, 300), hours=rng.randrange(9))
            division = rng.choice(divisions)
            name = names.company_name(
                rng, division, foreign=rng.random() < 0.2, joint_stock=False, taken=taken
            )
            industry = division
        dropped_on = None
        reason = ""
        if state == "dropped":
            span = max(1, (ws.now - created).days)
            dropped_on = local_date(created) + timedelta(days=rng.randint(1, span))
            reason = rng.choice(PROSPECT_DROP_REASONS)
        rows.append(
            {
                "name": name,
                "street_id": street_id,
                "industry_code": industry,
                "contact_name": names.person_name(rng),
                "contact_phone": names.mobile(rng),
                "source": rng.choice(PROSPECT_SOURCES),
                "notes": rng.choice(PROSPECT_NOTES),
                "owner_id": owner,
                "state": state,
                "firm_id": firm.id if firm else None,
                "registered_at": registered,
                "drop_reason": reason,
                "created_by_id": owner,
                "created_at": created,
                "version": 1,
            }
        )
        plans.append((state, street_id, owner, local_date(created), firm, dropped_on, reason))
    ids = insert_returning(Prospect, rows)
    counts["prospects"] += len(ids)
    prospects = []
    for id_, (state, street_id, owner, created, firm, dropped_on, reason) in zip(
        ids, plans, strict=True
    ):
        counts[f"{state}_prospects"] += 1
        prospects.append(
            WsProspect(
                id=id_,
                state=state,
                street_id=street_id,
                owner=owner,
                created=created,
                firm=firm,
                registered_on=local_date(firm.created_at) if firm else None,
                dropped_on=dropped_on,
                drop_reason=reason,
            )
        )
    return prospects
