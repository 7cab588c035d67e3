"""Bulletins (通报): the PDF's text holds the ranking table in Chinese, its Excel twin the same
numbers; the scheduled job files last week's and last month's once; a filed bulletin does
not move when the demands do; downloads, the on-demand form, and a PDF that times out.

A small ledger is built through the real services in the current week; the bulletin is
taken as of forty days later, when the open demands are overdue and the sweep has
supervised them. Only one test renders PDFs (WeasyPrint takes a second or two); the
others file with a stand-in renderer.
"""

import io
import re
import subprocess
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.demands import services
from crm.demands.services import Unit
from crm.demands.sweep import run_sweep
from crm.extensions import db
from crm.policies.pdf import RenderTimeout
from crm.stats import bulletin_pdf, bulletins
from crm.stats.bulletins import build_content, file_bulletin, file_due_bulletins, period_of
from crm.stats.models import Bulletin
from crm.timeutil import local_time, utcnow
from tests.conftest import csrf_token, english, post_form

FAKE_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HEADER = ("排名", "单位", "派单数", "办结数", "按期办结数", "超期数", "办结率", "不满意数")


@pytest.fixture
def fake_pdf(monkeypatch):
    """File without WeasyPrint: the documents' content is checked elsewhere."""
    monkeypatch.setattr(bulletin_pdf, "render_html", lambda html: FAKE_PDF)


@pytest.fixture
def ledger(make_street, make_department, make_firm, make_user, make_demand):
    """This week: 市场监管局 gets two demands (one resolved on time and rated satisfied, one
    left open), 人社局 one (resolved, then rated not satisfied, so reopened)."""
    office = make_user("office")
    market = make_department(name="区市场监管局")
    labour = make_department(name="区人社局")
    handlers = {
        market.id: make_user("department", department=market),
        labour.id: make_user("department", department=labour),
    }
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    firms = [
        make_firm(name="上海华阳示例科技有限公司", street=home),
        make_firm(name="上海新泾示例贸易有限公司", street=away),
    ]

    def demand(firm, department, *, resolve=False, rating=None):
        d = make_demand(firms[firm], actor=office)
        services.accept_demand(d, actor=office)
        (task,) = services.dispatch_demand(
            d, actor=office, level=3, lead=Unit(department=department)
        )
        services.accept_task(task, actor=handlers[department.id])
        if resolve:
            services.resolve_task(task, actor=handlers[department.id], resolution="已办结")
        if rating:
            services.rate_demand(d, actor=make_user("firm", firm=firms[firm]), rating=rating)
        db.session.commit()
        return d

    made = [
        demand(0, market, resolve=True, rating="satisfied"),
        demand(0, market),
        demand(1, labour, resolve=True, rating="not_satisfied"),
    ]
    later = utcnow() + timedelta(days=40)
    run_sweep(later, on=local_time(later).date(), commit=db.session.commit)
    db.session.commit()
    start, end = period_of("weekly", local_time(utcnow()).date())
    return {
        "office": office,
        "market": market,
        "labour": labour,
        "home": home,
        "away": away,
        "demands": made,
        "start": start,
        "end": end,
        "as_of": later + timedelta(minutes=1),
    }


def _row_pattern(cells) -> re.Pattern:
    return re.compile(r"\s+".join(re.escape(str(c)) for c in cells))


def _ranking_row(row: dict) -> tuple:
    return (
        row["rank"],
        row["name"],
        row["dispatched"],
        row["resolved"],
        row["resolved_on_time"],
        row["overdue"],
        bulletins.percent(row["resolution_rate"]),
        row["not_satisfied"],
    )


def test_the_pdf_holds_the_ranking_table_in_chinese_and_the_excel_the_same_numbers(ledger):
    w = ledger
    bulletin = file_bulletin("weekly", w["start"], w["end"], w["as_of"], actor=w["office"])
    db.session.commit()
    content = bulletin.content
    year, week, _ = w["start"].isocalendar()
    assert bulletin.title == f"企业诉求办理情况周报（{year}年第{week}期）"
    departments = {r["name"]: r for r in content["rankings"]["departments"]}
    market, labour = departments["区市场监管局"], departments["区人社局"]
    # 市场监管局: 2 dispatched, 1 resolved on time, 1 overdue: 50%; 人社局: reopened, 0%.
    assert _ranking_row(market) == (1, "区市场监管局", 2, 1, 1, 1, "50.0%", 0)
    assert _ranking_row(labour)[:4] == (2, "区人社局", 1, 0)
    assert (labour["resolution_rate"], labour["not_satisfied"]) == (0.0, 1)
    streets = {r["name"]: r for r in content["rankings"]["streets"]}
    assert (streets["华阳路街道"]["dispatched"], streets["新泾镇"]["dispatched"]) == (2, 1)
    assert content["totals"]["collected"] == 3

    text = subprocess.run(
        ["/usr/bin/pdftotext", "-layout", "-", "-"],
        input=bulletin.pdf,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "通报" in text and bulletin.title in text
    assert f"{year}年第{week}期" in text
    for heading in ("一、总体情况", "二、单位排名", "三、超期和督办事项", "四、工作亮点"):
        assert heading in text
    assert _row_pattern(HEADER).search(text)
    for row in (*content["rankings"]["departments"], *content["rankings"]["streets"]):
        assert _row_pattern(_ranking_row(row)).search(text), row["name"]
    # The open demand of 市场监管局 is listed overdue, and supervised by the sweep.
    (item,) = [i for i in content["items"] if i["number"] == w["demands"][1].number]
    assert item["unit"] == "区市场监管局" and item["supervised"] and item["days_overdue"] >= 3
    assert _row_pattern([item["number"], "上海华阳示例科技有限公司", "区市场监管局"]).search(text)

    book = load_workbook(io.BytesIO(bulletin.xlsx))
    assert book.sheetnames == ["总体情况", "单位排名", "超期督办事项"]
    rows = list(book["单位排名"].iter_rows(values_only=True))
    assert rows[1] == HEADER
    for row in content["rankings"]["departments"]:
        (found,) = [r for r in rows if r[1] == row["name"] and r[0] == row["rank"]]
        expected = tuple(row[k] for k in ("rank", "name", "dispatched", "resolved"))
        assert found[:4] == expected
        assert found[4:] == (
            row["resolved_on_time"],
            row["overdue"],
            row["resolution_rate"],
            row["not_satisfied"],
        )
    totals = dict(r[:2] for r in book["总体情况"].iter_rows(values_only=True) if r and r[0])
    assert (totals["受理数"], totals["办结数"], totals["超期未办结数"]) == (
        content["totals"]["collected"],
        content["totals"]["resolved"],
        content["totals"]["overdue"],
    )
    numbers = [r[1] for r in book["超期督办事项"].iter_rows(min_row=2, values_only=True)]
    assert numbers == [i["number"] for i in content["items"]]


def test_the_items_are_loaded_in_a_bounded_number_of_statements(ledger, count_queries, make_demand):
    w = ledger
    build_content("weekly", w["start"], w["end"], w["as_of"])  # the calendar is read once
    with count_queries() as few:
        first = build_content("weekly", w["start"], w["end"], w["as_of"])
    for _ in range(3):
        d = make_demand(w["demands"][1].firm, actor=w["office"])
        services.accept_demand(d, actor=w["office"])
        services.dispatch_demand(d, actor=w["office"], level=3, lead=Unit(department=w["labour"]))
        db.session.commit()
    with count_queries() as more:
        second = build_content("weekly", w["start"], w["end"], w["as_of"])
    assert len(second["items"]) == len(first["items"]) + 3
    assert len(more) == len(few)


def test_a_filed_bulletin_does_not_change_when_the_demands_do(ledger, fake_pdf, make_user):
    w = ledger
    filed = file_bulletin("weekly", w["start"], w["end"], utcnow(), actor=w["office"])
    db.session.commit()
    before, xlsx = dict(filed.content), filed.xlsx
    task = w["demands"][1].tasks[0]
    handler = make_user("department", department=w["market"])
    services.resolve_task(task, actor=handler, resolution="已办结")
    db.session.commit()

    again = file_bulletin("weekly", w["start"], w["end"], utcnow())
    db.session.commit()
    assert again.id == filed.id
    db.session.expire_all()
    kept = db.session.get(Bulletin, filed.id)
    assert kept.content == before and kept.xlsx == xlsx
    fresh = build_content("weekly", w["start"], w["end"], utcnow())
    assert fresh["totals"]["resolved"] == before["totals"]["resolved"] + 1


def test_the_scheduled_job_files_last_week_and_last_month_once(app, runner, fake_pdf):
    today = date(2026, 3, 4)  # a Wednesday
    made = file_due_bulletins(today)
    db.session.commit()
    assert {(b.kind, b.period_start, b.period_end) for b in made} == {
        ("weekly", date(2026, 2, 23), date(2026, 3, 1)),
        ("monthly", date(2026, 2, 1), date(2026, 2, 28)),
    }
    assert {b.title for b in made} == {
        "企业诉求办理情况周报（2026年第9期）",
        "企业诉求办理情况月报（2026年第2期）",
    }
    assert file_due_bulletins(today) == []
    result = runner.invoke(args=["crm", "file-bulletins", "--date", "2026-03-05"])
    assert result.exit_code == 0, result.output
    assert "nothing to file" in result.output
    # The next Monday: the week just ended is due; February's month stays as filed.
    result = runner.invoke(args=["crm", "file-bulletins", "--date", "2026-03-09"])
    assert "filed weekly 2026-03-02" in result.output
    assert db.session.scalar(select(func.count()).select_from(Bulletin)) == 3


def test_without_redis_the_job_files_in_process(app, fake_pdf):
    from crm.stats.bulletin_jobs import enqueue_bulletins

    ids = enqueue_bulletins(on=date(2026, 3, 4))
    assert len(ids) == 2
    assert enqueue_bulletins(on=date(2026, 3, 4)) == []


def test_the_cron_scheduler_files_bulletins_hourly(app):
    from crm.demands.jobs import sweep_scheduler
    from crm.stats import bulletin_jobs

    class Connection:  # the scheduler only keeps it until started
        pass

    scheduler = bulletin_jobs.register(sweep_scheduler(Connection(), interval=300))
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert jobs[bulletin_jobs.BULLETINS_JOB_NAME].interval == 3600
    assert jobs[bulletin_jobs.BULLETINS_JOB_NAME].func is bulletin_jobs.bulletins_job


def test_downloads_have_their_type_and_chinese_name(client, login_as, ledger, fake_pdf):
    w = ledger
    bulletin = file_bulletin("weekly", w["start"], w["end"], utcnow())
    db.session.commit()
    login_as("leader")
    listing = client.get("/bulletins/").get_data(as_text=True)
    assert bulletin.title in listing and "File the bulletin" not in listing
    response = client.get(f"/bulletins/{bulletin.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data == FAKE_PDF
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"filename*=UTF-8''{quote(bulletin.title + '.pdf')}" in disposition
    response = client.get(f"/bulletins/{bulletin.id}.xlsx")
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert (
        f"filename*=UTF-8''{quote(bulletin.title + '.xlsx')}"
        in (response.headers["Content-Disposition"])
    )
    assert response.data == bulletin.xlsx
    assert client.get(f"/bulletins/{bulletin.id + 99}.pdf").status_code == 404


def test_the_office_files_a_past_period_on_demand(client, login_as, ledger, fake_pdf):
    w = ledger
    login_as(w["office"])
    english(client)
    day = w["start"] - timedelta(days=3)  # last week
    for flashed in ("Bulletin filed.", "filed already"):
        data = {"kind": "weekly", "day": day.isoformat()}
        response = post_form(client, "/bulletins/generate", data, form_url="/bulletins/")
        assert response.status_code == 302
        assert flashed in client.get(response.location).get_data(as_text=True)
    (filed,) = db.session.scalars(select(Bulletin)).all()
    assert filed.period_start == period_of("weekly", day)[0]
    assert filed.created_by_id == w["office"].id


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        ({"kind": "yearly", "day": "2026-03-04"}, 'value="2026-03-04"'),
        ({"kind": "weekly", "day": "2026-13-40"}, 'value="2026-13-40"'),
        ({"kind": "monthly", "day": ""}, ""),
        ({"kind": "weekly", "day": "2026-03-04", "as_of": "2026-03-05T10:00"}, "2026-03-05T10:00"),
    ],
)
def test_a_wrong_form_is_shown_again_with_its_errors(client, login_as, data, kept):
    login_as("office")
    english(client)
    response = post_form(client, "/bulletins/generate", data, form_url="/bulletins/")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "is-invalid" in html and kept in html
    assert db.session.scalar(select(func.count()).select_from(Bulletin)) == 0
    preview = client.get("/bulletins/preview", query_string=data)
    assert preview.status_code == 422 and "is-invalid" in preview.get_data(as_text=True)


def test_the_running_period_is_previewed_not_filed(client, login_as, app, fake_pdf):
    login_as("office")
    english(client)
    today = local_time(utcnow()).date()
    data = {"kind": "monthly", "day": today.isoformat()}
    response = post_form(client, "/bulletins/generate", data, form_url="/bulletins/")
    assert response.status_code == 422
    assert "has not ended yet" in response.get_data(as_text=True)
    preview = client.get("/bulletins/preview", query_string={**data, "fmt": "xlsx"})
    assert preview.status_code == 200
    assert (
        "（预览）" in preview.headers["Content-Disposition"]
        or "%EF%BC%88" in (preview.headers["Content-Disposition"])
    )
    load_workbook(io.BytesIO(preview.data))  # a real workbook
    assert client.get("/bulletins/preview", query_string=data).data == FAKE_PDF
    assert db.session.scalar(select(func.count()).select_from(Bulletin)) == 0


def test_a_pdf_that_times_out_leaves_the_bulletin_filed_with_its_excel(
    client, login_as, monkeypatch, app
):
    def too_slow(html):
        raise RenderTimeout("the PDF was not rendered within 30 s")

    monkeypatch.setattr(bulletin_pdf, "render_html", too_slow)
    (weekly, _monthly) = sorted(
        file_due_bulletins(date(2026, 3, 4)), key=lambda b: b.kind, reverse=True
    )
    db.session.commit()
    assert weekly.pdf is None and weekly.xlsx
    login_as("office")
    english(client)
    listing = client.get("/bulletins/").get_data(as_text=True)
    assert "PDF unavailable" in listing
    assert client.get(f"/bulletins/{weekly.id}.xlsx").status_code == 200
    assert client.get(f"/bulletins/{weekly.id}.pdf").status_code == 503
    # Once the renderer works again, the download makes the PDF from the filed content.
    monkeypatch.setattr(bulletin_pdf, "render_html", lambda html: FAKE_PDF)
    assert client.get(f"/bulletins/{weekly.id}.pdf").data == FAKE_PDF
    db.session.expire_all()
    assert db.session.get(Bulletin, weekly.id).pdf == FAKE_PDF
    assert csrf_token(client, "/bulletins/")  # the office's form is there
