"""One policy against every firm: the candidate list each user sees within their scope,
the reasons given, the date it is worked out for, and the Excel export."""

import html
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.extensions import db
from tests.conftest import english, login


@pytest.fixture
def district(make_street, make_firm, make_policy):
    """A high-tech policy for small firms, and firms of two streets it finds or not."""
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    firms = {
        "eligible": make_firm(name="华阳合格科技", street=home, high_tech=True, employees=120),
        "pending": make_firm(name="华阳待核科技", street=home, high_tech=True, size=None),
        "near": make_firm(name="华阳差一项制造", street=home, high_tech=True, size="large"),
        "not": make_firm(name="华阳不符贸易", street=home, size="large"),
        "away": make_firm(name="新泾合格科技", street=away, high_tech=True),
        "gone": make_firm(name="华阳已迁出科技", street=home, high_tech=True, status="moved_out"),
    }
    policy = make_policy(
        title="高新技术企业奖励",
        no_application=True,
        criteria=[("high_tech", "eq", True), ("size", "in", ["small", "micro"])],
        effective_to=date(2099, 12, 31),
    )
    return {"home": home, "away": away, "firms": firms, "policy": policy}


def _names(page: str, district) -> set[str]:
    return {f.name for f in district["firms"].values() if f.name in page}


def test_the_office_sees_every_firm_the_policy_finds_with_the_reasons(client, login_as, district):
    login_as("office")
    english(client)
    url = f"/policies/{district['policy'].id}/candidates"
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert _names(page, district) == {
        "华阳合格科技",
        "华阳待核科技",
        "华阳差一项制造",
        "新泾合格科技",
    }
    assert "Near miss" in page and "Eligible pending review" in page
    assert "Size class is one of Small、Micro: not met, the firm's Size class is Large" in page
    assert "the firm's Size class is not on record" in page
    firm = district["firms"]["eligible"]
    assert f'href="/firms/{firm.id}"' in page


def test_a_street_sees_only_the_firms_of_its_street(app, client, login_as, make_user, district):
    login_as("commissioner", street=district["home"])
    page = client.get(f"/policies/{district['policy'].id}/candidates").get_data(as_text=True)
    assert "新泾合格科技" not in page
    assert "华阳合格科技" in page

    other = app.test_client()
    login(other, make_user("street", street=district["away"]).username)
    page = other.get(f"/policies/{district['policy'].id}/candidates").get_data(as_text=True)
    assert _names(page, district) == {"新泾合格科技"}


def test_the_list_filters_by_outcome(client, login_as, district):
    login_as("office")
    url = f"/policies/{district['policy'].id}/candidates?outcome=near_miss"
    assert _names(client.get(url).get_data(as_text=True), district) == {"华阳差一项制造"}
    url = f"/policies/{district['policy'].id}/candidates?outcome=eligible"
    assert _names(client.get(url).get_data(as_text=True), district) == {
        "华阳合格科技",
        "新泾合格科技",
    }


def test_a_policy_not_in_force_on_the_date_explains_instead_of_listing(client, login_as, district):
    login_as("office")
    english(client)
    url = f"/policies/{district['policy'].id}/candidates?on=2025-06-01"
    page = client.get(url).get_data(as_text=True)
    assert "This policy takes effect on 2026-01-01" in page
    assert _names(page, district) == set()


def test_the_list_follows_the_firms_data_as_it_changes(client, login_as, district):
    login_as("office")
    url = f"/policies/{district['policy'].id}/candidates?outcome=eligible"
    firm = district["firms"]["near"]
    firm.size = "small"
    db.session.commit()
    assert "华阳差一项制造" in client.get(url).get_data(as_text=True)


def test_the_list_pages(client, login_as, make_firm, make_policy):
    for n in range(30):
        make_firm(name=f"分页企业{n:02d}")
    policy = make_policy(criteria=[("size", "eq", "small")])
    login_as("office")
    first = client.get(f"/policies/{policy.id}/candidates").get_data(as_text=True)
    second = client.get(f"/policies/{policy.id}/candidates?page=2").get_data(as_text=True)
    assert "分页企业00" in first and "分页企业29" not in first
    assert "分页企业29" in second and "分页企业00" not in second


def test_the_export_lists_the_firms_to_grant_with_their_codes(client, login_as, district):
    login_as("street", street=district["home"])
    policy = district["policy"]
    response = client.get(f"/policies/{policy.id}/candidates.xlsx?outcome=eligible")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("企业名称", "统一社会信用代码", "所属街镇", "匹配结果")
    firm = district["firms"]["eligible"]
    assert [r[:3] for r in rows[1:]] == [(firm.name, firm.uscc, "华阳路街道")]
    assert "120" not in (rows[1][5] or "")  # headcount is not a criterion of this policy
    assert len(rows[1][5].splitlines()) == 2  # one reason per criterion
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "policy.candidates_export"))
    assert entry.detail["count"] == 1


def test_the_export_of_every_outcome_tells_them_apart(client, login_as, district):
    login_as("office")
    response = client.get(f"/policies/{district['policy'].id}/candidates.xlsx")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"华阳合格科技", "华阳待核科技", "华阳差一项制造", "新泾合格科技"}
    outcomes = {by_name[name][3] for name in ("华阳合格科技", "华阳待核科技", "华阳差一项制造")}
    assert len(outcomes) == 3
    assert by_name["华阳合格科技"][3] == by_name["新泾合格科技"][3]
