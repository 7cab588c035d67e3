"""The firm's packages and matched policies in its portal: the list, a package as issued,
its PDF, the acknowledgement of receipt, and "policies for us"."""

from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.policies.models import PackageDocument, ServicePackage
from crm.policies.packages import issue
from tests.conftest import csrf_token, english

FAKE_PDF = b"%PDF-1.7\n% a package, drawn for the test\n%%EOF\n"


@pytest.fixture
def fake_render(monkeypatch):
    """Count renders and answer fake bytes: what is tested is who gets which document."""
    calls = []

    def render(snapshot):
        calls.append(snapshot["number"])
        return FAKE_PDF

    monkeypatch.setattr("crm.policies.pdf.render_snapshot", render)
    return calls


@pytest.fixture
def firm(make_firm):
    return make_firm(name="上海华阳云帆科技有限公司", employees=40, size="small", high_tech=False)


@pytest.fixture
def policies(make_policy):
    """For the firm (I65, small, 40 people, not high-tech): eligible, pending review, a near
    miss and a policy it is far from."""
    return {
        "eligible": make_policy(
            [("employees", "gte", 10)], title="失业保险稳岗返还", no_application=True
        ),
        "pending": make_policy(
            [("industry", "prefix", ["I65"])],
            title="人才公寓优先配租",
            kind="individual",
            review_conditions=["人才本人在本市无自有住房"],
        ),
        "near": make_policy(
            [("high_tech", "eq", True), ("size", "in", ["small", "medium"])],
            title="科技信贷贴息",
        ),
        "far": make_policy(
            [("high_tech", "eq", True), ("employees", "gte", 500)], title="科技小巨人企业培育"
        ),
    }


@pytest.fixture
def firm_user(login_as, firm, client):
    user = login_as("firm", firm=firm)
    english(client)
    return user


def _issue(firm, on=date(2026, 3, 2), channel="in_person", confirmed=()):
    package = issue(firm, by=None, on=on, channel=channel, confirmed=confirmed)
    db.session.commit()
    return package


def test_the_list_shows_the_firms_packages_newest_first(client, firm, policies, firm_user):
    first = _issue(firm, channel="meeting")
    second = _issue(firm, on=date(2026, 4, 1), channel="email")
    first.acknowledged_at = first.issued_at
    db.session.commit()
    html = client.get("/portal/packages").get_data(as_text=True)
    assert html.index(f'data-package="{second.id}"') < html.index(f'data-package="{first.id}"')
    assert "Service package, version 2" in html and "Service package, version 1" in html
    assert "By email" in html and "At a meeting" in html
    assert html.count("data-acknowledged") == 1 and html.count("data-unacknowledged") == 1


def test_a_firm_without_packages_is_told_so(client, firm_user):
    html = client.get("/portal/packages").get_data(as_text=True)
    assert "data-empty" in html
    assert "has not received a service package yet" in html


def test_a_package_is_shown_as_issued(client, firm, policies, firm_user):
    package = _issue(firm, confirmed=[policies["pending"].id])
    policies["eligible"].title = "改名后的政策"
    db.session.commit()
    html = client.get(f"/portal/packages/{package.id}").get_data(as_text=True)
    assert "失业保险稳岗返还" in html and "改名后的政策" not in html
    assert "人才公寓优先配租" in html  # confirmed individual policy
    assert "科技信贷贴息" not in html  # a near miss is not in the package
    assert "No application needed" in html
    assert "人才本人在本市无自有住房" in html  # the condition a person judges
    assert 'id="acknowledge"' in html


def test_another_firms_package_is_not_found(client, make_firm, policies, firm_user, fake_render):
    other = _issue(make_firm(name="上海另一家贸易有限公司"))
    assert client.get(f"/portal/packages/{other.id}").status_code == 404
    assert client.get(f"/portal/packages/{other.id}/pdf").status_code == 404
    token = csrf_token(client, "/portal/packages")
    response = client.post(f"/portal/packages/{other.id}/acknowledge", data={"csrf_token": token})
    assert response.status_code == 404
    assert db.session.get(ServicePackage, other.id).acknowledged_at is None
    assert fake_render == []


def test_the_pdf_is_rendered_once_and_downloaded(client, firm, policies, firm_user, fake_render):
    package = _issue(firm)
    for _ in range(2):
        response = client.get(f"/portal/packages/{package.id}/pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert "%E7%AC%AC1%E7%89%88.pdf" in response.headers["Content-Disposition"]  # 第1版
        assert response.data == FAKE_PDF
    assert fake_render == [1]  # the second download read the stored document
    assert db.session.scalar(select(func.count()).select_from(PackageDocument)) == 1


def test_the_firm_acknowledges_receipt_once(client, firm, policies, firm_user):
    package = _issue(firm)
    url = f"/portal/packages/{package.id}"
    token = csrf_token(client, url)
    response = client.post(f"{url}/acknowledge", data={"csrf_token": token, "note": "行政部收"})
    assert response.status_code == 302
    db.session.refresh(package)
    assert package.acknowledged_at is not None
    assert package.acknowledged_by_id == firm_user.id
    assert package.acknowledgement == "行政部收"
    html = client.get(url).get_data(as_text=True)
    assert 'id="acknowledge"' not in html and "行政部收" in html

    again = client.post(f"{url}/acknowledge", data={"csrf_token": token})
    assert again.status_code == 409
    assert "already been acknowledged" in again.get_data(as_text=True)


def test_acknowledging_needs_the_csrf_token(client, firm, policies, firm_user):
    package = _issue(firm)
    response = client.post(f"/portal/packages/{package.id}/acknowledge", data={})
    assert response.status_code == 400
    db.session.refresh(package)
    assert package.acknowledged_at is None


def test_a_note_too_long_is_refused_with_the_form(client, firm, policies, firm_user):
    package = _issue(firm)
    url = f"/portal/packages/{package.id}"
    data = {"csrf_token": csrf_token(client, url), "note": "收" * 201}
    response = client.post(f"{url}/acknowledge", data=data)
    assert response.status_code == 422
    assert "收" * 201 in response.get_data(as_text=True)  # what was typed is kept
    db.session.refresh(package)
    assert package.acknowledged_at is None


def test_policies_for_us_show_matches_with_their_reasons(client, policies, firm_user):
    html = unescape(client.get("/portal/policies").get_data(as_text=True))
    for key in ("eligible", "pending", "near"):
        assert f'data-policy="{policies[key].id}"' in html
    assert f'data-policy="{policies["far"].id}"' not in html  # not eligible: not shown
    assert 'data-outcome="eligible"' in html
    assert 'data-outcome="pending_review"' in html
    assert 'data-outcome="near_miss"' in html
    assert "One criterion is not met: High-tech enterprise is yes." in html
    assert "not met, the firm's High-tech enterprise is no" in html
    assert "Employees at least 10 people: met (the firm: 40 people)" in html
    assert "To be reviewed: 人才本人在本市无自有住房." in html


def test_policies_for_us_filter_by_outcome(client, policies, firm_user):
    html = client.get("/portal/policies?outcome=near_miss").get_data(as_text=True)
    assert f'data-policy="{policies["near"].id}"' in html
    assert f'data-policy="{policies["eligible"].id}"' not in html
    # An outcome the firm is not shown is ignored, not an error.
    html = client.get("/portal/policies?outcome=not_eligible").get_data(as_text=True)
    assert f'data-policy="{policies["far"].id}"' not in html
    assert f'data-policy="{policies["eligible"].id}"' in html


def test_policies_for_us_without_any_match(client, firm_user):
    html = client.get("/portal/policies").get_data(as_text=True)
    assert "data-empty" in html


@pytest.mark.parametrize("role", ["office", "street", "commissioner", "leader"])
def test_staff_are_refused_the_portal_pages(client, login_as, firm, role):
    package = _issue(firm)
    login_as(role)
    for url in ("/portal/packages", f"/portal/packages/{package.id}", "/portal/policies"):
        assert client.get(url).status_code == 403


def test_a_pdf_that_cannot_be_drawn_is_said_so(client, firm, policies, firm_user, monkeypatch):
    from crm.policies import pdf

    def fail(snapshot):
        raise pdf.RenderError("the renderer died")

    monkeypatch.setattr("crm.policies.pdf.render_snapshot", fail)
    package = _issue(firm)
    response = client.get(f"/portal/packages/{package.id}/pdf")
    assert response.status_code == 503
    assert "could not be produced just now" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PackageDocument)) == 0
