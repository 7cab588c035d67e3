"""One policy against every firm: the candidate list and its Excel export, and the
editor's preview of how many firms each criterion keeps.

Both are computed when asked, from the firms' data and the policy as they are now
(``crm.policies.matching``), so they are always current.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import ColumnElement, select

from crm.extensions import db
from crm.firms.models import Firm
from crm.policies import matching, queries
from crm.policies.catalog import EXPIRED, NOT_YET, RETIRED, status_of
from crm.policies.forms import CANDIDATE_OUTCOMES
from crm.policies.models import Policy
from crm.spreadsheets import ledger_workbook
from crm.timeutil import local_time

# (header, key, width): the file is in Chinese whatever the reader's interface language.
COLUMNS = (
    ("企业名称", "name", 34),
    ("统一社会信用代码", "uscc", 21),
    ("所属街镇", "street", 14),
    ("匹配结果", "outcome", 12),
    ("说明", "summary", 40),
    ("逐项依据", "reasons", 80),
)


@dataclass
class CandidateList:
    """The firms ``policy`` finds on ``on`` among those a user may see."""

    policy: Policy
    on: date
    matches: list[matching.Match] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def in_force(self) -> bool:
        return self.policy.in_force(self.on)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def candidate_list(
    policy: Policy, on: date, *, scope: ColumnElement[bool], outcome: str | None = None
) -> CandidateList:
    """The eligible, pending-review and near-miss firms within ``scope``, those of
    ``outcome`` alone when given, best outcome first, then by name; ``counts`` holds every
    outcome's number whatever the filter."""
    found = queries.candidates(policy, on, where=scope, outcomes=CANDIDATE_OUTCOMES)
    counts = dict.fromkeys(CANDIDATE_OUTCOMES, 0)
    for match in found:
        counts[match.outcome] += 1
    if outcome in CANDIDATE_OUTCOMES:
        found = [m for m in found if m.outcome == outcome]
    found.sort(key=lambda m: (CANDIDATE_OUTCOMES.index(m.outcome), m.firm.name, m.firm.id))
    return CandidateList(policy=policy, on=on, matches=found, counts=counts)


def not_in_force_reason(policy: Policy, on: date) -> str:
    """Why the policy finds no firm on ``on``."""
    status = status_of(policy, on)
    if status == RETIRED:
        return str(
            _l(
                "This policy was retired on %(day)s (%(reason)s): it applies to no firm.",
                day=local_time(policy.retired_at).date().isoformat(),
                reason=policy.retire_reason,
            )
        )
    if status == NOT_YET:
        return str(
            _l(
                "This policy takes effect on %(day)s: on %(on)s it applies to no firm yet.",
                day=policy.effective_from.isoformat(),
                on=on.isoformat(),
            )
        )
    if status == EXPIRED:
        return str(
            _l(
                "This policy ended on %(day)s: on %(on)s it applies to no firm.",
                day=policy.effective_to.isoformat(),
                on=on.isoformat(),
            )
        )
    return ""


class ListPagination(Pagination):
    """``db.paginate``'s page for a list already in memory."""

    def _query_items(self) -> list:
        items = self._query_args["items"]
        return items[self._query_offset : self._query_offset + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["items"])


def paginate(items: list, *, page: int | None, per_page: int) -> ListPagination:
    return ListPagination(
        page=page or 1, per_page=per_page, max_per_page=200, error_out=False, items=items
    )


# -- the Excel export -------------------------------------------------------------------------


def export_candidates(
    found: CandidateList, *, scope: ColumnElement[bool]
) -> tuple[io.BytesIO, int]:
    """The candidate list as a workbook: for a 免申即享 policy, the firms to grant."""
    codes = dict(db.session.execute(select(Firm.id, Firm.uscc).where(scope)).all())
    streets = queries.street_names()
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        rows = [_cells(match, codes, streets) for match in found.matches]
    return ledger_workbook("候选企业", COLUMNS, rows)


def _cells(match: matching.Match, codes: dict[int, str], streets: dict[int, str]) -> list:
    values: dict[str, Any] = {
        "name": match.firm.name,
        "uscc": codes.get(match.firm.id, ""),
        "street": streets.get(match.firm.street_id, ""),
        "outcome": str(matching.OUTCOME_LABELS[match.outcome]),
        "summary": matching.summary(match, streets=streets),
        "reasons": "\n".join(matching.explain(r, streets=streets) for r in match.reasons),
    }
    return [values[key] or None for _h, key, _w in COLUMNS]


# -- the editor's preview ---------------------------------------------------------------------


@dataclass
class CriterionCount:
    kept: int = 0  # firms that meet this criterion, on its own
    unknown: int = 0  # firms whose data for it is missing
    remaining: int = 0  # firms that meet it and every criterion above it


def preview_counts(
    criteria: Sequence[matching.Criterion | None], on: date
) -> tuple[int, list[CriterionCount | None]]:
    """The number of active firms, and for each criterion (None for a row that cannot be
    used yet, which counts nothing and keeps everyone) how many firms it keeps. A firm
    whose data is missing is not kept: it is counted as unknown."""
    counts = [CriterionCount() if c is not None else None for c in criteria]
    total = 0
    for facts in queries.iter_facts():
        total += 1
        alive = True
        for criterion, count in zip(criteria, counts, strict=True):
            if criterion is None or count is None:
                continue
            status = matching.check(criterion, facts, on).status
            if status == matching.MET:
                count.kept += 1
            elif status == matching.UNKNOWN:
                count.unknown += 1
            alive = alive and status == matching.MET
            if alive:
                count.remaining += 1
    return total, counts
