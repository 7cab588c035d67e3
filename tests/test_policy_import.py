"""Policies from Excel: good rows saved, bad rows reported with their row numbers and
reasons, a second import of the same file updating instead of duplicating, and the
template, which imports as it is."""

import io
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.policies.models import Policy
from tests.conftest import english, post_form

HEADERS = (
    "政策名称",
    "文号",
    "发布单位",
    "层级",
    "类别",
    "类型",
    "生效日期",
    "截止日期",
    "免申即享",
    "支持内容",
    "申报方式",
    "机器条件",
    "审核条件",
)
GOOD = (
    "小微企业稳岗补贴",
    "测人社〔2026〕1号",
    "区人社局",
    "区级",
    "稳岗就业",
    "普惠",
    datetime(2026, 1, 1),
    "2026/12/31",
    "是",
    "按人数给予补贴。",
    "免申即享。",
    "企业规模 属于 小、微\n从业人数 不少于 10\n所属街镇 等于 华阳路街道",
    "近三年无严重失信记录\n按时缴纳社保",
)
INDIVIDUAL = (
    "人才公寓租金补贴",
    "",
    "区房管局",
    "市级",
    "住房",
    "个性",
    "2026-03-01",
    None,
    "否",
    "租金减半。",
    "向街镇申请。",
    "营收规模 介于 100-500, 2000-10000",
    None,
)
BAD = (
    "日期写错的政策",
    "测科〔2026〕9号",
    "区科委",
    "省级",
    "科技创新",
    "普惠",
    "明年一月",
    None,
    "也许",
    "",
    "",
    "从业人数 不少于 很多\n员工 至少 5",
    None,
)
NO_TITLE = (None, "测科〔2026〕10号", "区科委", "区级", None, None, "2026-01-01") + (None,) * 6


def _workbook(*rows) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def _import(client, data: io.BytesIO, name: str = "政策.xlsx"):
    return post_form(client, "/policies/import", {"file": (data, name)})


def test_good_rows_are_saved_and_bad_rows_reported_by_number(client, login_as, make_street):
    street = make_street(name="华阳路街道")
    login_as("office")
    english(client)
    response = _import(client, _workbook(GOOD, BAD, INDIVIDUAL, NO_TITLE))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "2 added, 0 updated, 0 unchanged, 2 rows not imported." in page

    # Row 3 is BAD, row 5 NO_TITLE: each reason in the row's own words.
    rejected = page[page.index("Rows not imported") : page.index("Added")]
    assert '<td data-label="Row">3</td>' in rejected
    assert "层级：use one of 市级、区级" in rejected
    assert "生效日期：明年一月 is not a date" in rejected
    assert "免申即享：write 是 or 否" in rejected
    assert "机器条件「从业人数 不少于 很多」：很多 is not a number." in rejected
    assert "机器条件「员工 至少 5」：unknown attribute 员工" in rejected
    assert '<td data-label="Row">5</td>' in rejected
    assert "a new policy needs 政策名称" in rejected

    good = db.session.scalar(select(Policy).where(Policy.doc_number == "测人社〔2026〕1号"))
    assert (good.level, good.topic, good.kind, good.no_application) == (
        "district",
        "employment",
        "universal",
        True,
    )
    assert (good.effective_from, good.effective_to) == (date(2026, 1, 1), date(2026, 12, 31))
    assert [(c.attribute, c.operator, c.value) for c in good.criteria] == [
        ("size", "in", ["small", "micro"]),
        ("employees", "gte", 10),
        ("street", "eq", street.id),
    ]
    assert good.review_conditions == ["近三年无严重失信记录", "按时缴纳社保"]
    flat = db.session.scalar(select(Policy).where(Policy.title == "人才公寓租金补贴"))
    assert (flat.level, flat.kind, flat.effective_to) == ("city", "individual", None)
    assert flat.criteria[0].value == ["100-500", "2000-10000"]


def test_importing_the_same_file_again_updates_and_never_duplicates(client, login_as):
    login_as("office")
    english(client)
    _import(client, _workbook(INDIVIDUAL))
    changed = list(INDIVIDUAL)
    changed[9] = "租金全免。"
    response = _import(client, _workbook(tuple(changed)))
    assert "0 added, 1 updated, 0 unchanged" in response.get_data(as_text=True)
    response = _import(client, _workbook(tuple(changed)))
    assert "0 added, 0 updated, 1 unchanged" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Policy.id))) == 1
    policy = db.session.scalar(select(Policy))
    assert policy.benefits == "租金全免。"
    # An empty criteria cell left the criteria as they were.
    assert [c.attribute for c in policy.criteria] == ["revenue"]


def test_the_same_policy_twice_in_one_file_is_reported(client, login_as):
    login_as("office")
    english(client)
    page = _import(client, _workbook(INDIVIDUAL, INDIVIDUAL)).get_data(as_text=True)
    assert "1 added, 0 updated, 0 unchanged, 1 rows not imported." in page
    assert "the same 文号 and title as row 2" in page


def test_a_file_that_is_not_a_workbook_is_refused_with_the_reason(client, login_as):
    login_as("office")
    english(client)
    response = _import(client, io.BytesIO("政策名称,文号\n".encode()), "政策.csv")
    assert response.status_code == 422
    assert "Upload an Excel workbook (.xlsx)" in response.get_data(as_text=True)

    response = _import(client, _workbook(), "政策.xlsx")
    assert response.status_code == 422
    assert "no policies under it" in response.get_data(as_text=True)


def test_the_template_imports_as_it_is(client, login_as):
    login_as("office")
    english(client)
    response = client.get("/policies/import/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert [c.value for c in book.active[1]] == list(HEADERS)
    page = _import(client, io.BytesIO(response.data)).get_data(as_text=True)
    assert "1 added, 0 updated, 0 unchanged, 0 rows not imported." in page
    policy = db.session.scalar(select(Policy))
    assert [c.attribute for c in policy.criteria] == ["high_tech", "employees", "size"]
