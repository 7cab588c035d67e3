"""GET /api/v1/firms/{id}/packages, its PDFs, and /api/v1/firms/{id}/policies."""

from datetime import date

import pytest

from crm.extensions import db
from crm.policies.packages import issue
from tests.test_api_world import Caller, get_token

FAKE_PDF = b"%PDF-1.7\n% a package, drawn for the test\n%%EOF\n"


@pytest.fixture
def firm(make_firm):
    return make_firm(name="上海华阳云帆科技有限公司", employees=40, size="small", high_tech=False)


@pytest.fixture
def policies(make_policy):
    return {
        "eligible": make_policy(
            [("employees", "gte", 10)],
            title="失业保险稳岗返还",
            doc_number="沪人社规〔2025〕8号",
            no_application=True,
        ),
        "pending": make_policy(
            [("industry", "prefix", ["I65"])],
            title="人才公寓优先配租",
            kind="individual",
            review_conditions=["人才本人在本市无自有住房"],
        ),
        "near": make_policy(
            [("high_tech", "eq", True), ("size", "in", ["small", "medium"])], title="科技信贷贴息"
        ),
        "far": make_policy(
            [("high_tech", "eq", True), ("employees", "gte", 500)], title="科技小巨人企业培育"
        ),
        "later": make_policy(
            [("employees", "gte", 1)], title="展会补贴", effective_from=date(2099, 1, 1)
        ),
    }


@pytest.fixture
def as_firm(client, make_user, firm):
    user = make_user("firm", firm=firm)
    return Caller(client, get_token(client, user.username))


def _issue(firm, *, on=date(2026, 3, 2), channel="in_person", confirmed=()):
    package = issue(firm, by=None, on=on, channel=channel, confirmed=confirmed)
    db.session.commit()
    return package


def test_packages_newest_first_as_issued(as_firm, firm, policies, monkeypatch):
    monkeypatch.setattr("crm.policies.pdf.render_snapshot", lambda snapshot: FAKE_PDF)
    first = _issue(firm, channel="meeting")
    second = _issue(firm, on=date(2026, 4, 1), channel="email", confirmed=[policies["pending"].id])
    first.acknowledged_at = first.issued_at
    db.session.commit()
    policies["eligible"].title = "改名后的政策"
    db.session.commit()

    answer = as_firm.get(f"/firms/{firm.id}/packages")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["total"] == 2
    newest, oldest = body["items"]
    assert (newest["id"], newest["number"], newest["channel"]) == (second.id, 2, "email")
    assert newest["as_of"] == "2026-04-01" and newest["acknowledged_at"] is None
    assert oldest["number"] == 1 and oldest["acknowledged_at"].endswith("Z")  # UTC, said so
    titles = {p["title"]: p for p in newest["policies"]}
    assert set(titles) == {"失业保险稳岗返还", "人才公寓优先配租"}  # as issued: the old title
    stable = titles["失业保险稳岗返还"]
    assert stable["part"] == "universal" and stable["no_application"] is True
    assert stable["doc_number"] == "沪人社规〔2025〕8号"
    assert stable["benefits"] and stable["how_to_apply"]
    (reason,) = stable["reasons"]  # frozen at issue, in the office's language
    assert reason["status"] == "met" and "40" in reason["text"]
    assert titles["人才公寓优先配租"]["part"] == "individual"
    assert titles["人才公寓优先配租"]["review_conditions"] == ["人才本人在本市无自有住房"]

    pdf = as_firm.get(newest["pdf"].removeprefix("/api/v1"))
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data == FAKE_PDF


def test_another_firms_packages_are_not_found(as_firm, make_firm, firm, policies):
    other = make_firm(name="上海另一家贸易有限公司")
    theirs = _issue(other)
    assert as_firm.get(f"/firms/{other.id}/packages").status_code == 404
    assert as_firm.get(f"/firms/{other.id}/packages/{theirs.id}/pdf").status_code == 404
    # Their package under our own firm's address is not found either.
    answer = as_firm.get(f"/firms/{firm.id}/packages/{theirs.id}/pdf")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"


def test_matches_with_their_reasons(as_firm, firm, policies):
    answer = as_firm.get(f"/firms/{firm.id}/policies?lang=en")
    assert answer.status_code == 200
    body = answer.get_json()
    by_id = {m["policy_id"]: m for m in body["items"]}
    assert [m["outcome"] for m in body["items"]] == ["eligible", "pending_review", "near_miss"]
    assert policies["far"].id not in by_id and policies["later"].id not in by_id
    eligible = by_id[policies["eligible"].id]
    assert eligible["title"] == "失业保险稳岗返还"
    assert eligible["doc_number"] == "沪人社规〔2025〕8号"
    assert (eligible["kind"], eligible["level"], eligible["no_application"]) == (
        "universal",
        "district",
        True,
    )
    assert eligible["summary"] == "Every criterion is met."
    assert eligible["reasons"] == [
        {
            "attribute": "employees",
            "operator": "gte",
            "value": 10,
            "status": "met",
            "firm_value": 40,
            "text": "Employees at least 10 people: met (the firm: 40 people)",
        }
    ]
    near = by_id[policies["near"].id]
    assert near["summary"] == "One criterion is not met: High-tech enterprise is yes."
    assert [(r["attribute"], r["status"], r["firm_value"]) for r in near["reasons"]] == [
        ("high_tech", "unmet", False),
        ("size", "met", "small"),
    ]
    pending = by_id[policies["pending"].id]
    assert pending["review_conditions"] == ["人才本人在本市无自有住房"]


def test_matches_filtered_by_outcome_and_day(as_firm, firm, policies):
    answer = as_firm.get(f"/firms/{firm.id}/policies?outcome=not_eligible")
    assert [m["policy_id"] for m in answer.get_json()["items"]] == [policies["far"].id]
    answer = as_firm.get(f"/firms/{firm.id}/policies?on=2099-06-01&outcome=eligible")
    body = answer.get_json()
    assert body["on"] == "2099-06-01"
    assert {m["policy_id"] for m in body["items"]} == {
        policies["eligible"].id,
        policies["later"].id,
    }
    answer = as_firm.get(f"/firms/{firm.id}/policies?on=2025-06-01")
    assert answer.get_json()["items"] == []  # nothing was in force yet


@pytest.mark.parametrize(
    ("query", "field"),
    [("on=2026-13-01", "on"), ("on=yesterday", "on"), ("outcome=maybe", "outcome")],
)
def test_a_bad_query_is_refused_with_reasons(as_firm, firm, query, field):
    answer = as_firm.get(f"/firms/{firm.id}/policies?{query}")
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_another_firms_matches_are_not_found(as_firm, make_firm, policies):
    other = make_firm(name="上海另一家贸易有限公司")
    answer = as_firm.get(f"/firms/{other.id}/policies")
    assert answer.status_code == 404
    assert "上海另一家贸易有限公司" not in answer.get_data(as_text=True)


def test_staff_see_the_firms_of_their_street_only(client, make_user, make_firm, firm, policies):
    _issue(firm)
    office = Caller(client, get_token(client, make_user("office").username))
    assert office.get(f"/firms/{firm.id}/packages").get_json()["total"] == 1
    assert office.get(f"/firms/{firm.id}/policies").status_code == 200
    street = make_user("street")  # another street than the firm's
    caller = Caller(client, get_token(client, street.username))
    assert caller.get(f"/firms/{firm.id}/packages").status_code == 403
    assert caller.get(f"/firms/{firm.id}/policies").status_code == 403
    department = make_user("department")
    caller = Caller(client, get_token(client, department.username))
    assert caller.get(f"/firms/{firm.id}/packages").status_code == 403


def test_a_pdf_that_cannot_be_drawn_is_a_503(as_firm, firm, policies, monkeypatch):
    from crm.policies import pdf

    def fail(snapshot):
        raise pdf.RenderError("the renderer died")

    monkeypatch.setattr("crm.policies.pdf.render_snapshot", fail)
    package = _issue(firm)
    answer = as_firm.get(f"/firms/{firm.id}/packages/{package.id}/pdf")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "pdf_unavailable"
