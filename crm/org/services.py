"""Questions about the district's organisation that several domains ask."""

from sqlalchemy import select

from crm.auth.models import User
from crm.extensions import db
from crm.org.models import Street


def streets_for(user: User) -> list[Street]:
    """The active streets ``user`` works in: its own, or all of them for district-wide roles."""
    stmt = select(Street).where(Street.active.is_(True)).order_by(Street.code)
    if user.role in ("street", "commissioner"):
        stmt = stmt.where(Street.id == user.street_id)
    return list(db.session.scalars(stmt))
