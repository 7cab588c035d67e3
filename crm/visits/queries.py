"""Reading visits: the ledger (台账) with its filters, a firm's history, and the firms
overdue for a visit, each as SQL with a fixed number of statements whatever the rows."""

from dataclasses import dataclass
from datetime import date

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import Date, Select, exists, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.functions import FunctionElement

from crm.auth.models import User
from crm.auth.permissions import firm_scope, visit_scope
from crm.demands.ledger import shanghai_date
from crm.extensions import db
from crm.firms.models import Assignment, Firm
from crm.org.models import Street
from crm.visits import cadence as rules
from crm.visits.models import CADENCE_TIERS, NO_TIER, Visit, VisitCadence, VisitParticipant

# -- the ledger ------------------------------------------------------------------------------


@dataclass
class VisitFilter:
    q: str = ""  # a word of the firm's name
    visited_from: date | None = None
    visited_to: date | None = None
    street_id: int | None = None
    commissioner_id: int | None = None
    method: str | None = None
    joint_only: bool = False
    tier: str | None = None  # a tier code, or "none" (the firm's current tier)


def ledger_query(user: User, f: VisitFilter) -> Select:
    """The visits ``user`` may see narrowed by ``f``, newest first. No loading options."""
    stmt = select(Visit).where(visit_scope(user))
    if q := f.q.strip():
        stmt = stmt.where(Visit.firm.has(Firm.name.icontains(q, autoescape=True)))
    if f.visited_from:
        stmt = stmt.where(Visit.visited_on >= f.visited_from)
    if f.visited_to:
        stmt = stmt.where(Visit.visited_on <= f.visited_to)
    if f.street_id:
        stmt = stmt.where(Visit.street_id == f.street_id)
    if f.commissioner_id:
        stmt = stmt.where(Visit.commissioner_id == f.commissioner_id)
    if f.method:
        stmt = stmt.where(Visit.method == f.method)
    if f.joint_only:
        stmt = stmt.where(Visit.joint.is_(True))
    if f.tier == NO_TIER:
        stmt = stmt.where(Visit.firm.has(Firm.tier.is_(None)))
    elif f.tier:
        stmt = stmt.where(Visit.firm.has(Firm.tier == f.tier))
    return stmt.order_by(Visit.visited_on.desc(), Visit.id.desc())


def with_ledger_loading(stmt: Select) -> Select:
    """The row with its firm, street and commissioner joined; participants and demands in
    one statement each."""
    return stmt.options(
        joinedload(Visit.firm, innerjoin=True),
        joinedload(Visit.street, innerjoin=True),
        joinedload(Visit.commissioner, innerjoin=True),
        selectinload(Visit.participants),
        selectinload(Visit.demands),
    )


def recent_visits(firm_id: int, limit: int = 10, *, user: User | None = None) -> list[Visit]:
    """A firm's latest visits, newest first; only those ``user`` may see when given."""
    stmt = select(Visit).where(Visit.firm_id == firm_id)
    if user is not None:
        stmt = stmt.where(visit_scope(user))
    stmt = (
        stmt.order_by(Visit.visited_on.desc(), Visit.id.desc())
        .limit(limit)
        .options(
            joinedload(Visit.commissioner),
            selectinload(Visit.participants),
            selectinload(Visit.demands),
        )
    )
    return list(db.session.scalars(stmt))


def load_visit(visit_id: int) -> Visit | None:
    return db.session.scalar(
        select(Visit)
        .where(Visit.id == visit_id)
        .options(
            joinedload(Visit.firm),
            joinedload(Visit.street),
            joinedload(Visit.commissioner),
            joinedload(Visit.created_by),
            selectinload(Visit.participants).options(
                joinedload(VisitParticipant.user), joinedload(VisitParticipant.department)
            ),
            selectinload(Visit.demands),
        )
    )


# -- cadence and the courtesy limit --------------------------------------------------------


def cadence_for(tier: str | None) -> rules.Cadence:
    row = db.session.get(VisitCadence, rules.cadence_key(tier))
    if row is None:  # the migration seeds every tier; a missing row must not hide firms
        row = db.session.get(VisitCadence, rules.cadence_key(None))
    return rules.Cadence(row.longest_interval_days, row.courtesy_limit)


def all_cadences() -> list[VisitCadence]:
    rows = {c.tier: c for c in db.session.scalars(select(VisitCadence))}
    return [rows[t] for t in CADENCE_TIERS if t in rows]


def unrequested_visit_dates(
    firm_id: int, around: date, *, excluding: int | None = None
) -> list[date]:
    start, end = rules.courtesy_span(around)
    stmt = select(Visit.visited_on).where(
        Visit.firm_id == firm_id,
        Visit.requested_by_firm.is_(False),
        Visit.visited_on.between(start, end),
    )
    if excluding is not None:
        stmt = stmt.where(Visit.id != excluding)
    return list(db.session.scalars(stmt))


def courtesy_warning(firm: Firm, on: date, *, excluding: int | None = None) -> bool:
    """Would an unrequested visit to ``firm`` on ``on`` exceed its tier's courtesy limit?"""
    dates = unrequested_visit_dates(firm.id, on, excluding=excluding)
    return rules.breaks_courtesy(dates, cadence_for(firm.tier), on=on)


# -- cadence: firms overdue for a visit --------------------------------------------------------


class add_days(FunctionElement):
    """A date column plus a whole number of days (another column), as a date."""

    type = Date()
    inherit_cache = True


@compiles(add_days)
def _add_days_default(element, compiler, **kw):
    day, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({day} AS DATE) + {days})"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({day}, '+' || {days} || ' days')"


@dataclass
class OverdueFilter:
    commissioner: str = ""  # "", "mine", "none" or a commissioner's id
    street_id: int | None = None
    tier: str | None = None  # a tier code or "none"


def _overdue_parts():
    last = (
        select(Visit.firm_id, func.max(Visit.visited_on).label("last_visited_on"))
        .group_by(Visit.firm_id)
        .subquery("last_visit")
    )
    primary = (
        select(Assignment.firm_id, Assignment.commissioner_id, Assignment.started_at)
        .where(Assignment.role == "primary", Assignment.ended_at.is_(None))
        .subquery("primary_assignment")
    )
    # cadence.since: the current primary assignment's first day, else the firm's record's.
    since = func.coalesce(shanghai_date(primary.c.started_at), shanghai_date(Firm.created_at))
    start = func.coalesce(last.c.last_visited_on, since)
    due = add_days(start, VisitCadence.longest_interval_days)
    return last, primary, due


def _overdue_select(user: User, f: OverdueFilter, *, today: date) -> Select:
    """The active firms in ``user``'s scope whose next visit was due before ``today``,
    narrowed by ``f``: firm, last visit, due date and primary commissioner, most overdue
    first. Other columns can be chosen with ``with_only_columns``."""
    last, primary, due = _overdue_parts()
    stmt = (
        select(Firm, last.c.last_visited_on, due.label("due_on"), User)
        .select_from(Firm)
        .join(VisitCadence, VisitCadence.tier == func.coalesce(Firm.tier, NO_TIER))
        .outerjoin(last, last.c.firm_id == Firm.id)
        .outerjoin(primary, primary.c.firm_id == Firm.id)
        .outerjoin(User, User.id == primary.c.commissioner_id)
        .join(Street, Street.id == Firm.street_id)
        .where(firm_scope(user), Firm.status == "active", due < today)
    )
    if f.street_id:
        stmt = stmt.where(Firm.street_id == f.street_id)
    if f.tier == NO_TIER:
        stmt = stmt.where(Firm.tier.is_(None))
    elif f.tier:
        stmt = stmt.where(Firm.tier == f.tier)
    if f.commissioner == "none":
        stmt = stmt.where(primary.c.commissioner_id.is_(None))
    elif f.commissioner:
        who = user.id if f.commissioner == "mine" else int(f.commissioner)
        # As "my firms": any current assignment, primary or backup.
        stmt = stmt.where(
            exists().where(
                Assignment.firm_id == Firm.id,
                Assignment.commissioner_id == who,
                Assignment.ended_at.is_(None),
            )
        )
    return stmt.order_by(due, Firm.name, Firm.id)


def overdue_query(user: User, f: OverdueFilter, *, today: date) -> Select:
    """Rows of (Firm, last_visited_on, due_on, primary commissioner or None)."""
    return _overdue_select(user, f, today=today).options(joinedload(Firm.street))


@dataclass
class OverdueCounts:
    total: int
    by_commissioner: list[tuple[str | None, int]]  # (name, or None for no commissioner)
    by_street: list[tuple[str, int]]
    by_tier: list[tuple[str | None, int]]  # (tier code, or None)


def overdue_counts(user: User, f: OverdueFilter, *, today: date) -> OverdueCounts:
    """How many firms are overdue per commissioner, street and tier: one grouped statement."""
    stmt = (
        _overdue_select(user, f, today=today)
        .with_only_columns(User.id, User.display_name, Street.name, Firm.tier, func.count(Firm.id))
        .group_by(User.id, User.display_name, Street.name, Firm.tier)
        .order_by(None)
    )
    people: dict[int | None, list] = {}
    streets: dict[str, int] = {}
    tiers: dict[str | None, int] = {}
    total = 0
    for user_id, name, street, tier, n in db.session.execute(stmt):
        people.setdefault(user_id, [name, 0])[1] += n
        streets[street] = streets.get(street, 0) + n
        tiers[tier] = tiers.get(tier, 0) + n
        total += n

    def biggest(pairs):
        return sorted(pairs, key=lambda p: (-p[1], str(p[0] or "")))

    return OverdueCounts(
        total=total,
        by_commissioner=biggest((name, n) for name, n in people.values()),
        by_street=biggest(streets.items()),
        by_tier=biggest(tiers.items()),
    )


class RowPagination(SelectPagination):
    """``db.paginate`` for a select of several entities: the page's items are rows."""

    def _query_items(self) -> list:
        select_ = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select_).all())


def paginate_rows(stmt: Select, *, page: int | None, per_page: int) -> RowPagination:
    return RowPagination(
        select=stmt,
        session=db.session(),
        page=page,
        per_page=per_page,
        max_per_page=200,
        error_out=False,
    )
