"""Entering a year: the admin page, the import service and the ``crm calendar`` commands."""

import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.extensions import db
from crm.workcal import services
from crm.workcal.calendar import Due
from crm.workcal.models import CalendarDay
from tests.conftest import csrf_token, post_form

INDEX = "/admin/calendar/"
UPLOAD = "/admin/calendar/import"

GOOD_2027 = """date,type,name
2027-01-01,holiday,元旦
2027-01-02,holiday,元旦
2027-01-03,holiday,元旦
2027-02-20,workday,春节
2027-10-01,holiday,国庆节
2027-10-09,workday,国庆节
"""

BAD_2027 = """date,type,name
2027-01-01,holiday,元旦
2027-13-01,holiday,没有的月份
2027-02-20,rest,春节
2027-02-19,workday,星期五
2028-01-01,holiday,元旦
2027-01-01,holiday,又一次
2027-03-01
"""


def _days() -> list[tuple[date, bool, str]]:
    db.session.expire_all()
    rows = db.session.scalars(select(CalendarDay).order_by(CalendarDay.day))
    return [(d.day, d.is_workday, d.name) for d in rows]


def _upload(client, content: bytes, filename: str = "2027.csv"):
    return post_form(client, UPLOAD, {"file": (io.BytesIO(content), filename)}, form_url=INDEX)


@pytest.fixture
def english(app):
    """Outside a request the commands speak the default language; read them in English."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


# -- the page -----------------------------------------------------------------------------------


def test_the_page_lists_the_library_years(client, login_as):
    login_as("admin")
    html = client.get(INDEX).get_data(as_text=True)
    assert "2004" in html and "2026" in html
    assert "example-2027.csv" in html


def test_admin_imports_a_year_through_the_page(app, client, login_as):
    admin = login_as("admin")
    with app.app_context():
        assert not services.current_calendar().add_working_days(date(2026, 12, 30), 3).verified

    response = _upload(client, GOOD_2027.encode())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/calendar/year?year=2027")

    assert len(_days()) == 6
    assert (date(2027, 10, 9), True, "国庆节") in _days()
    page = client.get("/admin/calendar/year?year=2027").get_data(as_text=True)
    assert "2027-10-09" in page and "国庆节" in page and "2027-02-20" in page
    assert "2027" in client.get(INDEX).get_data(as_text=True)

    # A deadline running into 2027 is now verified, and skips New Year's Day 2027.
    with app.app_context():
        due = services.current_calendar().add_working_days(date(2026, 12, 30), 3)
    assert due == Due(date(2027, 1, 5), True)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "calendar.import"))
    assert entry.user_id == admin.id
    assert entry.detail == {"year": 2027, "holidays": 4, "workdays": 2, "replaced": 0}


def test_current_calendar_reads_the_entered_days(app):
    db.session.add(CalendarDay(day=date(2027, 1, 1), is_workday=False, name="元旦", year=2027))
    db.session.commit()
    with app.test_request_context():
        calendar = services.current_calendar()
        assert calendar is services.current_calendar()  # once per request
        due = calendar.add_working_days(date(2026, 12, 31), 1)
        assert due.day == date(2027, 1, 4) and due.verified


def test_a_bad_file_lists_every_bad_line_and_writes_nothing(client, login_as):
    login_as("admin")
    response = _upload(client, BAD_2027.encode())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    listed = [int(a or b) for a, b in re.findall(r"<li>(?:Line (\d+): |第 (\d+) 行：)", html)]
    assert listed == [3, 4, 5, 6, 7, 8]
    assert "2027-01-01" in html  # line 7 repeats line 2's day
    assert _days() == []
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "calendar.import")
        )
        == 0
    )


def test_a_bad_file_leaves_the_year_entered_before(client, login_as):
    login_as("admin")
    assert _upload(client, GOOD_2027.encode()).status_code == 302
    assert _upload(client, BAD_2027.encode()).status_code == 422
    assert len(_days()) == 6


def test_a_new_file_replaces_the_year(client, login_as):
    login_as("admin")
    _upload(client, GOOD_2027.encode())
    assert (
        _upload(client, b"2027-05-01,holiday,\xe5\x8a\xb3\xe5\x8a\xa8\xe8\x8a\x82\n").status_code
        == 302
    )
    assert _days() == [(date(2027, 5, 1), False, "劳动节")]


def test_an_empty_upload_is_refused(client, login_as):
    login_as("admin")
    assert post_form(client, UPLOAD, {}, form_url=INDEX).status_code == 422
    response = _upload(client, b"date,type,name\n")
    assert response.status_code == 422
    assert _days() == []


def test_admin_deletes_an_entered_year(client, login_as):
    login_as("admin")
    _upload(client, GOOD_2027.encode())
    response = post_form(
        client,
        "/admin/calendar/delete",
        {"year": "2027"},
        form_url="/admin/calendar/year?year=2027",
    )
    assert response.status_code == 302
    assert _days() == []
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "calendar.delete"))


def test_a_library_year_and_an_unknown_year(client, login_as):
    login_as("admin")
    html = client.get("/admin/calendar/year?year=2026").get_data(as_text=True)
    assert "2026-10-10" in html and "2026-02-14" in html
    html = client.get("/admin/calendar/year?year=2031").get_data(as_text=True)
    assert "2031" in html and "2026-10-10" not in html
    assert client.get("/admin/calendar/year?year=10000").status_code == 404


def test_the_example_file_is_a_valid_year(client, login_as):
    login_as("admin")
    response = client.get("/admin/calendar/example-2027.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert _upload(client, response.data, "example.csv").status_code == 302
    assert {d.year for d, _w, _n in _days()} == {2027}


@pytest.mark.parametrize(
    "role", ["office", "street", "commissioner", "department", "leader", "firm"]
)
def test_other_roles_are_refused(client, login_as, role):
    login_as(role)
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/account/password")
    response = client.post(
        UPLOAD, data={"csrf_token": token, "file": (io.BytesIO(GOOD_2027.encode()), "a.csv")}
    )
    assert response.status_code == 403
    assert _days() == []


# -- the import service ------------------------------------------------------------------------


def test_import_accepts_chinese_types_gbk_and_slashed_dates(app):
    text = (
        "日期,类型,名称\n2027/1/1,休,元旦\n2027/2/20,班,春节\n"
        "2027-10-01,假日,国庆节\n2027-10-09,上班\n"
    )
    result = services.import_year(text.encode("gbk"), actor=None)
    assert result.ok, result.errors
    assert (result.year, result.holidays, result.workdays) == (2027, 2, 2)
    db.session.commit()
    assert (date(2027, 10, 9), True, "") in _days()


def test_import_takes_rows_and_reports_line_numbers(app):
    result = services.import_year(
        [["2027-01-01", "holiday", "元旦"], ["", ""], ["2027-01-04", "workday", "x"]], actor=None
    )
    assert [e.line for e in result.errors] == [3]
    assert "2027-01-04" in result.errors[0].message


def test_importing_a_library_year_says_it_overrides_it(app):
    result = services.import_year("2026-10-01,holiday,国庆节\n", actor=None)
    assert result.ok and result.in_library


# -- the commands ---------------------------------------------------------------------------


def test_due_prints_the_date(runner):
    result = runner.invoke(args=["crm", "calendar", "due", "2026-09-30", "4"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2026-10-12"


def test_due_counts_backwards(runner):
    result = runner.invoke(args=["crm", "calendar", "due", "2026-10-08", "-1"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2026-09-30"


def test_due_into_an_unknown_year_says_it_is_unverified(runner):
    result = runner.invoke(args=["crm", "calendar", "due", "2026-12-30", "3"])
    assert result.exit_code == 0, result.output
    first, second = result.output.strip().splitlines()
    assert first == "2027-01-04"
    assert "unverified" in second and "2027" in second and "Monday to Friday" in second


@pytest.mark.parametrize("args", [["not-a-date", "3"], ["2026-09-30", "three"], ["2026-09-30"]])
def test_due_refuses_bad_input(runner, args):
    result = runner.invoke(args=["crm", "calendar", "due", *args])
    assert result.exit_code == 2, result.output
    assert "Error" in result.output and "Traceback" not in result.output


def test_import_command_loads_a_year(runner, tmp_path, english):
    path = tmp_path / "2027.csv"
    path.write_text(GOOD_2027, encoding="utf-8")
    result = runner.invoke(args=["crm", "calendar", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded 2027: 4 holidays, 2 make-up workdays" in result.output
    assert len(_days()) == 6
    result = runner.invoke(args=["crm", "calendar", "due", "2026-12-30", "3"])
    assert result.output.strip() == "2027-01-05"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "calendar.import"))
    assert entry.ip == "cli" and entry.user_id is None


def test_import_command_lists_every_rejected_line(runner, tmp_path, english):
    path = tmp_path / "2027.csv"
    path.write_text(BAD_2027, encoding="utf-8")
    result = runner.invoke(args=["crm", "calendar", "import", str(path)])
    assert result.exit_code == 1
    for line in (3, 4, 5, 6, 7, 8):
        assert f"line {line}: " in result.output
    assert "nothing was loaded" in result.output
    assert _days() == []


def test_show_command(runner, english):
    result = runner.invoke(args=["crm", "calendar", "show", "2026"])
    assert result.exit_code == 0
    assert "2026: library" in result.output and "2026-10-10" in result.output
    result = runner.invoke(args=["crm", "calendar", "show", "2031"])
    assert "not in the calendar" in result.output
