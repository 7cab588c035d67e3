"""The package PDF: the firm's name and the policies in Chinese, an embedded CJK font,
nothing fetched but the application's own static files, and a time limit."""

import subprocess
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from weasyprint.urls import URLFetchingError

from crm.extensions import db
from crm.policies import pdf
from crm.policies.packages import issue
from crm.policies.pdf_worker import StaticOnlyFetcher, write_pdf

ON = date(2026, 3, 1)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "package.pdf"
    path.write_bytes(data)
    result = subprocess.run(  # noqa: S603
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],  # noqa: S607
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def pdf_fonts(data: bytes, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(data)
    result = subprocess.run(  # noqa: S603
        ["pdffonts", str(path)],  # noqa: S607
        capture_output=True,
        check=True,
        text=True,
    )
    return [line.split() for line in result.stdout.splitlines()[2:]]


@pytest.fixture
def recorder():
    """A local HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def package(make_firm, make_policy, make_user, assign):
    """A package with one universal and one confirmed individual policy."""

    def _make(firm_name="上海华阳示例科技有限公司", **policy_fields):
        firm = make_firm(name=firm_name, address="长宁区华阳路100号")
        commissioner = make_user("commissioner", street=firm.street, display_name="王晓明")
        assign(firm, commissioner, "primary")
        universal = make_policy(title="高新技术企业认定奖励", no_application=True, **policy_fields)
        individual = make_policy(title="人才公寓租金补贴", kind="individual")
        package = issue(
            firm, by=commissioner, on=ON, channel="in_person", confirmed=[individual.id]
        )
        db.session.commit()
        return package, [universal, individual]

    return _make


def test_the_pdf_holds_the_firm_and_every_policy_in_chinese(app, package, tmp_path):
    issued, policies = package()
    document = pdf.document_for(issued)
    db.session.commit()

    text = pdf_text(document.pdf, tmp_path)
    assert "上海华阳示例科技有限公司" in text
    assert issued.firm.uscc in text
    for policy in policies:
        assert policy.title in text
        assert policy.doc_number in text
    for heading in ("一、普惠政策包", "二、个性政策包", "三、诉求互动包", "免申即享", "王晓明"):
        assert heading in text
    assert "区投资促进办公室" in text
    assert "第1页" in text.replace(" ", "")


def test_the_pdf_embeds_a_cjk_font(app, package, tmp_path):
    issued, _ = package()
    fonts = pdf_fonts(pdf.document_for(issued).pdf, tmp_path)
    cjk = [row for row in fonts if "CJK" in row[0]]
    assert cjk, fonts
    # Columns end with: emb sub uni object-id generation.
    assert all(row[-5] == "yes" for row in cjk), cjk


def test_the_pdf_is_rendered_once_and_kept(app, package, monkeypatch):
    issued, _ = package()
    first = pdf.document_for(issued)
    db.session.commit()
    assert first.pdf.startswith(b"%PDF")
    assert first.render_ms >= 0

    def no_second_render(snapshot):
        raise AssertionError("rendered again")

    monkeypatch.setattr(pdf, "render_snapshot", no_second_render)
    db.session.expire_all()
    assert pdf.document_for(issued).pdf == first.pdf


def test_typed_addresses_are_printed_not_fetched(app, package, recorder, tmp_path):
    base, hits = recorder
    issued, _ = package(
        firm_name="上海file:///etc/passwd科技有限公司",
        benefits=f"详见 {base}/x 与 <img src='{base}/img.png'>",
        how_to_apply=f'<link rel="stylesheet" href="{base}/style.css">',
    )

    text = pdf_text(pdf.document_for(issued).pdf, tmp_path)

    assert "file:///etc/passwd" in text
    assert f"{base}/x" in text
    assert f"<img src='{base}/img.png'>" in text  # the markup typed is shown as text
    assert "root:" not in text
    assert hits == []


def test_the_template_gets_only_static_files(app, recorder, tmp_path):
    base, hits = recorder
    static = app.static_folder
    html = f"""<html><head>
      <link rel="stylesheet" href="css/package-pdf.css">
      <link rel="stylesheet" href="file:///etc/passwd">
      <link rel="stylesheet" href="{base}/remote.css">
      <style>@import url("{base}/imported.css");
        p {{ background: url("data:image/png;base64,iVBORw0KGgo=") }}</style>
    </head><body><p>企业服务包</p>
      <img src="{base}/image.png"><img src="../config.py"><img src="/etc/hostname">
    </body></html>"""

    class Spy(StaticOnlyFetcher):
        served: list[str] = []
        refused: list[str] = []

        def fetch(self, url, headers=None):
            try:
                response = super().fetch(url, headers)
            except URLFetchingError:
                self.refused.append(url)
                raise
            self.served.append(url)
            return response

    data = write_pdf(html, static, Spy(static))
    assert [Path(url).name for url in Spy.served] == ["package-pdf.css"]
    assert any(url.startswith("file:///etc/passwd") for url in Spy.refused)
    assert any(url.startswith("data:") for url in Spy.refused)
    assert any(url.endswith("config.py") for url in Spy.refused)
    assert "企业服务包" in pdf_text(data, tmp_path)

    # And in the renderer's own process, as the application uses it.
    text = pdf_text(pdf.render_html(html), tmp_path)
    assert "root:" not in text
    assert hits == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x",
        "https://example.com/a.css",
        "data:text/css;base64,Ym9keXt9",
        "file://otherhost{static}/css/app.css",
        "file://{static}/../config.py",
        "file://{static}/css/missing.css",
    ],
)
def test_the_fetcher_refuses_everything_else(app, url):
    static = app.static_folder
    with pytest.raises(URLFetchingError):
        StaticOnlyFetcher(static).fetch(url.replace("{static}", static))


def test_the_fetcher_serves_the_static_folder(app):
    response = StaticOnlyFetcher(app.static_folder).fetch(
        Path(app.static_folder, "css", "package-pdf.css").as_uri()
    )
    assert b"@page" in response.read()
    assert response.content_type == "text/css"


def test_a_render_past_its_time_limit_is_stopped(app, package):
    issued, _ = package()
    app.config["PDF_RENDER_TIMEOUT"] = 0.001
    with pytest.raises(pdf.RenderTimeout):
        pdf.document_for(issued)
    db.session.rollback()

    app.config["PDF_RENDER_TIMEOUT"] = 30
    assert pdf.document_for(issued).pdf.startswith(b"%PDF")  # a new renderer took over
