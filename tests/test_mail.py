"""Notifications by email (crm.demands.mail), against a small SMTP server run by the test,
and in the log when no mail server is configured."""

import email
import email.policy
import logging
import socketserver
import threading

import pytest
from sqlalchemy import select

from crm.demands import notify
from crm.demands.models import Notification
from crm.extensions import db


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT; no STARTTLS."""

    def handle(self):
        reply = self.wfile.write
        reply(b"220 sink ESMTP\r\n")
        sender, recipients, lines, in_data = None, [], [], False
        while line := self.rfile.readline():
            if in_data:
                if line == b".\r\n":
                    self.server.messages.append((sender, recipients, b"".join(lines)))
                    sender, recipients, lines, in_data = None, [], [], False
                    reply(b"250 queued\r\n")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                reply(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                sender = line.split(b":", 1)[1].strip().decode()
                reply(b"250 ok\r\n")
            elif verb == b"RCPT":
                address = line.split(b":", 1)[1].strip().decode()
                if "refused" in address:
                    reply(b"550 no such user\r\n")
                else:
                    recipients.append(address)
                    reply(b"250 ok\r\n")
            elif verb == b"DATA":
                in_data = True
                reply(b"354 go on\r\n")
            elif verb == b"QUIT":
                reply(b"221 bye\r\n")
                return
            else:  # HELO, RSET, NOOP, STARTTLS...: only RSET and NOOP are understood
                reply(b"250 ok\r\n" if verb in (b"RSET", b"NOOP") else b"502 not here\r\n")


class _Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: list[tuple[str, list[str], bytes]] = []


@pytest.fixture
def smtp_sink(app):
    sink = _Sink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=sink.server_address[1],
        MAIL_USE_TLS=False,
        MAIL_DEFAULT_SENDER="服务包系统 <crm@district.example.cn>",
    )
    yield sink
    app.config["MAIL_SERVER"] = None
    sink.shutdown()
    sink.server_close()
    thread.join(timeout=5)


@pytest.fixture
def demand(make_demand):
    return make_demand()


def _notify(users, demand, message="诉求 SQ1 已派发给您，请于 2026-03-16 前办结。"):
    notify.notify(users, "dispatched", demand, message)


def _notifications(user) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)))


def test_a_committed_notification_is_emailed(smtp_sink, make_user, demand):
    handler = make_user("department", email="handler@district.example.cn")
    without_email = make_user("department", email="")
    _notify([handler, without_email], demand)
    assert smtp_sink.messages == []  # nothing before the commit
    db.session.commit()

    assert len(smtp_sink.messages) == 1
    sender, recipients, raw = smtp_sink.messages[0]
    assert recipients == ["<handler@district.example.cn>"]
    assert sender == "<crm@district.example.cn>"
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "handler@district.example.cn"
    assert message["Subject"].startswith("诉求 SQ1 已派发给您")
    assert "2026-03-16 前办结" in message.get_content()
    (sent,) = _notifications(handler)
    assert sent.emailed_at is not None
    (kept,) = _notifications(without_email)
    assert kept.emailed_at is None  # no address: in-app only


def test_a_rolled_back_notification_is_never_sent(smtp_sink, make_user, demand):
    handler = make_user("department", email="handler@district.example.cn")
    _notify([handler], demand)
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert smtp_sink.messages == []


def test_a_refused_address_does_not_stop_the_others(smtp_sink, make_user, demand, caplog):
    refused = make_user("department", email="refused@district.example.cn")
    handler = make_user("department", email="handler@district.example.cn")
    _notify([refused, handler], demand)
    with caplog.at_level(logging.WARNING, logger="crm.mail"):
        db.session.commit()
    assert [r for _s, r, _m in smtp_sink.messages] == [["<handler@district.example.cn>"]]
    assert "refused@district.example.cn" in caplog.text
    assert _notifications(refused)[0].emailed_at is None
    assert _notifications(handler)[0].emailed_at is not None


def test_a_mail_server_failure_never_breaks_the_action(app, smtp_sink, make_user, demand, caplog):
    app.config["MAIL_USE_TLS"] = True  # the sink offers no STARTTLS: every send fails
    handler = make_user("department", email="handler@district.example.cn")
    _notify([handler], demand)
    with caplog.at_level(logging.ERROR, logger="crm.mail"):
        db.session.commit()  # does not raise
    assert "could not deliver" in caplog.text
    (kept,) = _notifications(handler)  # committed all the same, not marked as emailed
    assert kept.emailed_at is None


def test_without_a_mail_server_each_notification_is_a_log_line(app, make_user, demand, caplog):
    assert not app.config["MAIL_SERVER"]
    handler = make_user("department", username="handler-li", email="li@district.example.cn")
    other = make_user("department", username="handler-wang")
    _notify([handler, other], demand, message="请尽快办理诉求 SQ2")
    with caplog.at_level(logging.INFO, logger="crm.mail"):
        db.session.commit()
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.mail"]
    assert len(lines) == 2
    assert "handler-li" in lines[0] and "li@district.example.cn" in lines[0]
    assert "请尽快办理诉求 SQ2" in lines[0]
    assert "handler-wang" in lines[1]
    assert all(n.emailed_at is None for n in _notifications(handler))


def test_the_sweeps_bulk_notifications_go_out_too(smtp_sink, make_user, make_demand):
    """Rows the sweep inserts without the ORM are handed over with send_after_commit."""
    from datetime import date

    from crm.demands.sweep import run_sweep

    office = make_user("office", email="office@district.example.cn")
    demand = make_demand(actor=office)
    demand.accept_due_on = date(2026, 3, 13)
    db.session.commit()
    smtp_sink.messages.clear()
    run_sweep(on=date(2026, 3, 16), commit=db.session.commit)
    assert [r for _s, r, _m in smtp_sink.messages] == [["<office@district.example.cn>"]]
    message = email.message_from_bytes(smtp_sink.messages[0][2], policy=email.policy.default)
    assert demand.number in message.get_content()


def test_with_redis_the_mail_goes_through_a_worker(smtp_sink, app, make_user, demand, monkeypatch):
    """MAIL_SERVER and REDIS_URL: the commit queues the delivery, a worker sends it."""
    import uuid

    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown
    from rq import Queue, SimpleWorker

    from crm.demands import jobs

    connection = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        connection.ping()
    except RedisDown:
        pytest.skip("no Redis at 127.0.0.1:6379")
    name = f"crm-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(jobs, "QUEUE", name)
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    queue = Queue(name, connection=connection)
    job_ids: list[str] = []
    try:
        handler = make_user("department", email="handler@district.example.cn")
        _notify([handler], demand)
        db.session.commit()
        assert smtp_sink.messages == []  # queued, not sent by the request
        job_ids.extend(queue.job_ids)
        assert len(job_ids) == 1
        jobs.run_worker([name], connection=connection, burst=True, worker_class=SimpleWorker)
        assert len(smtp_sink.messages) == 1
        assert _notifications(handler)[0].emailed_at is not None
    finally:
        app.config["REDIS_URL"] = None
        queue.delete(delete_jobs=True)
        for pattern in (f"*{name}*", *(f"*{job_id}*" for job_id in job_ids)):
            for key in connection.keys(pattern):
                connection.delete(key)
        connection.close()
