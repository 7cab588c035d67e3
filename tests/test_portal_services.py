"""The firm's side of crm.portal.services, below the pages."""

from datetime import date

import pytest

from crm.extensions import db
from crm.portal import services
from crm.portal.services import PortalError


@pytest.fixture
def firm_user(make_firm, make_user):
    return make_user("firm", firm=make_firm(address="长宁区定西路1号"))


def test_the_preferred_date_is_judged_by_the_day_in_shanghai(monkeypatch, firm_user):
    # Before 08:00 in Shanghai the UTC date is still yesterday's: yesterday is refused anyway.
    monkeypatch.setattr(services, "today", lambda: date(2030, 1, 2))
    with pytest.raises(PortalError) as info:
        services.request_service(
            firm=firm_user.firm,
            actor=firm_user,
            kind="appointment",
            details="预约",
            preferred_date=date(2030, 1, 1),
        )
    assert info.value.field == "preferred_date"
    req = services.request_service(
        firm=firm_user.firm,
        actor=firm_user,
        kind="appointment",
        details="预约",
        preferred_date=date(2030, 1, 2),
    )
    assert req.preferred_date == date(2030, 1, 2)


def test_an_on_site_visit_defaults_to_the_firms_address(firm_user):
    req = services.request_service(
        firm=firm_user.firm, actor=firm_user, kind="onsite", details="上门指导"
    )
    assert req.address == "长宁区定西路1号"


def test_only_the_firm_itself_asks_for_its_services(firm_user, make_user, make_firm):
    stranger = make_user("firm", firm=make_firm())
    with pytest.raises(PortalError) as info:
        services.request_service(firm=firm_user.firm, actor=stranger, kind="errand", details="代办")
    assert info.value.code == "role"


def test_an_invitation_makes_one_account(firm_user, make_user, assign):
    commissioner = make_user("commissioner", street_id=firm_user.firm.street_id)
    assign(firm_user.firm, commissioner, "primary")
    _, token = services.invite(firm_user.firm, actor=commissioner, person_name="赵磊")
    db.session.commit()
    user = services.accept_invitation(token, username="zhaolei", password="Firm-Account-77")
    db.session.commit()
    assert (user.role, user.firm_id) == ("firm", firm_user.firm_id)
    with pytest.raises(PortalError) as info:
        services.accept_invitation(token, username="zhaolei2", password="Firm-Account-77")
    assert info.value.code == "invalid_token"


def test_of_two_people_taking_up_one_invitation_at_once_one_gets_it(
    monkeypatch, firm_user, make_user
):
    office = make_user("office")
    invitation, token = services.invite(firm_user.firm, actor=office, person_name="赵磊")
    db.session.commit()
    services.accept_invitation(token, username="first", password="Firm-Account-77")
    db.session.commit()
    # The second request looked the invitation up before the first one marked it used.
    monkeypatch.setattr(services, "find_invitation", lambda _token: invitation)
    with pytest.raises(PortalError) as info:
        services.accept_invitation(token, username="second", password="Firm-Account-77")
    assert info.value.code == "invalid_token"
    db.session.rollback()
    assert services.find_user("second") is None
