"""Bulk issuance: a background job that issues a package to every firm of a tier or a
street, resumes after an interruption without issuing twice, and offers one ZIP."""

import io
import random
import re
import threading
import uuid
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from crm.extensions import db
from crm.firms import uscc
from crm.firms.models import Firm
from crm.policies import bulk as service
from crm.policies import bulk_job, pdf
from crm.policies.models import BulkIssuance, PackageDocument, ServicePackage
from crm.policies.packages import PackageError
from crm.timeutil import utcnow
from tests.conftest import english, login, post_form

_rng = random.Random(20260306)
_used: set[str] = set()


@pytest.fixture(autouse=True)
def fake_render(monkeypatch):
    """Small stand-in PDFs: real rendering is checked once, at the end."""
    monkeypatch.setattr(
        pdf, "render_snapshot", lambda snapshot: b"%PDF-fake " + snapshot["firm"]["uscc"].encode()
    )


def add_firms(n: int, street, *, tier: str | None = "sector", status: str = "active") -> None:
    """``n`` firms in one statement, each with a valid, unused USCC."""
    rows = []
    for _ in range(n):
        code = uscc.generate(_rng)
        while code in _used:
            code = uscc.generate(_rng)
        _used.add(code)
        rows.append(
            {
                "name": f"上海批量{street.id}号科技有限公司{len(_used):05d}",
                "uscc": code,
                "street_id": street.id,
                "tier": tier,
                "status": status,
                "industry_code": "I65",
                "size": "small",
            }
        )
    db.session.execute(insert(Firm), rows)
    db.session.commit()


def join_jobs(bulk_id: int) -> None:
    """Wait for the in-process runs of the issuance (its threads) to end."""
    for thread in threading.enumerate():
        if thread.name == f"bulk-issuance-{bulk_id}":
            thread.join(timeout=300)
            assert not thread.is_alive()


def start(client, **data) -> int:
    """Post the start form; the new issuance's id."""
    form = {"tier": "", "street_id": "", "channel": "in_person", "as_of": "2026-03-06", **data}
    response = post_form(client, "/packages/bulk/new", form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/packages/bulk/(\d+)$", response.headers["Location"]).group(1))


def reload(bulk_id: int) -> BulkIssuance:
    db.session.expire_all()
    return db.session.get(BulkIssuance, bulk_id)


def packages_of(bulk_id: int) -> list[int]:
    """The firm ids of the issuance's packages (one entry per package)."""
    return list(
        db.session.scalars(select(ServicePackage.firm_id).where(ServicePackage.bulk_id == bulk_id))
    )


def crash_on(monkeypatch, call: int, error: BaseException) -> None:
    """Make the ``call``-th package issued raise ``error``, as a crash there would."""
    real, calls = bulk_job.issue, {"n": 0}

    def issue(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_job, "issue", issue)


@pytest.fixture
def street(make_street):
    return make_street(name="华阳路街道")


# -- the done-when: 1,000 firms, interrupted halfway, restarted ---------------------------


def test_a_thousand_firms_interrupted_halfway_and_resumed_get_exactly_one_package_each(
    client, login_as, street, make_street, monkeypatch
):
    add_firms(1000, street, tier="sector")
    # Outside the scope: another tier, and firms of the tier that moved out.
    add_firms(5, street, tier="local")
    add_firms(3, street, tier="sector", status="moved_out")
    login_as("office")
    crash_on(monkeypatch, 501, RuntimeError("the worker was killed"))

    bulk_id = start(client, tier="sector")
    join_jobs(bulk_id)
    bulk = reload(bulk_id)
    assert (bulk.status, bulk.total, bulk.issued, bulk.rendered) == ("failed", 1000, 500, 0)
    assert "the worker was killed" in bulk.error
    assert len(packages_of(bulk_id)) == 500
    english(client)
    page = client.get(f"/packages/bulk/{bulk_id}").get_data(as_text=True)
    assert "the worker was killed" in page and ">Resume issuing<" in page

    monkeypatch.undo()
    monkeypatch.setattr(pdf, "render_snapshot", lambda snapshot: b"%PDF-fake")
    response = post_form(
        client, f"/packages/bulk/{bulk_id}/resume", {}, form_url="/account/password"
    )
    assert response.status_code == 302
    join_jobs(bulk_id)

    bulk = reload(bulk_id)
    assert (bulk.status, bulk.total, bulk.issued, bulk.rendered) == ("done", 1000, 1000, 1000)
    firm_ids = packages_of(bulk_id)
    assert len(firm_ids) == len(set(firm_ids)) == 1000
    in_tier = set(
        db.session.scalars(select(Firm.id).where(Firm.tier == "sector", Firm.status == "active"))
    )
    assert set(firm_ids) == in_tier
    assert bulk.finished_at is not None and bulk.error == ""

    response = client.get(f"/packages/bulk/{bulk_id}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    response.close()  # the temporary file the ZIP was written to
    assert len(names) == len(set(names)) == 1000


def test_a_worker_that_died_leaves_a_running_issuance_offered_for_resume_once_stale(
    app, client, login_as, street, monkeypatch
):
    """A killed process runs no handler: the issuance stays "running" until its progress
    is old enough to tell it from a slow one."""

    class Killed(BaseException):
        pass

    add_firms(120, street)
    office = login_as("office")
    bulk = service.start(
        tier="sector", street_id=None, as_of=date(2026, 3, 6), channel="mail", actor=office
    )
    db.session.commit()
    crash_on(monkeypatch, 75, Killed())
    with pytest.raises(Killed):
        bulk_job.bulk_job(bulk.id, bulk.job_id)
    bulk = reload(bulk.id)
    assert (bulk.status, bulk.issued) == ("running", 50)
    english(client)
    status = client.get(f"/packages/bulk/{bulk.id}/status").get_json()
    assert status["resumable"] is False
    assert ">Resume issuing<" not in client.get(f"/packages/bulk/{bulk.id}").get_data(as_text=True)
    refused = post_form(
        client, f"/packages/bulk/{bulk.id}/resume", {}, form_url="/account/password"
    )
    assert refused.status_code == 409

    bulk.progress_at = utcnow() - service.STALE_AFTER - timedelta(seconds=1)
    db.session.commit()
    assert client.get(f"/packages/bulk/{bulk.id}/status").get_json()["resumable"] is True
    page = client.get(f"/packages/bulk/{bulk.id}").get_data(as_text=True)
    assert ">Resume issuing<" in page and "no progress for several minutes" in page

    monkeypatch.undo()
    monkeypatch.setattr(pdf, "render_snapshot", lambda snapshot: b"%PDF-fake")
    post_form(client, f"/packages/bulk/{bulk.id}/resume", {}, form_url="/account/password")
    join_jobs(bulk.id)
    bulk = reload(bulk.id)
    assert (bulk.status, bulk.issued, bulk.rendered) == ("done", 120, 120)
    assert len(set(packages_of(bulk.id))) == len(packages_of(bulk.id)) == 120


def test_a_run_replaced_by_a_resume_stops_without_committing_its_batch(
    app, login_as, street, monkeypatch
):
    add_firms(80, street)
    office = login_as("office")
    bulk = service.start(
        tier="sector", street_id=None, as_of=date(2026, 3, 6), channel="mail", actor=office
    )
    db.session.commit()
    bulk_id, old = bulk.id, bulk.job_id
    new = uuid.uuid4().hex
    real, calls = bulk_job.issue, {"n": 0}

    def issue(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 51:  # the second batch, before it writes
            # Someone resumed the issuance, thinking this run dead: a new run owns it.
            with db.engine.begin() as conn:
                conn.execute(
                    update(BulkIssuance)
                    .where(BulkIssuance.id == bulk_id)
                    .values(job_id=new, status="queued")
                )
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_job, "issue", issue)
    assert bulk_job.bulk_job(bulk_id, old) == {"claimed": False}
    assert len(packages_of(bulk_id)) == 50  # the second batch was rolled back

    # The old token can no longer start; the new one finishes the work.
    assert bulk_job.bulk_job(bulk_id, old) == {"claimed": False}
    assert bulk_job.bulk_job(bulk_id, new) == {"claimed": True, "issued": 80, "rendered": 80}
    assert bulk_job.bulk_job(bulk_id, new) == {"claimed": False}  # done: nothing to do twice
    assert len(set(packages_of(bulk_id))) == len(packages_of(bulk_id)) == 80


# -- the two ways the job runs --------------------------------------------------------------


def test_without_redis_the_request_returns_before_the_job_runs(
    client, login_as, street, monkeypatch
):
    add_firms(12, street)
    login_as("office")
    go = threading.Event()
    real_run = bulk_job.run

    def run(bulk_id, token):
        assert go.wait(30)
        return real_run(bulk_id, token)

    monkeypatch.setattr(bulk_job, "run", run)
    bulk_id = start(client, street_id=str(street.id))
    english(client)
    page = client.get(f"/packages/bulk/{bulk_id}").get_data(as_text=True)
    assert "Queued" in page and 'data-field="issued">0<' in page
    assert client.get(f"/packages/bulk/{bulk_id}/status").get_json()["status"] == "queued"
    go.set()
    join_jobs(bulk_id)
    assert (reload(bulk_id).status, reload(bulk_id).issued) == ("done", 12)
    page = client.get(f"/packages/bulk/{bulk_id}").get_data(as_text=True)
    assert "Download all PDFs (ZIP)" in page


@pytest.fixture
def redis_queue(app, monkeypatch):
    """A queue of its own in database 5 of the local Redis, removed afterwards."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown
    from rq import Queue

    from crm.demands import jobs

    url = "redis://127.0.0.1:6379/5"
    connection = Redis.from_url(url)
    try:
        connection.ping()
    except RedisDown:
        pytest.skip("no Redis at 127.0.0.1:6379")
    name = f"crm-test-bulk-{uuid.uuid4().hex}"
    monkeypatch.setattr(jobs, "QUEUE", name)
    app.config["REDIS_URL"] = url
    queue = Queue(name, connection=connection)
    yield queue
    app.config["REDIS_URL"] = None
    job_ids = queue.job_ids
    queue.delete(delete_jobs=True)
    for pattern in (f"*{name}*", *(f"*{job_id}*" for job_id in job_ids)):
        keys = connection.keys(pattern)
        if keys:
            connection.delete(*keys)
    connection.close()


def test_with_redis_an_rq_worker_runs_the_issuance(client, login_as, street, redis_queue):
    from rq import SimpleWorker
    from rq.job import Job

    from crm.demands import jobs

    add_firms(30, street)
    login_as("office")
    bulk_id = start(client, tier="sector", channel="meeting")
    bulk = reload(bulk_id)
    assert (bulk.status, bulk.issued) == ("queued", 0)  # queued for a worker, not run here
    job = Job.fetch(bulk.job_id, connection=redis_queue.connection)
    assert job.origin == redis_queue.name
    assert not any(t.name == f"bulk-issuance-{bulk_id}" for t in threading.enumerate())

    db.session.close()  # the worker disposes of the engine: give its connection back first
    jobs.run_worker(
        [redis_queue.name], connection=redis_queue.connection, burst=True, worker_class=SimpleWorker
    )
    job.refresh()
    assert job.is_finished, job.latest_result()
    assert job.return_value() == {"claimed": True, "issued": 30, "rendered": 30}
    bulk = reload(bulk_id)
    assert (bulk.status, bulk.issued, bulk.rendered) == ("done", 30, 30)
    channels = set(
        db.session.scalars(select(ServicePackage.channel).where(ServicePackage.bulk_id == bulk_id))
    )
    assert channels == {"meeting"}


def test_with_redis_down_the_issuance_fails_and_can_be_resumed(client, login_as, street, app):
    add_firms(3, street)
    login_as("office")
    english(client)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        bulk_id = start(client, tier="sector")
    finally:
        app.config["REDIS_URL"] = None
    bulk = reload(bulk_id)
    assert bulk.status == "failed" and "queue unavailable" in bulk.error
    assert "The job could not be queued" in client.get(f"/packages/bulk/{bulk_id}").get_data(
        as_text=True
    )
    post_form(client, f"/packages/bulk/{bulk_id}/resume", {}, form_url="/account/password")
    join_jobs(bulk_id)
    assert reload(bulk_id).issued == 3


# -- what the pages show ---------------------------------------------------------------------


def test_the_status_endpoint_reports_the_progress(client, login_as, street):
    office = login_as("office")
    add_firms(4, street)
    bulk = service.start(
        tier=None, street_id=street.id, as_of=date(2026, 3, 6), channel="mail", actor=office
    )
    bulk.status, bulk.issued, bulk.rendered = "running", 4, 1
    bulk.progress_at = utcnow()
    db.session.commit()
    data = client.get(f"/packages/bulk/{bulk.id}/status").get_json()
    assert data == {
        "id": bulk.id,
        "status": "running",
        "status_label": data["status_label"],
        "total": 4,
        "issued": 4,
        "rendered": 1,
        "percent": 62,  # issuing and rendering count half each: 5 of 8 steps
        "error": "",
        "resumable": False,
    }
    # The page without script shows the same numbers, and a way to refresh them.
    page = client.get(f"/packages/bulk/{bulk.id}").get_data(as_text=True)
    assert 'aria-valuenow="62"' in page and 'data-field="rendered">1<' in page
    assert f'href="/packages/bulk/{bulk.id}" data-field="refresh"' in page
    assert client.get(f"/packages/bulk/{bulk.id}/download").status_code == 409


def test_a_firm_that_cannot_have_a_package_is_reported_not_a_crash(
    client, login_as, street, monkeypatch
):
    add_firms(6, street)
    refused = db.session.scalars(select(Firm).order_by(Firm.id).limit(3)).all()[2]
    real = bulk_job.issue

    def issue(firm, **kwargs):
        if firm.id == refused.id:
            raise PackageError("Packages are issued to active firms only.")
        return real(firm, **kwargs)

    monkeypatch.setattr(bulk_job, "issue", issue)
    login_as("office")
    bulk_id = start(client, street_id=str(street.id))
    join_jobs(bulk_id)
    bulk = reload(bulk_id)
    assert (bulk.status, bulk.total, bulk.issued, bulk.rendered) == ("done", 6, 5, 5)
    assert refused.id not in packages_of(bulk_id)
    english(client)
    page = client.get(f"/packages/bulk/{bulk_id}").get_data(as_text=True)
    assert "Firms left without a package (1)" in page
    assert refused.name in page and "Packages are issued to active firms only." in page


def test_the_list_shows_the_users_issuances_a_page_at_a_time(
    app, client, login_as, make_street, make_user
):
    home, away = make_street(), make_street()
    add_firms(2, home)
    add_firms(2, away)
    office = login_as("office")
    for _ in range(27):
        service.start(
            tier=None, street_id=home.id, as_of=date(2026, 3, 6), channel="mail", actor=office
        )
    service.start(
        tier=None, street_id=away.id, as_of=date(2026, 3, 6), channel="mail", actor=office
    )
    db.session.commit()
    first = client.get("/packages/bulk/").get_data(as_text=True)
    assert first.count("data-bulk=") == 25
    assert client.get("/packages/bulk/?page=2").get_data(as_text=True).count("data-bulk=") == 3
    assert client.get("/packages/bulk/?status=done").get_data(as_text=True).count("data-bulk=") == 0

    street_client = app.test_client()
    login(street_client, make_user("street", street=home).username)
    page = street_client.get("/packages/bulk/?page=2").get_data(as_text=True)
    assert page.count("data-bulk=") == 2  # 27 of its street; not the other street's
    assert away.name not in page


def test_the_list_needs_a_fixed_number_of_statements(client, login_as, street, count_queries):
    add_firms(2, street)
    office = login_as("office")
    service.start(
        tier=None, street_id=street.id, as_of=date(2026, 3, 6), channel="mail", actor=office
    )
    db.session.commit()
    with count_queries() as few:
        client.get("/packages/bulk/")
    for _ in range(10):
        service.start(
            tier="sector", street_id=street.id, as_of=date(2026, 3, 6), channel="mail", actor=office
        )
    db.session.commit()
    with count_queries() as many:
        client.get("/packages/bulk/")
    assert len(many) == len(few)


# -- the form and who may use it -------------------------------------------------------------


def test_the_form_starts_as_of_today_and_explains_what_is_missing(client, login_as, street):
    from crm.workcal.services import today

    login_as("office")
    english(client)
    page = client.get("/packages/bulk/new").get_data(as_text=True)
    assert f'value="{today().isoformat()}"' in page
    response = post_form(
        client,
        "/packages/bulk/new",
        {"tier": "", "street_id": "", "channel": "mail", "as_of": "2026-03-06"},
    )
    assert response.status_code == 422
    assert "Choose a tier, a street or both." in response.get_data(as_text=True)
    response = post_form(
        client,
        "/packages/bulk/new",
        {"tier": "district", "street_id": "", "channel": "mail", "as_of": "2026-03-06"},
    )
    assert response.status_code == 422
    assert "No active firm is in this scope." in response.get_data(as_text=True)
    assert '<option selected value="district">' in response.get_data(as_text=True)  # kept as typed
    assert db.session.scalar(select(func.count(BulkIssuance.id))) == 0


def test_a_street_centre_issues_to_its_own_street_only(client, login_as, make_street):
    home, away = make_street(), make_street()
    add_firms(4, home, tier="sector")
    add_firms(2, home, tier="local")
    add_firms(5, away, tier="sector")
    login_as("street", street=home)
    english(client)
    page = client.get("/packages/bulk/new").get_data(as_text=True)
    assert home.name in page and away.name not in page and "Any street" not in page

    # Another street is not a choice.
    response = post_form(
        client,
        "/packages/bulk/new",
        {"street_id": str(away.id), "channel": "mail", "as_of": "2026-03-06"},
    )
    assert response.status_code == 422
    # A tier issuance is limited to its street's firms of that tier.
    bulk_id = start(client, tier="sector", street_id=str(home.id))
    join_jobs(bulk_id)
    bulk = reload(bulk_id)
    assert (bulk.street_id, bulk.tier, bulk.total, bulk.issued) == (home.id, "sector", 4, 4)
    assert {
        f.street_id
        for f in db.session.scalars(select(Firm).where(Firm.id.in_(packages_of(bulk_id))))
    } == {home.id}


def test_the_service_refuses_a_street_centre_another_streets_firms(
    login_as, make_street, make_user
):
    home, away = make_street(), make_street()
    add_firms(2, away)
    user = make_user("street", street=home)
    for street_id in (away.id, None):
        with pytest.raises(service.BulkError):
            service.start(
                tier="sector",
                street_id=street_id,
                as_of=date(2026, 3, 6),
                channel="mail",
                actor=user,
            )


@pytest.mark.parametrize("role", ["commissioner", "leader", "department", "admin", "firm"])
def test_other_roles_may_not_issue_in_bulk(client, login_as, role):
    login_as(role)
    assert client.get("/packages/bulk/new").status_code == 403
    assert client.get("/packages/bulk/").status_code == 403


# -- the download ------------------------------------------------------------------------------


def test_the_zip_keeps_chinese_names_and_real_pdfs(
    client, login_as, make_firm, street, monkeypatch
):
    monkeypatch.undo()  # real rendering, once
    firm = make_firm(name="上海华阳示例科技有限公司", street=street, tier="district")
    login_as("office")
    bulk_id = start(client, tier="district")
    join_jobs(bulk_id)
    bulk = reload(bulk_id)
    assert (bulk.status, bulk.rendered) == ("done", 1), bulk.error
    response = client.get(f"/packages/bulk/{bulk_id}/download")
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    response.close()
    (info,) = archive.infolist()
    assert info.filename == f"上海华阳示例科技有限公司_{firm.uscc}_1.pdf"
    assert info.flag_bits & 0x800  # the name is stored as UTF-8
    stored = db.session.scalar(select(PackageDocument.pdf))
    assert archive.read(info) == stored and stored.startswith(b"%PDF")


def test_entry_names_are_safe_file_names():
    assert (
        service.entry_name('A/B:C*"有限公司"', "91310105X", 2) == "A_B_C_有限公司__91310105X_2.pdf"
    )


def test_an_operator_resumes_a_stopped_issuance_from_the_command_line(
    runner, login_as, street, monkeypatch
):
    from crm.policies.bulk_cli import bulk_resume_command

    add_firms(60, street)
    office = login_as("office")
    bulk = service.start(
        tier="sector", street_id=None, as_of=date(2026, 3, 6), channel="mail", actor=office
    )
    db.session.commit()
    bulk_id = bulk.id
    crash_on(monkeypatch, 55, RuntimeError("disk full"))
    with pytest.raises(RuntimeError):
        bulk_job.bulk_job(bulk_id, bulk.job_id)
    monkeypatch.undo()
    monkeypatch.setattr(pdf, "render_snapshot", lambda snapshot: b"%PDF-fake")

    result = runner.invoke(bulk_resume_command, [str(bulk_id)])
    assert result.exit_code == 0, result.output
    assert "50 of 60 issued" in result.output and "60 packages issued" in result.output
    assert reload(bulk_id).status == "done"
    again = runner.invoke(bulk_resume_command, [str(bulk_id)])
    assert again.exit_code != 0 and "is done" in again.output
    assert len(packages_of(bulk_id)) == 60
