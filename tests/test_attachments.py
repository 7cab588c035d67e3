"""Attachments (issue 3): checked by content, stored outside the web root under generated
names, downloaded only by those who may see the demand."""

import hashlib
import html
import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from crm import ROOT
from crm.demands import services
from crm.demands.models import Attachment, Demand, DemandEvent
from crm.demands.services import Unit
from crm.extensions import db
from tests.conftest import csrf_token, login, post_form


def english(client) -> None:
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
ALLOWED = {
    "营业执照.pdf": (PDF, "application/pdf"),
    "现场照片.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png"),
    "photo.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 32, "image/jpeg"),
    "map.gif": (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 16, "image/gif"),
    "申请书.docx": (
        _zip("[Content_Types].xml", "word/document.xml"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "清单.xlsx": (
        _zip("[Content_Types].xml", "xl/workbook.xml"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "旧版.doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/x-ole-storage"),
    "说明.txt": ("企业需要扩大厂房面积。\n联系人：张伟\n".encode(), "text/plain; charset=utf-8"),
    "说明-gbk.txt": ("企业需要扩大厂房面积。\r\n".encode("gb18030"), "text/plain; charset=gb18030"),
}
REFUSED = {
    "invoice.pdf": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
    "page.txt": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "logo.png": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
    "archive.docx": _zip("payload.exe"),
}


@pytest.fixture
def world(make_street, make_department, make_firm, make_user):
    home = make_street()
    dept = make_department(name="区规划资源局")
    firm = make_firm(street=home)
    other_firm = make_firm(street=home)
    return {
        "dept": dept,
        "firm": firm,
        "office": make_user("office"),
        "handler": make_user("department", department=dept),
        "outsider": make_user("department"),
        "firm_user": make_user("firm", firm=firm),
        "other_firm_user": make_user("firm", firm=other_firm),
    }


def _intake(client, firm, category, files, **overrides):
    data = {
        "firm_id": firm.id,
        "category_id": category("OTHER").id,
        "title": "用地规划咨询",
        "description": "企业拟扩建厂房，咨询用地规划。",
        "urgency": "normal",
        "channel": "visit",
        "attachments": [(io.BytesIO(content), name) for name, content in files],
        **overrides,
    }
    return post_form(client, "/demands/new", data)


def _stored(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "attachments"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def with_file(app, world, make_demand):
    """A demand of ``firm`` with one attachment, dispatched to ``dept``."""

    def _make(name="营业执照.pdf", content=PDF, *, internal=False):
        from crm.demands import attachments

        demand = make_demand(world["firm"], actor=world["office"])
        services.accept_demand(demand, actor=world["office"])
        services.dispatch_demand(
            demand, actor=world["office"], level=3, lead=Unit(department=world["dept"])
        )
        upload = attachments.Upload(name, attachments.sniff(content), content)
        (row,) = attachments.store(demand, [upload], actor=world["office"], internal=internal)
        db.session.commit()
        return demand, row

    return _make


# -- checking by content -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_allowed_types_are_accepted_by_content(app, client, world, category, name):
    content, content_type = ALLOWED[name]
    login(client, world["office"].username)
    response = _intake(client, world["firm"], category, [(name, content)])
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    row = db.session.scalar(select(Attachment))
    assert (row.filename, row.content_type, row.size) == (name, content_type, len(content))
    assert row.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_other_content_is_refused_whatever_its_name(app, client, world, category, name):
    login(client, world["office"].username)
    english(client)
    response = _intake(
        client,
        world["firm"],
        category,
        [("说明.txt", ALLOWED["说明.txt"][0]), (name, REFUSED[name])],
    )
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert f"{name} is not a file type we accept" in page
    assert 'value="用地规划咨询"' in page  # the rest of the form is kept
    assert db.session.scalar(select(func.count()).select_from(Demand)) == 0
    assert _stored(app) == []


def test_a_file_over_the_per_file_limit_is_refused_with_413(app, client, world, category):
    # Under the 500 KB past which the test client spools a request body to a file.
    app.config["ATTACHMENT_MAX_MB"] = 0.25
    login(client, world["office"].username)
    english(client)
    big = b"%PDF-1.7\n" + b"0" * (256 * 1024)
    response = _intake(client, world["firm"], category, [("扫描件.pdf", big)])
    assert response.status_code == 413
    assert "扫描件.pdf is larger than 0.25 MB." in html.unescape(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Demand)) == 0


def test_files_are_stored_outside_the_web_root_under_generated_names(app, client, world, category):
    login(client, world["office"].username)
    _intake(client, world["firm"], category, [("营业执照.pdf", PDF)])
    row = db.session.scalar(select(Attachment))
    (path,) = _stored(app)
    assert path.name == row.stored_name != row.filename
    assert "营业执照" not in path.name and not path.name.endswith(".pdf")
    assert path.read_bytes() == PDF
    static = (ROOT / "crm" / "static").resolve()
    assert not path.resolve().is_relative_to(static)


# -- adding to a demand ----------------------------------------------------------------------


def test_staff_add_files_to_a_demand_and_the_timeline_says_so(client, world, with_file):
    demand, _ = with_file()
    login(client, world["handler"].username)
    response = post_form(
        client,
        f"/demands/{demand.id}/attachments",
        {
            "attach-version": demand.version,
            "attach-files": [(io.BytesIO(ALLOWED["清单.xlsx"][0]), "清单.xlsx")],
        },
        form_url="/account/password",
    )
    assert response.status_code == 302
    assert [a.filename for a in demand.attachments] == ["营业执照.pdf", "清单.xlsx"]
    event = db.session.scalar(select(DemandEvent).where(DemandEvent.kind == "attachment_added"))
    assert event.data["files"] == ["清单.xlsx"] and event.actor_id == world["handler"].id


def test_a_refused_file_on_the_demand_page_says_why(client, world, with_file):
    demand, _ = with_file()
    login(client, world["office"].username)
    english(client)
    response = post_form(
        client,
        f"/demands/{demand.id}/attachments",
        {
            "attach-version": demand.version,
            "attach-files": [(io.BytesIO(REFUSED["page.txt"]), "page.txt")],
        },
        form_url="/account/password",
    )
    assert response.status_code == 422
    assert "page.txt is not a file type we accept" in response.get_data(as_text=True)
    assert len(demand.attachments) == 1


# -- downloading ---------------------------------------------------------------------------


def test_an_allowed_user_downloads_the_bytes_under_the_original_name(client, world, with_file):
    demand, row = with_file()
    for user in (world["office"], world["handler"], world["firm_user"]):
        login(client, user.username)
        response = client.get(f"/demands/{demand.id}/attachments/{row.id}")
        assert response.status_code == 200
        assert response.data == PDF
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert f"filename*=UTF-8''{quote('营业执照.pdf')}" in disposition
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})


def test_the_uploaders_name_is_kept_without_folders_or_quotes(client, world, category):
    login(client, world["office"].username)
    _intake(client, world["firm"], category, [("../../etc/pass<wd>.txt", b"plain text\n")])
    row = db.session.scalar(select(Attachment))
    assert row.filename == "passwd.txt"
    response = client.get(f"/demands/{row.demand_id}/attachments/{row.id}")
    response.close()
    assert response.headers["Content-Disposition"] == "attachment; filename=passwd.txt"


def test_another_firms_user_gets_404(client, world, with_file):
    demand, row = with_file()
    login(client, world["other_firm_user"].username)
    assert client.get(f"/demands/{demand.id}/attachments/{row.id}").status_code == 404


def test_a_department_not_involved_gets_403(client, world, with_file):
    demand, row = with_file()
    login(client, world["outsider"].username)
    assert client.get(f"/demands/{demand.id}/attachments/{row.id}").status_code == 403


def test_the_firm_never_gets_an_internal_attachment(client, world, with_file):
    demand, row = with_file(name="内部研判.pdf", internal=True)
    login(client, world["firm_user"].username)
    assert client.get(f"/demands/{demand.id}/attachments/{row.id}").status_code == 404
    assert "内部研判.pdf" not in client.get(f"/demands/{demand.id}").get_data(as_text=True)


def test_an_attachment_of_another_demand_is_not_found(client, world, with_file):
    demand, _ = with_file()
    _, row = with_file()
    login(client, world["office"].username)
    assert client.get(f"/demands/{demand.id}/attachments/{row.id}").status_code == 404


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ('C:\\Users\\张伟\\"报告".pdf', "报告.pdf"),
        ("a\r\nX-Evil: 1.txt", "aX-Evil 1.txt"),
        ("...", "attachment"),
    ],
)
def test_file_names_are_cleaned_for_display_and_the_download_header(given, kept):
    from crm.demands.attachments import clean_filename

    assert clean_filename(given) == kept
    long = clean_filename("说明" * 150 + ".docx")
    assert len(long) <= 200 and long.endswith(".docx")
