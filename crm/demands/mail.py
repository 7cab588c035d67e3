"""Notifications by email when mail is configured (``MAIL_SERVER``), in the log otherwise.

Why session events rather than a ``deliver_pending()`` each caller must remember: a
notification is written by many services, in requests, CLI commands and jobs alike, and
must go out only if the transaction that wrote it commits. So the session hears of every
new ``Notification`` when it is flushed (or, for rows inserted in bulk, from
``send_after_commit``) and hands their ids over once the outermost transaction has
committed; a rollback forgets them. Nobody has to call anything, and a rolled-back action
never sends.

Delivery happens after the commit, on a connection of its own, and never raises: an SMTP
server that is down or refuses a message is logged (logger ``crm.mail``), the action that
caused the notification has already succeeded. With ``REDIS_URL`` set as well, the
sending is handed to an RQ worker (``crm.demands.jobs.deliver_job``) so that a request
never waits on the mail server. ``emailed_at`` records what was sent.

Without ``MAIL_SERVER`` each notification becomes one INFO line of ``crm.mail`` instead.
"""

import logging
import smtplib
import ssl
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import Flask, current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from crm.auth.models import User
from crm.demands.models import Notification
from crm.extensions import db
from crm.timeutil import utcnow

logger = logging.getLogger("crm.mail")

SMTP_TIMEOUT = 20  # seconds: a mail server that hangs must not hold a worker forever
SUBJECT_LENGTH = 60
_CHUNK = 500  # ids per query
_PENDING = "crm.mail.pending"  # session.info key: notification ids waiting for the commit
_listening = False


def init_app(app: Flask) -> None:
    """Listen to the sessions' commits (once per process, for every app)."""
    global _listening
    # Without mail, the log is the delivery: its lines must show without a logging setup.
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if _listening:
        return
    event.listen(db.session, "after_flush", _collect)
    event.listen(db.session, "after_commit", _after_commit)
    event.listen(db.session, "after_transaction_end", _forget)
    _listening = True


def send_after_commit(session: Session, ids: Iterable[int]) -> None:
    """Deliver the notifications ``ids`` once ``session``'s transaction commits; for rows
    inserted without the ORM, which the flush does not see."""
    session.info.setdefault(_PENDING, []).extend(ids)


def _collect(session: Session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, Notification)]
    if ids:
        send_after_commit(session, ids)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the outer transaction may still roll back
    ids = session.info.pop(_PENDING, None)
    if ids:
        dispatch(list(dict.fromkeys(ids)))


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit
        session.info.pop(_PENDING, None)


def dispatch(ids: list[int]) -> None:
    """Deliver now, or hand the delivery to a worker; never raises."""
    try:
        config = current_app.config
        if config.get("MAIL_SERVER") and config.get("REDIS_URL"):
            from crm.demands.jobs import enqueue_delivery

            try:
                enqueue_delivery(ids)
                return
            except Exception:
                logger.exception("could not queue the mail of %s notifications", len(ids))
        deliver(ids)
    except Exception:
        logger.exception("could not deliver %s notifications", len(ids))


def deliver(ids: list[int]) -> int:
    """Email the notifications ``ids`` not yet emailed to their users who have an email
    address (or log them, without ``MAIL_SERVER``); the number emailed.

    Reads and writes on a connection of its own: it runs after the commit, when the
    session that wrote the notifications may not be used.
    """
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        if logger.isEnabledFor(logging.INFO):
            for row in _rows(ids, with_email_only=False):
                logger.info(
                    "notification %s to %s <%s> (%s): %s",
                    row.id,
                    row.username,
                    row.email or "no email",
                    row.kind,
                    row.message,
                )
        return 0
    rows = _rows(ids, with_email_only=True)
    if not rows:
        return 0
    sent: list[int] = []
    try:
        _send(rows, config, sent)
    finally:
        if sent:
            with db.engine.begin() as conn:
                for start in range(0, len(sent), _CHUNK):
                    conn.execute(
                        update(Notification)
                        .where(Notification.id.in_(sent[start : start + _CHUNK]))
                        .values(emailed_at=utcnow())
                    )
    return len(sent)


def _rows(ids: list[int], *, with_email_only: bool) -> list:
    rows = []
    with db.engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            stmt = (
                select(
                    Notification.id,
                    Notification.kind,
                    Notification.message,
                    User.username,
                    User.email,
                )
                .join(User, User.id == Notification.user_id)
                .where(
                    Notification.id.in_(ids[start : start + _CHUNK]),
                    Notification.emailed_at.is_(None),
                )
                .order_by(Notification.id)
            )
            if with_email_only:
                stmt = stmt.where(User.email != "")
            rows.extend(conn.execute(stmt))
    return rows


def _send(rows: list, config, sent: list[int]) -> None:
    """Send over one SMTP connection; ``sent`` collects the ids sent, even if it fails."""
    sender = config.get("MAIL_DEFAULT_SENDER") or "crm@localhost"
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        for row in rows:
            try:
                smtp.send_message(_message(row, sender))
            except smtplib.SMTPServerDisconnected:
                raise
            except (smtplib.SMTPException, ValueError, UnicodeError) as exc:
                # This address or message was refused; the others still go.
                logger.warning("notification %s to <%s> not sent: %s", row.id, row.email, exc)
                continue
            sent.append(row.id)


def _message(row, sender: str) -> EmailMessage:
    text = " ".join(row.message.split())  # no line breaks in a header
    subject = text if len(text) <= SUBJECT_LENGTH else text[: SUBJECT_LENGTH - 1] + "…"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = row.email
    msg["Date"] = formatdate(localtime=False)
    # A domain of our own: without one, make_msgid asks the DNS for this host's name.
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    msg.set_content(row.message)
    return msg
