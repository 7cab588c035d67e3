"""The policy catalog as the office uses it: the editor with its criteria rows, stale
edits, retiring, files, the list's filters, and the preview of how many firms each
criterion keeps."""

import io
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from crm.audit.models import AuditLog
from crm.extensions import db
from crm.policies import queries
from crm.policies.models import Policy, PolicyAttachment
from tests.conftest import english, login, post_form

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _fields(**overrides) -> dict:
    """The editor's fields as a browser posts them, two criteria rows filled."""
    return {
        "title": "小微企业吸纳就业补贴",
        "doc_number": "测人社规〔2026〕7号",
        "issuer": "区人力资源和社会保障局",
        "level": "district",
        "topic": "employment",
        "kind": "universal",
        "effective_from": "2026-01-01",
        "effective_to": "",
        "benefits": "每吸纳一人给予 2000 元补贴。",
        "how_to_apply": "向区人社局提交申请。",
        "review_conditions": "近三年无严重失信记录\n\n按时足额缴纳社保",
        "criteria-0-attribute": "size",
        "criteria-0-operator": "in",
        "criteria-0-value": ["small", "micro"],
        "criteria-1-attribute": "employees",
        "criteria-1-operator": "between",
        "criteria-1-value": ["10", "200"],
        "criteria-2-attribute": "",
        "criteria-2-operator": "",
        "criteria-2-value": "",
        **overrides,
    }


def _policy_count() -> int:
    return db.session.scalar(select(func.count(Policy.id)))


def test_the_office_adds_a_policy_and_reads_its_criteria_as_sentences(client, login_as):
    login_as("office")
    english(client)
    response = post_form(client, "/policies/new", _fields(no_application="y"))
    assert response.status_code == 302
    policy = db.session.scalar(select(Policy))
    assert [(c.attribute, c.operator, c.value) for c in policy.criteria] == [
        ("size", "in", ["small", "micro"]),
        ("employees", "between", [10, 200]),
    ]
    assert policy.review_conditions == ["近三年无严重失信记录", "按时足额缴纳社保"]
    assert policy.no_application is True

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Size class is one of Small、Micro" in page
    assert "Employees between 10 people to 200 people" in page
    assert "按时足额缴纳社保" in page
    assert "In force" in page
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "policy.create"))


def test_a_typed_criterion_without_the_helper_is_understood(client, login_as, make_street):
    """Without script the value is one text box: lists by commas, streets by name."""
    street = make_street(name="华阳路街道")
    login_as("office")
    fields = _fields(
        **{
            "criteria-0-attribute": "street",
            "criteria-0-operator": "in",
            "criteria-0-value": "华阳路街道",
            "criteria-1-attribute": "high_tech",
            "criteria-1-operator": "eq",
            "criteria-1-value": "yes",
        }
    )
    assert post_form(client, "/policies/new", fields).status_code == 302
    policy = db.session.scalar(select(Policy))
    assert [c.value for c in policy.criteria] == [[street.id], True]
    # And the editor shows the street by its name, for the next edit.
    assert "华阳路街道" in client.get(f"/policies/{policy.id}/edit").get_data(as_text=True)


def test_bad_criteria_keep_what_was_typed_and_say_what_is_wrong_on_each_row(client, login_as):
    login_as("office")
    english(client)
    fields = _fields(
        **{
            "criteria-0-attribute": "employees",
            "criteria-0-operator": "gte",
            "criteria-0-value": "很多",
            "criteria-1-attribute": "size",
            "criteria-1-operator": "gte",  # size takes no "at least"
            "criteria-1-value": "small",
            "criteria-2-attribute": "revenue",
            "criteria-2-operator": "between",
            "criteria-2-value": ["2000-10000", "<100"],
        }
    )
    response = post_form(client, "/policies/new", fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "很多 is not a number." in page
    assert "Size class cannot be tested with “at least”." in page
    assert "The lowest value is above the highest." in page
    # What was typed is still there, the rows' choices included.
    assert 'value="小微企业吸纳就业补贴"' in page
    assert 'value="很多"' in page
    assert '<option selected value="revenue">' in page
    assert _policy_count() == 0


def test_an_end_before_the_start_is_refused_with_the_form_kept(client, login_as):
    login_as("office")
    english(client)
    response = post_form(client, "/policies/new", _fields(effective_to="2025-12-31"))
    assert response.status_code == 422
    assert "The policy cannot end before it takes effect." in response.get_data(as_text=True)
    assert _policy_count() == 0


def test_the_same_document_number_and_title_twice_is_refused(client, login_as, make_policy):
    make_policy(title="小微企业吸纳就业补贴", doc_number="测人社规〔2026〕7号")
    login_as("office")
    english(client)
    response = post_form(client, "/policies/new", _fields())
    assert response.status_code == 422
    assert "this document number and title already" in response.get_data(as_text=True)
    assert _policy_count() == 1


def test_an_edit_replaces_the_criteria_and_an_edit_of_an_old_version_is_refused(
    client, login_as, make_policy
):
    policy = make_policy(criteria=[("size", "eq", "small")])
    login_as("office")
    english(client)
    url = f"/policies/{policy.id}/edit"
    old_version = policy.version
    fields = _fields(title="改后的标题", version=str(old_version))
    assert post_form(client, url, fields).status_code == 302
    db.session.refresh(policy)
    assert policy.title == "改后的标题"
    assert [c.attribute for c in policy.criteria] == ["size", "employees"]
    assert policy.version > old_version

    # Someone who opened the form before that edit saves: refused, their input kept.
    response = post_form(client, url, _fields(title="过时的修改", version=str(old_version)))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else changed this policy" in page
    assert 'value="过时的修改"' in page
    db.session.refresh(policy)
    assert policy.title == "改后的标题"


def test_a_retired_policy_stays_listed_but_no_longer_applies(client, login_as, make_policy):
    policy = make_policy(title="即将废止的政策")
    on = date(2026, 3, 1)
    assert [r.policy_id for r in queries.rules_in_force(on)] == [policy.id]
    login_as("office")
    english(client)
    url = f"/policies/{policy.id}/retire"
    form_url = f"/policies/{policy.id}"

    refused = post_form(client, url, {"reason": " ", "version": policy.version}, form_url=form_url)
    assert refused.status_code == 422
    response = post_form(
        client, url, {"reason": "被新政策替代", "version": policy.version}, form_url=form_url
    )
    assert response.status_code == 302

    assert queries.rules_in_force(on) == []
    page = client.get(form_url).get_data(as_text=True)
    assert "被新政策替代" in page and "Retired" in page
    assert "即将废止的政策" in client.get("/policies/?status=retired").get_data(as_text=True)
    assert "即将废止的政策" not in client.get("/policies/?status=in_force").get_data(as_text=True)

    assert post_form(client, f"/policies/{policy.id}/reinstate", {}, form_url=form_url)
    assert [r.policy_id for r in queries.rules_in_force(on)] == [policy.id]


def test_the_list_filters_by_kind_and_no_application_and_text(client, login_as, make_policy):
    make_policy(title="人才安居补贴", kind="individual", topic="housing")
    make_policy(title="高企认定奖励", no_application=True)
    make_policy(title="未来才生效的政策", effective_from=date(2099, 1, 1))
    login_as("street")

    def titles(query: str) -> set[str]:
        page = client.get(f"/policies/?{query}").get_data(as_text=True)
        wanted = ("人才安居补贴", "高企认定奖励", "未来才生效的政策")
        return {t for t in wanted if t in page}

    assert titles("kind=individual") == {"人才安居补贴"}
    assert titles("no_application=y") == {"高企认定奖励"}
    assert titles("q=安居") == {"人才安居补贴"}
    assert titles("status=not_yet") == {"未来才生效的政策"}
    assert titles("status=bogus") == {"人才安居补贴", "高企认定奖励", "未来才生效的政策"}


def test_the_list_pages_with_a_fixed_number_of_statements(
    client, login_as, make_policy, count_queries
):
    for n in range(30):
        make_policy(title=f"政策{n:02d}", criteria=[("size", "eq", "small")])
    login_as("office")
    client.get("/policies/")
    with count_queries() as statements:
        response = client.get("/policies/")
    page = response.get_data(as_text=True)
    assert "政策29" in page and "政策04" not in page  # newest first, 25 a page
    assert len(statements) < 12


def test_files_are_uploaded_checked_downloaded_and_deleted(
    app, client, login_as, make_user, make_policy
):
    policy = make_policy()
    login_as("office")
    english(client)
    url = f"/policies/{policy.id}/attachments"
    form_url = f"/policies/{policy.id}"

    refused = post_form(
        client, url, {"files": (io.BytesIO(b"MZ\x90\x00\x03"), "指南.pdf")}, form_url=form_url
    )
    assert refused.status_code == 422
    assert "is not a file type we accept" in refused.get_data(as_text=True)

    response = post_form(
        client, url, {"files": (io.BytesIO(PDF), "申报指南.pdf")}, form_url=form_url
    )
    assert response.status_code == 302
    row = db.session.scalar(select(PolicyAttachment))
    file_url = f"/policies/{policy.id}/attachments/{row.id}"
    download = client.get(file_url)
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()

    leader = app.test_client()
    login(leader, make_user("leader").username)
    by_leader = leader.get(file_url)
    assert by_leader.data == PDF
    by_leader.close()

    deleted = post_form(client, f"{file_url}/delete", {}, form_url=form_url)
    assert deleted.status_code == 302
    assert db.session.scalar(select(PolicyAttachment)) is None
    assert client.get(file_url).status_code == 404
    assert not any(Path(app.config["UPLOAD_FOLDER"], "policy_attachments").iterdir())


def test_the_preview_counts_the_firms_each_criterion_keeps(client, login_as, make_firm):
    make_firm(size="small", employees=120)
    make_firm(size="small", employees=20)
    make_firm(size="large", employees=None)  # no headcount on record: unknown, not kept
    make_firm(size="small", employees=500, status="moved_out")  # not an active firm
    login_as("office")
    fields = _fields(
        **{
            "criteria-0-attribute": "size",
            "criteria-0-operator": "in",
            "criteria-0-value": ["small"],
            "criteria-1-attribute": "employees",
            "criteria-1-operator": "gte",
            "criteria-1-value": "abc",
            "criteria-2-attribute": "employees",
            "criteria-2-operator": "gte",
            "criteria-2-value": "50",
        }
    )
    response = post_form(client, "/policies/preview", fields, form_url="/policies/new")
    assert response.status_code == 200
    data = response.get_json()
    assert data["total"] == 3
    first, bad, last = data["rows"]
    assert (first["row"], first["kept"], first["unknown"], first["remaining"]) == (
        "criteria-0",
        2,
        0,
        2,
    )
    assert bad["row"] == "criteria-1" and bad["error"] and "kept" not in bad
    # The row that cannot be used yet is left out of the running count.
    assert (last["kept"], last["unknown"], last["remaining"]) == (1, 1, 1)


def test_the_preview_needs_the_forms_csrf_token(client, login_as):
    login_as("office")
    response = client.post("/policies/preview", data={"criteria-0-attribute": "size"})
    assert response.status_code == 400
