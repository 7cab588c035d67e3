"""The staff package pages: compose, issue as a snapshot, versions, download, acknowledge."""

import re
import subprocess
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask import render_template
from flask_login import login_user
from sqlalchemy import func, select

from crm.demands.models import Notification
from crm.extensions import db
from crm.policies.models import ServicePackage
from crm.workcal.services import today
from tests.conftest import english, login, post_form


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "package.pdf"
    path.write_bytes(data)
    return subprocess.run(  # noqa: S603
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout.decode()


def packages_of(firm) -> list[ServicePackage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ServicePackage)
            .where(ServicePackage.firm_id == firm.id)
            .order_by(ServicePackage.number)
        )
    )


@pytest.fixture
def setting(make_street, make_firm, make_user, make_policy, assign):
    """A firm of a street with its commissioner, and one policy for each part."""
    street = make_street(name="华阳路街道", service_centre_address="华阳路100号")
    firm = make_firm(name="上海华阳示例科技有限公司", street=street, size="small")
    commissioner = make_user("commissioner", street=street, display_name="王晓明")
    assign(firm, commissioner, "primary")
    return {
        "street": street,
        "firm": firm,
        "commissioner": commissioner,
        "universal": make_policy(title="小微企业房租补贴", no_application=True),
        "individual": make_policy(
            title="人才公寓租金补贴", kind="individual", criteria=[("size", "eq", "small")]
        ),
        "near_miss": make_policy(title="大型企业总部奖励", criteria=[("size", "eq", "large")]),
        "not_eligible": make_policy(
            title="外资研发中心奖励",
            criteria=[("size", "eq", "large"), ("foreign_invested", "eq", True)],
        ),
    }


def compose_url(firm) -> str:
    return f"/packages/firm/{firm.id}/new"


def issue_form(policies=(), **overrides) -> dict:
    return {
        "as_of": today().isoformat(),
        "channel": "in_person",
        "note": "走访时当面送达",
        "confirmed": [p.id for p in policies],
        **overrides,
    }


def test_compose_shows_the_three_parts(client, login_as, setting):
    login_as(setting["commissioner"])
    english(client)
    response = client.get(compose_url(setting["firm"]))
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    automatic = html.split("data-automatic")[1].split("</ul>")[0]
    assert "小微企业房租补贴" in automatic
    assert "No application needed" in automatic
    proposed = html.split("data-proposed")[1].split("</ul>")[0]
    assert "人才公寓租金补贴" in proposed
    assert f'name="confirmed" value="{setting["individual"].id}"' in proposed
    assert "met (the firm: " in proposed  # each proposal with its reasons
    near = html.split("data-near-misses")[1].split("</ul>")[0]
    assert "大型企业总部奖励" in near
    assert "外资研发中心奖励" not in html
    interaction = html.split("data-interaction")[1]
    assert "王晓明" in interaction
    assert "华阳路100号" in interaction
    assert "This will be version 1." in html


def test_issuing_makes_version_1_then_2(client, login_as, setting):
    firm = setting["firm"]
    user = login_as(setting["commissioner"])
    english(client)

    response = post_form(client, compose_url(firm), issue_form([setting["individual"]]))
    assert response.status_code == 302
    (first,) = packages_of(firm)
    assert response.headers["Location"].endswith(f"/packages/{first.id}")
    assert first.number == 1
    assert first.issued_by_id == user.id
    assert first.channel == "in_person"
    assert first.note == "走访时当面送达"
    assert [p["title"] for p in first.snapshot["universal"]] == ["小微企业房租补贴"]
    assert [p["title"] for p in first.snapshot["individual"]] == ["人才公寓租金补贴"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Package version 1 issued to 上海华阳示例科技有限公司." in page

    # A second package, without the individual policy this time.
    assert post_form(client, compose_url(firm), issue_form(channel="mail")).status_code == 302
    first, second = packages_of(firm)
    assert (second.number, second.channel, second.snapshot["individual"]) == (2, "mail", [])

    listing = client.get(f"/packages/firm/{firm.id}").get_data(as_text=True)
    assert listing.index('data-package="2"') < listing.index('data-package="1"')
    assert "By post" in listing and "Handed over in person" in listing
    detail = client.get(f"/packages/{first.id}").get_data(as_text=True)
    assert "A newer version (2) has been issued since." in detail


def test_the_firms_users_are_told_and_the_notice_opens_the_package(
    app, client, login_as, setting, make_user
):
    firm = setting["firm"]
    reader = make_user("firm", firm=firm)
    make_user("firm", firm=firm, active=False)
    make_user("firm")  # another firm's user
    login_as(setting["commissioner"])
    assert post_form(client, compose_url(firm), issue_form()).status_code == 302
    (package,) = packages_of(firm)

    notes = db.session.scalars(select(Notification)).all()
    assert [n.user_id for n in notes] == [reader.id]  # not the inactive user, nor others
    assert "服务包" in notes[0].message and "1" in notes[0].message

    portal = app.test_client()
    login(portal, reader.username)
    inbox = portal.get("/notifications/").get_data(as_text=True)
    assert notes[0].message in inbox
    opened = portal.get(f"/notifications/{notes[0].id}")
    assert opened.headers["Location"].endswith(f"/portal/packages/{package.id}")
    page = portal.get(opened.headers["Location"])
    assert page.status_code == 200
    assert "小微企业房租补贴" in page.get_data(as_text=True)


def test_the_package_stays_as_issued(client, login_as, setting, tmp_path):
    firm, policy = setting["firm"], setting["universal"]
    login_as("office")
    english(client)
    post_form(client, compose_url(firm), issue_form())
    (package,) = packages_of(firm)

    policy.title = "改名后的房租补贴"
    policy.benefits = "新的扶持内容"
    firm.name = "上海改名以后的科技有限公司"
    db.session.commit()

    detail = client.get(f"/packages/{package.id}").get_data(as_text=True)
    assert "小微企业房租补贴" in detail
    assert "改名后的房租补贴" not in detail
    assert "新的扶持内容" not in detail
    snapshot_firm = detail.split("data-snapshot-firm>")[1].split("<")[0]
    assert snapshot_firm == "上海华阳示例科技有限公司"

    text = pdf_text(client.get(f"/packages/{package.id}.pdf").data, tmp_path)
    assert "上海华阳示例科技有限公司" in text
    assert "小微企业房租补贴" in text
    assert "改名" not in text
    assert packages_of(firm)[0].snapshot["firm"]["name"] == "上海华阳示例科技有限公司"


def test_a_confirmation_that_went_stale_is_refused(client, login_as, setting):
    firm, individual = setting["firm"], setting["individual"]
    login_as(setting["commissioner"])
    english(client)
    token_page = client.get(compose_url(firm))
    assert f'value="{individual.id}"' in token_page.get_data(as_text=True)

    # Between showing the form and sending it, the firm grew out of the policy.
    firm.size = "large"
    db.session.commit()
    response = post_form(client, compose_url(firm), issue_form([individual], note="保留的备注"))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "1 of the confirmed policies no longer match this firm" in html
    assert "保留的备注" in html  # what was typed is kept
    assert packages_of(firm) == []


def test_a_day_to_come_is_refused(client, login_as, setting):
    login_as("office")
    english(client)
    tomorrow = (today() + timedelta(days=1)).isoformat()
    response = post_form(client, compose_url(setting["firm"]), issue_form(as_of=tomorrow))
    assert response.status_code == 422
    assert "Choose today or an earlier day." in response.get_data(as_text=True)
    assert packages_of(setting["firm"]) == []


def test_a_package_on_an_earlier_day_matches_that_day(client, login_as, setting, make_policy):
    firm = setting["firm"]
    make_policy(title="今年新出台的补贴", effective_from=today())
    login_as("office")
    earlier = (today() - timedelta(days=1)).isoformat()
    page = client.get(compose_url(firm) + f"?as_of={earlier}").get_data(as_text=True)
    assert "今年新出台的补贴" not in page
    assert post_form(client, compose_url(firm), issue_form(as_of=earlier)).status_code == 302
    (package,) = packages_of(firm)
    assert package.as_of.isoformat() == earlier
    assert "今年新出台的补贴" not in str(package.snapshot)


def test_the_pdf_downloads_with_a_chinese_name(client, login_as, setting):
    login_as("office")
    post_form(client, compose_url(setting["firm"]), issue_form())
    (package,) = packages_of(setting["firm"])

    response = client.get(f"/packages/{package.id}.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert (
        "filename*=UTF-8''" + quote("上海华阳示例科技有限公司-企业服务包-第1版.pdf") in disposition
    )
    assert re.search(r'filename="?[ -~]+\.pdf"?', disposition)  # an ASCII fallback
    assert "no-store" in response.headers["Cache-Control"]


def test_the_acknowledgement_is_recorded_once(client, login_as, setting):
    login_as(setting["commissioner"])
    english(client)
    post_form(client, compose_url(setting["firm"]), issue_form())
    (package,) = packages_of(setting["firm"])
    url = f"/packages/{package.id}"
    assert "Record acknowledgement" in client.get(url).get_data(as_text=True)

    response = post_form(client, url + "/acknowledge", {"note": "签收单已收回"}, form_url=url)
    assert response.status_code == 302
    package = packages_of(setting["firm"])[0]
    when = package.acknowledged_at
    assert when is not None
    assert package.acknowledgement == "签收单已收回"
    assert package.acknowledged_by_id == setting["commissioner"].id
    page = client.get(url).get_data(as_text=True)
    assert "签收单已收回" in page
    assert "Record acknowledgement" not in page

    # A second time (another tab) is refused and changes nothing.
    again = post_form(
        client, url + "/acknowledge", {"note": "再次签收"}, form_url="/account/password"
    )
    assert again.status_code == 409
    assert "already been acknowledged" in again.get_data(as_text=True)
    package = packages_of(setting["firm"])[0]
    assert (package.acknowledged_at, package.acknowledgement) == (when, "签收单已收回")


def test_other_streets_and_readers_cannot_issue(client, login_as, setting, make_user):
    firm = setting["firm"]
    login_as("office")
    post_form(client, compose_url(firm), issue_form())
    (package,) = packages_of(firm)
    with client.session_transaction() as session:
        session.clear()
    outsider = make_user("commissioner")  # another street's commissioner
    login_as(outsider)
    assert client.get(compose_url(firm)).status_code == 403
    assert client.get(f"/packages/{package.id}").status_code == 403
    assert client.get(f"/packages/{package.id}.pdf").status_code == 403
    refused = post_form(client, compose_url(firm), issue_form(), form_url="/account/password")
    assert refused.status_code == 403
    assert len(packages_of(firm)) == 1


def test_the_linked_leader_reads_but_does_not_issue(client, make_user, login_as, setting):
    firm = setting["firm"]
    leader = make_user("leader")
    firm.leader_id = leader.id
    db.session.commit()
    login_as("office")
    post_form(client, compose_url(firm), issue_form())
    (package,) = packages_of(firm)

    with client.session_transaction() as session:
        session.clear()
    login_as(leader)
    assert client.get(f"/packages/{package.id}").status_code == 200
    assert client.get(f"/packages/firm/{firm.id}").status_code == 200
    assert client.get(f"/packages/{package.id}.pdf").status_code == 200
    assert client.get(compose_url(firm)).status_code == 403
    ack = post_form(client, f"/packages/{package.id}/acknowledge", {}, form_url="/account/password")
    assert ack.status_code == 403
    assert packages_of(firm)[0].acknowledged_at is None


def test_an_inactive_firm_gets_no_package(client, login_as, setting):
    firm = setting["firm"]
    firm.status = "moved_out"
    db.session.commit()
    login_as("office")
    english(client)
    response = post_form(client, compose_url(firm), issue_form())
    assert response.status_code == 422
    assert "Packages are issued to active firms only." in response.get_data(as_text=True)
    assert packages_of(firm) == []


def test_the_firm_page_card(app, setting, make_user):
    """``packages/_firm_packages.html``: the latest version, the count and the compose link."""
    from crm.policies.packages import issue

    firm = setting["firm"]
    for _ in range(2):
        package = issue(firm, by=setting["commissioner"], on=today(), channel="in_person")
    db.session.commit()

    with app.test_request_context("/"):
        login_user(setting["commissioner"])
        card = render_template("packages/_firm_packages.html", firm=firm)
    assert f'data-latest-package="{package.id}"' in card
    assert f"/packages/firm/{firm.id}/new" in card
    assert f'/packages/firm/{firm.id}"' in card

    with app.test_request_context("/"):
        login_user(make_user("department"))
        assert "data-latest-package" not in render_template(
            "packages/_firm_packages.html", firm=firm
        )


def test_the_versions_list_reads_a_fixed_number_of_statements(
    client, login_as, setting, count_queries
):
    from crm.policies.packages import issue

    firm = setting["firm"]
    login_as("office")
    url = f"/packages/firm/{firm.id}"

    def statements(versions: int) -> int:
        for _ in range(versions):
            issue(firm, by=setting["commissioner"], on=today(), channel="in_person")
        db.session.commit()
        with count_queries() as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    assert statements(2) == statements(5)
    assert db.session.scalar(select(func.count(ServicePackage.id))) == 7


def test_many_versions_are_paged(client, login_as, setting):
    from crm.policies.packages import issue

    firm = setting["firm"]
    for _ in range(22):
        issue(firm, by=setting["commissioner"], on=today(), channel="in_person")
    db.session.commit()
    login_as("office")
    first = client.get(f"/packages/firm/{firm.id}").get_data(as_text=True)
    assert 'data-package="22"' in first and 'data-package="2"' not in first
    assert f"/packages/firm/{firm.id}?page=2" in first
    second = client.get(f"/packages/firm/{firm.id}?page=2").get_data(as_text=True)
    assert 'data-package="2"' in second and 'data-package="1"' in second


def test_a_pdf_past_its_time_limit_is_a_503_not_a_500(app, client, login_as, setting):
    login_as("office")
    english(client)
    post_form(client, compose_url(setting["firm"]), issue_form())
    (package,) = packages_of(setting["firm"])
    app.config["PDF_RENDER_TIMEOUT"] = 0.001

    response = client.get(f"/packages/{package.id}.pdf")

    assert response.status_code == 503
    assert "The PDF could not be produced just now" in response.get_data(as_text=True)
    app.config["PDF_RENDER_TIMEOUT"] = 30
    assert client.get(f"/packages/{package.id}.pdf").data.startswith(b"%PDF")
