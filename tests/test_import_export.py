"""Firm import (Excel/CSV with a preview) and export (the filtered list to Excel)."""

import io
import random
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from markupsafe import escape
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.extensions import db
from crm.firms import importer, uscc
from crm.firms.exporter import COMMISSIONER_HEADERS
from crm.firms.models import Firm
from tests.conftest import csrf_token

HEADERS = [c.header for c in importer.COLUMNS]
_rng = random.Random(4754)


def codes(n: int) -> list[str]:
    found: set[str] = set()
    while len(found) < n:
        found.add(uscc.generate(_rng))
    return sorted(found)


def bad_check(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


def xlsx(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return out.getvalue()


def row(**values) -> list:
    """A row under ``HEADERS`` from field names: row(name=..., uscc=..., street=...)."""
    return [values.get(c.field) for c in importer.COLUMNS]


def upload(client, content: bytes, filename: str = "firms.xlsx"):
    return client.post(
        "/firms/import/",
        data={
            "csrf_token": csrf_token(client, "/firms/import/"),
            "file": (io.BytesIO(content), filename),
        },
        content_type="multipart/form-data",
    )


def preview(client, content: bytes, filename: str = "firms.xlsx") -> tuple[str, str]:
    """Upload and open the preview: its URL and its page."""
    response = upload(client, content, filename)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    url = response.headers["Location"]
    page = client.get(url)
    assert page.status_code == 200
    return url, page.get_data(as_text=True)


def confirm(client, preview_url: str):
    return client.post(
        preview_url + "/confirm", data={"csrf_token": csrf_token(client, "/firms/import/")}
    )


def counts(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'id="count-(\w+)">(\d+)<', page)}


def rejected_rows(page: str) -> dict[int, str]:
    """Row number -> the HTML of that row, from the rejected-rows table."""
    table = page.split('id="rejected"', 1)[1].split("</table>", 1)[0]
    return {
        int(m.group(1)): m.group(0)
        for m in re.finditer(r"<tr>\s*<td[^>]*>(\d+)</td>.*?</tr>", table, re.S)
    }


def reason(app, **problem) -> str:
    """A problem as the page shows it, in the page's language."""
    with app.test_request_context():
        return str(escape(importer.describe(problem)))


def firm_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Firm))


def audit_count(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == action)
    )


# -- import ---------------------------------------------------------------------------------


def test_importing_the_same_1000_rows_twice_leaves_1000_firms(client, login_as, make_street):
    street = make_street(name="华阳路街道")
    login_as("office")
    content = xlsx(
        [
            row(
                name=f"上海批量导入科技有限公司{i}",
                uscc=code,
                street=street.name,
                legal_representative="王芳",
                industry_code="I65",
                size="小",
                registered_capital=100 + i,
                employees=i,
                established_on=date(2015, 1, 1),
                high_tech="是" if i % 2 else "否",
                tags="软件、专精特新",
                status="正常",
            )
            for i, code in enumerate(codes(1000))
        ]
    )

    url, page = preview(client, content)
    assert counts(page) == {"create": 1000, "update": 0, "unchanged": 0, "reject": 0}
    assert firm_count() == 0
    assert confirm(client, url).status_code == 200
    assert firm_count() == 1000
    assert audit_count("firm.create") == 1000

    url, page = preview(client, content)
    assert counts(page) == {"create": 0, "update": 0, "unchanged": 1000, "reject": 0}
    result = confirm(client, url).get_data(as_text=True)
    assert counts(result)["create"] == 0
    assert firm_count() == 1000
    assert audit_count("firm.create") == 1000
    assert audit_count("firm.update") == 0
    assert audit_count("firm.import") == 2


def test_bad_rows_are_listed_and_nothing_is_written_before_confirmation(
    app, client, login_as, make_street, make_firm
):
    street = make_street(name="华阳路街道")
    existing = make_firm(
        name="上海已有贸易有限公司", street=street, employees=10, address="长宁路1号"
    )
    login_as("office")
    good, bad, capital, day, size, nameless, other = codes(7)
    content = xlsx(
        [
            row(name="上海新建科技有限公司", uscc=good, street=street.name, size="中"),  # row 2
            row(name="校验位错误公司", uscc=bad_check(bad), street=street.name),  # row 3
            [None] * len(HEADERS),  # row 4: blank, skipped but still counted
            row(name="未知街道公司", uscc=other, street="不存在街道"),  # row 5
            row(name="资本错误公司", uscc=capital, street=street.name, registered_capital="五百"),
            row(name="日期错误公司", uscc=day, street=street.name, established_on="2019-13-45"),
            row(name="规模错误公司", uscc=size, street=street.name, size="巨型"),  # row 8
            row(name="上海新建科技有限公司", uscc=good, street=street.name),  # row 9
            row(uscc=nameless, street=street.name),  # row 10: a new firm needs a name
            row(uscc=existing.uscc, employees=25),  # row 11: update, other columns untouched
        ]
    )
    url, page = preview(client, content)

    assert counts(page) == {"create": 1, "update": 1, "unchanged": 0, "reject": 7}
    rejected = rejected_rows(page)
    assert sorted(rejected) == [3, 5, 6, 7, 8, 9, 10]
    assert reason(app, code="uscc", reason="check") in rejected[3]
    assert reason(app, code="street", value="不存在街道") in rejected[5]
    assert reason(app, code="number", field="registered_capital", value="五百") in rejected[6]
    assert reason(app, code="date", value="2019-13-45") in rejected[7]
    assert reason(app, code="size", value="巨型") in rejected[8]
    assert reason(app, code="duplicate", row=2) in rejected[9]
    assert reason(app, code="required", fields=["name"]) in rejected[10]
    assert "上海已有贸易有限公司" in page and "长宁路1号" not in page  # only the change shows
    assert firm_count() == 1

    result = confirm(client, url)
    assert result.status_code == 200
    assert firm_count() == 2
    created = db.session.scalar(select(Firm).where(Firm.uscc == good))
    assert (created.name, created.size, created.street_id) == (
        "上海新建科技有限公司",
        "medium",
        street.id,
    )
    db.session.refresh(existing)
    assert (existing.employees, existing.address) == (25, "长宁路1号")
    update = db.session.scalar(select(AuditLog).where(AuditLog.action == "firm.update"))
    assert update.object_id == existing.id and update.detail["changes"] == {"employees": [10, 25]}
    summary = db.session.scalar(select(AuditLog).where(AuditLog.action == "firm.import"))
    assert summary.detail == {
        "file": "firms.xlsx",
        "rows": 9,
        "create": 1,
        "update": 1,
        "unchanged": 0,
        "reject": 7,
    }


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-8"])
def test_csv_in_utf8_with_bom_and_in_gbk(client, login_as, make_street, encoding):
    street = make_street(name="新泾镇")
    login_as("office")
    (code,) = codes(1)
    text = (
        "企业名称,统一社会信用代码,所属街镇,成立日期,高新技术企业,注册资本（万元）,标签,备注\r\n"
        f'上海新泾数码科技有限公司,{code.lower()},新泾镇,2019/5/1,是,"1,200.5",软件，数据,老客户\r\n'
    )
    url, page = preview(client, text.encode(encoding), "企业.csv")
    assert counts(page) == {"create": 1, "update": 0, "unchanged": 0, "reject": 0}
    assert "备注" in page  # the unknown column is reported as ignored
    confirm(client, url)
    firm = db.session.scalar(select(Firm).where(Firm.uscc == code))
    assert firm.name == "上海新泾数码科技有限公司"
    assert firm.street_id == street.id
    assert firm.established_on == date(2019, 5, 1)
    assert firm.high_tech is True
    assert firm.registered_capital == Decimal("1200.50")
    assert firm.tags == ["数据", "软件"]


def test_a_street_user_imports_only_its_own_streets_rows(
    app, client, login_as, make_street, make_firm
):
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    theirs = make_firm(name="上海新泾已有公司", street=away)
    login_as("street", street=home)
    mine, foreign = codes(2)
    url, page = preview(
        client,
        xlsx(
            [
                row(name="上海华阳新公司", uscc=mine, street=home.name),
                row(name="上海新泾新公司", uscc=foreign, street=away.name),
                row(uscc=theirs.uscc, address="华阳路2号"),
            ]
        ),
    )
    assert counts(page) == {"create": 1, "update": 0, "unchanged": 0, "reject": 2}
    rejected = rejected_rows(page)
    assert reason(app, code="street_scope", value="新泾镇", own="华阳路街道") in rejected[3]
    assert reason(app, code="firm_scope", street="新泾镇") in rejected[4]

    confirm(client, url)
    assert db.session.scalar(select(Firm.street_id).where(Firm.uscc == mine)) == home.id
    assert db.session.scalar(select(Firm).where(Firm.uscc == foreign)) is None
    db.session.refresh(theirs)
    assert theirs.address == ""


def test_an_update_changes_only_the_columns_in_the_file(client, login_as, make_firm):
    firm = make_firm(
        name="上海旧名称有限公司", address="长宁路1号", employees=10, tier="local", tags=["老标签"]
    )
    login_as("office")
    headers = ["统一社会信用代码", "企业名称", "从业人数", "重点企业等级"]
    url, page = preview(client, xlsx([[firm.uscc, "上海新名称有限公司", None, "区级"]], headers))
    assert counts(page)["update"] == 1
    assert "上海旧名称有限公司" in page and "上海新名称有限公司" in page
    confirm(client, url)
    db.session.refresh(firm)
    assert (firm.name, firm.tier, firm.employees, firm.address, firm.tags) == (
        "上海新名称有限公司",
        "district",
        10,
        "长宁路1号",
        ["老标签"],
    )


def test_confirming_twice_imports_once(client, login_as, make_street):
    street = make_street()
    login_as("office")
    (code,) = codes(1)
    url, _page = preview(client, xlsx([row(name="上海一次公司", uscc=code, street=street.name)]))
    assert confirm(client, url).status_code == 200
    again = confirm(client, url)
    assert again.status_code == 302
    assert client.get(url).status_code == 302  # the preview is gone too
    assert firm_count() == 1
    assert audit_count("firm.import") == 1


def test_confirmation_checks_the_database_again(client, login_as, make_street, make_firm):
    """A firm someone else created since the preview is updated, not created twice."""
    street = make_street()
    login_as("office")
    (code,) = codes(1)
    url, page = preview(
        client, xlsx([row(name="上海后来公司", uscc=code, street=street.name, employees=30)])
    )
    assert counts(page)["create"] == 1
    make_firm(uscc=code, name="上海抢先公司", street=street)
    result = confirm(client, url).get_data(as_text=True)
    assert counts(result) == {"create": 0, "update": 1, "unchanged": 0, "reject": 0}
    firm = db.session.scalar(select(Firm).where(Firm.uscc == code))
    assert (firm_count(), firm.name, firm.employees) == (1, "上海后来公司", 30)


def test_an_upload_belongs_to_its_uploader(client, login_as, make_street):
    street = make_street()
    login_as("office")
    (code,) = codes(1)
    url, _page = preview(client, xlsx([row(name="上海私有公司", uscc=code, street=street.name)]))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/firms/import/")})
    login_as("office")
    assert client.get(url).status_code == 403
    assert confirm(client, url).status_code == 403
    assert firm_count() == 0


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"", "firms.xlsx"),
        (b"", "firms.csv"),
        (b"name,uscc\n", "firms.txt"),
        (b"PK\x03\x04 this is not a workbook", "firms.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "firms.xls"),
        (xlsx([["上海无表头公司", "91310105MA1FL0XX0X"]], headers=["随便", "什么"]), "firms.xlsx"),
        (xlsx([], headers=HEADERS), "firms.xlsx"),
        ("企业名称,统一社会信用代码,企业名称\n甲,乙,丙\n".encode(), "firms.csv"),
        (zip_without_workbook(), "firms.xlsx"),
        (b"\xff\xfe\x00", "firms.csv"),
        (b"\x81\xff\x81\xff binary", "firms.csv"),
    ],
    ids=[
        "empty-xlsx",
        "empty-csv",
        "txt",
        "corrupt",
        "xls",
        "no-header",
        "no-rows",
        "twice",
        "zip",
        "utf16-garbage",
        "binary-csv",
    ],
)
def test_unusable_files_get_a_form_error(client, login_as, content, filename):
    login_as("office")
    response = upload(client, content, filename)
    assert response.status_code == 422
    assert 'class="invalid-feedback d-block"' in response.get_data(as_text=True)


def test_a_missing_file_gets_a_form_error(client, login_as):
    login_as("street")
    response = client.post(
        "/firms/import/", data={"csrf_token": csrf_token(client, "/firms/import/")}
    )
    assert response.status_code == 422


def test_too_many_rows_are_refused(app):
    content = xlsx([row(name=f"公司{i}", uscc=code) for i, code in enumerate(codes(4))])
    with app.test_request_context():
        with pytest.raises(importer.ImportFileError) as refused:
            importer.read_upload("firms.xlsx", io.BytesIO(content), max_rows=3)
        assert "3" in str(refused.value)
    assert len(importer.read_upload("firms.xlsx", io.BytesIO(content), max_rows=4)["rows"]) == 4


@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        ("成立日期", "2019-05-01", "2019-05-01"),
        ("成立日期", "2019/5/1", "2019-05-01"),
        ("成立日期", "2019年5月1日", "2019-05-01"),
        ("date established", "20190501", "2019-05-01"),
        ("企业规模", "大型", "large"),
        ("size", "Micro", "micro"),
        ("营收规模", "500-2000万元", "500-2000"),
        ("营收规模", "≥50000", ">=50000"),
        ("外资企业", "否", False),
        ("重点企业等级", "无", None),
        ("状态", "迁出", "moved_out"),
        ("从业人数", "1,200人", 1200),
        ("行业代码", "i6513", "I6513"),
        ("标签", "b, a、a；c", ["a", "b", "c"]),
    ],
)
def test_cells_are_read_in_the_forms_people_write(app, header, cell, expected):
    (code,) = codes(1)
    content = f'统一社会信用代码,{header}\n{code},"{cell}"\n'.encode()
    (parsed,) = importer.read_upload("firms.csv", io.BytesIO(content))["rows"]
    assert parsed["problems"] == []
    assert list(parsed["values"].values()) == [expected]


def test_the_template_downloads_and_its_example_imports(client, login_as, make_street):
    make_street(name="华阳路街道")
    login_as("office")
    response = client.get("/firms/import/template.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    _url, page = preview(client, response.data)
    assert counts(page) == {"create": 1, "update": 0, "unchanged": 0, "reject": 0}


@pytest.mark.parametrize("role", ["department", "firm", "commissioner", "leader", "admin"])
def test_other_roles_may_not_import(client, login_as, role):
    login_as(role)
    token = "A" * 32
    assert client.get("/firms/import/").status_code == 403
    assert client.get("/firms/import/template.xlsx").status_code == 403
    assert client.get(f"/firms/import/{token}").status_code == 403
    csrf = csrf_token(client, "/account/password")
    assert (
        client.post(f"/firms/import/{token}/confirm", data={"csrf_token": csrf}).status_code == 403
    )
    assert audit_count("permission.denied") == 4


# -- export ---------------------------------------------------------------------------------


def exported(response) -> list[tuple]:
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return list(load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True))


def test_export_holds_exactly_the_filtered_firms_and_reimports_unchanged(
    client, login_as, make_street, make_firm, make_user, assign
):
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    full = make_firm(
        name='=HYPERLINK("http://x")上海全字段科技有限公司',
        street=home,
        legal_representative="李雷",
        industry_code="I6513",
        size="medium",
        registered_capital=Decimal("1234.50"),
        employees=0,
        revenue_band=">=50000",
        established_on=date(2018, 3, 9),
        address="华阳路1号",
        high_tech=True,
        foreign_invested=False,
        tier="district",
        tags=["软件", "独角兽"],
        status="prospect",
    )
    bare = make_firm(
        name="上海最少字段有限公司", street=home, industry_code="", size=None, status="active"
    )
    make_firm(name="上海别处公司", street=away)
    first = make_user("commissioner", display_name="张专员", street=home)
    second = make_user("commissioner", display_name="李专员", street=home)
    assign(full, first, "primary")
    assign(full, second, "backup")
    login_as("office")

    response = client.get(f"/firms/export.xlsx?street_id={home.id}")
    rows = exported(response)
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert list(rows[0]) == HEADERS + list(COMMISSIONER_HEADERS)
    by_code = {r[1]: r for r in rows[1:]}
    assert set(by_code) == {full.uscc, bare.uscc}
    assert by_code[full.uscc] == (
        full.name,
        full.uscc,
        "李雷",
        "I6513",
        "中",
        1234.5,
        0,
        ">=50000",
        by_code[full.uscc][8],
        "华阳路街道",
        "华阳路1号",
        "是",
        "否",
        "区级",
        "软件、独角兽",
        "待落户",
        "张专员",
        "李专员",
    )
    assert by_code[full.uscc][8].date() == date(2018, 3, 9)
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert sheet["A2"].value == full.name and sheet["A2"].data_type == "s"  # text, not a formula

    _url, page = preview(client, response.data, "export.xlsx")
    assert counts(page) == {"create": 0, "update": 0, "unchanged": 2, "reject": 0}
    assert COMMISSIONER_HEADERS[0] in page  # reported as ignored


def test_export_keeps_to_the_users_scope(client, login_as, make_street, make_firm, make_user):
    home, away = make_street(), make_street()
    leader = make_user("leader")
    linked = make_firm(street=away, leader_id=leader.id)
    own = make_firm(street=home)
    make_firm(street=away)

    login_as("street", street=home)
    rows = exported(client.get(f"/firms/export.xlsx?street_id={away.id}"))
    assert [r[1] for r in rows[1:]] == [own.uscc]

    client.post("/logout", data={"csrf_token": csrf_token(client, "/firms/")})
    login_as(leader)
    rows = exported(client.get("/firms/export.xlsx"))
    assert [r[1] for r in rows[1:]] == [linked.uscc]
    assert audit_count("firm.export") == 2


@pytest.mark.parametrize("role", ["department", "firm", "admin"])
def test_other_roles_may_not_export(client, login_as, role):
    login_as(role)
    assert client.get("/firms/export.xlsx").status_code == 403


def test_export_runs_a_fixed_number_of_statements(
    client, login_as, make_street, make_firm, make_user, assign, count_queries
):
    street = make_street()
    commissioner = make_user("commissioner", street=street)
    login_as("office")

    def statements_for(total: int) -> int:
        while firm_count() < total:
            assign(make_firm(street=street), commissioner)
        with count_queries() as queries:
            rows = exported(client.get("/firms/export.xlsx"))
        assert len(rows) == total + 1
        return len(queries)

    assert statements_for(10) == statements_for(60)
