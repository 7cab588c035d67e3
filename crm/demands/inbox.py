"""A user's own in-app notifications: the list, the unread count, marking them read.

Every function takes the user and filters on it, so no caller can reach someone else's
notification by its id. The rows themselves are written by ``crm.demands.notify``.
"""

from sqlalchemy import Select, func, select, update

from crm.auth.models import User
from crm.demands.models import Notification
from crm.extensions import db
from crm.timeutil import utcnow


def notification_query(user: User, *, unread_only: bool = False) -> Select:
    """``user``'s notifications, newest first."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def own_notification(user: User, notification_id: int) -> Notification | None:
    """The notification if it is ``user``'s, else None (whether or not it exists)."""
    return db.session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user.id
        )
    )


def mark_read(notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = utcnow()


def mark_all_read(user: User) -> int:
    """Mark every unread notification of ``user`` read; how many there were."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
