"""A firm's contact people: add, edit, delete, the main contact, and the audit trail."""

import re

import pytest
from sqlalchemy import select

from crm.audit.models import AuditLog
from crm.extensions import db
from crm.firms.models import Contact
from tests.conftest import csrf_token, post_form


def audit(action: str) -> list[AuditLog]:
    return list(
        db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
    )


def contacts_of(firm) -> list[Contact]:
    return list(
        db.session.scalars(select(Contact).where(Contact.firm_id == firm.id).order_by(Contact.id))
    )


def english(client) -> None:
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def test_adding_a_contact_is_audited_and_the_number_shows_masked(client, login_as, make_firm):
    office = login_as("office")
    firm = make_firm()
    response = post_form(
        client,
        f"/firms/{firm.id}/contacts/new",
        {
            "name": "周敏",
            "title": "财务总监",
            "phone": "13912345678",
            "email": "zhou@example.com",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/firms/{firm.id}#contacts")
    [contact] = contacts_of(firm)
    assert (contact.name, contact.title, contact.phone, contact.email) == (
        "周敏",
        "财务总监",
        "13912345678",
        "zhou@example.com",
    )
    [entry] = audit("contact.create")
    assert (entry.user_id, entry.object_type, entry.object_id, entry.result) == (
        office.id,
        "contacts",
        contact.id,
        "success",
    )
    assert entry.detail["firm_id"] == firm.id
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    assert "周敏" in page and "139****5678" in page and "13912345678" not in page


def test_editing_a_contact_is_audited_without_writing_the_number_in_full(
    client, login_as, make_firm, make_contact
):
    office = login_as("office")
    firm = make_firm()
    contact = make_contact(firm, name="周敏", phone="13912345678")
    form = client.get(f"/firms/{firm.id}/contacts/{contact.id}/edit").get_data(as_text=True)
    assert 'value="周敏"' in form
    response = post_form(
        client,
        f"/firms/{firm.id}/contacts/{contact.id}/edit",
        {"name": "周敏", "title": "总经理", "phone": "13687654321"},
    )
    assert response.status_code == 302
    db.session.refresh(contact)
    assert (contact.title, contact.phone) == ("总经理", "13687654321")
    [entry] = audit("contact.update")
    assert entry.user_id == office.id and entry.object_id == contact.id
    assert entry.detail["changes"]["title"] == ["行政经理", "总经理"]
    assert entry.detail["changes"]["phone"] == ["139****5678", "136****4321"]
    assert "13912345678" not in str(entry.detail) and "13687654321" not in str(entry.detail)


def test_opening_a_contacts_edit_form_shows_the_number_and_is_audited_as_a_full_view(
    client, login_as, make_firm, make_contact
):
    office = login_as("office")
    firm = make_firm()
    contact = make_contact(firm, phone="13912345678")
    form = client.get(f"/firms/{firm.id}/contacts/{contact.id}/edit").get_data(as_text=True)
    assert 'value="13912345678"' in form
    [entry] = audit("contact.reveal_phone")
    assert (entry.user_id, entry.object_id) == (office.id, contact.id)
    assert entry.detail == {"firm_id": firm.id, "via": "edit_form"}


def test_the_delete_button_asks_first_and_the_deletion_is_audited(
    client, login_as, make_firm, make_contact
):
    office = login_as("office")
    english(client)
    firm = make_firm()
    contact = make_contact(firm, name="将离职的人")
    contact_id = contact.id
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    delete_url = f"/firms/{firm.id}/contacts/{contact_id}/delete"
    form = re.search(rf'<form method="post" action="{delete_url}"[^>]*>', page).group(0)
    assert 'data-confirm="Delete contact 将离职的人?"' in form

    response = post_form(client, delete_url, {}, form_url=f"/firms/{firm.id}")
    assert response.status_code == 302
    assert contacts_of(firm) == []
    [entry] = audit("contact.delete")
    assert (entry.user_id, entry.object_type, entry.object_id, entry.result) == (
        office.id,
        "contacts",
        contact_id,
        "success",
    )
    assert entry.detail == {"firm_id": firm.id, "name": "将离职的人"}
    assert "Contact 将离职的人 deleted." in client.get(f"/firms/{firm.id}").get_data(as_text=True)


def test_a_delete_needs_a_post(client, login_as, make_firm, make_contact):
    login_as("office")
    firm = make_firm()
    contact = make_contact(firm)
    assert client.get(f"/firms/{firm.id}/contacts/{contact.id}/delete").status_code == 405
    assert contacts_of(firm) == [contact]


def test_a_firm_has_one_main_contact_at_most(client, login_as, make_firm, make_contact):
    login_as("office")
    english(client)
    firm = make_firm()
    first = make_contact(firm, name="甲", is_primary=True)
    response = post_form(
        client,
        f"/firms/{firm.id}/contacts/new",
        {"name": "乙", "phone": "13600001111", "is_primary": "y"},
    )
    assert response.status_code == 302
    second = next(c for c in contacts_of(firm) if c.name == "乙")
    db.session.refresh(first)
    assert (first.is_primary, second.is_primary) == (False, True)
    page = client.get(f"/firms/{firm.id}").get_data(as_text=True)
    assert page.count(">Main contact</span>") == 1

    # Making the first one main again takes it back from the second.
    post_form(
        client,
        f"/firms/{firm.id}/contacts/{first.id}/edit",
        {"name": "甲", "phone": "13812345678", "is_primary": "y"},
    )
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.is_primary, second.is_primary) == (True, False)


def test_another_firms_contact_is_not_found_through_this_firm(
    client, login_as, make_firm, make_contact
):
    login_as("office")
    firm, other = make_firm(), make_firm()
    foreign = make_contact(other, name="别家的人")
    assert client.get(f"/firms/{firm.id}/contacts/{foreign.id}/edit").status_code == 404
    token = csrf_token(client, f"/firms/{firm.id}")
    for action in ("delete", "phone"):
        response = client.post(
            f"/firms/{firm.id}/contacts/{foreign.id}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 404
    assert contacts_of(other) == [foreign]
    assert audit("contact.reveal_phone") == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "phone": "13800001111"}, "name", "This field is required."),
        ({"name": "钱", "phone": "call me"}, "phone", "Digits, spaces, + - ( ) only."),
        ({"name": "钱", "email": "not-an-email"}, "email", "Invalid email address."),
    ],
)
def test_a_contact_with_bad_values_is_refused(client, login_as, make_firm, data, field, message):
    login_as("office")
    english(client)
    firm = make_firm()
    response = post_form(client, f"/firms/{firm.id}/contacts/new", data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert re.search(rf'<input[^>]*class="form-control is-invalid"[^>]*name="{field}"', page)
    assert contacts_of(firm) == []
    assert audit("contact.create") == []


def test_a_commissioner_manages_contacts_only_of_its_own_firms(
    client, login_as, make_user, make_firm, make_street, make_contact, assign
):
    street = make_street()
    commissioner = login_as(make_user("commissioner", street=street))
    mine, colleagues = make_firm(street=street), make_firm(street=street)
    assign(mine, commissioner, "primary")
    contact = make_contact(colleagues)
    assert post_form(client, f"/firms/{mine.id}/contacts/new", {"name": "新人"}).status_code == 302
    assert client.get(f"/firms/{colleagues.id}/contacts/new").status_code == 403
    token = csrf_token(client, f"/firms/{colleagues.id}")
    response = client.post(
        f"/firms/{colleagues.id}/contacts/{contact.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert contacts_of(colleagues) == [contact]


@pytest.mark.parametrize("role", ["leader", "department", "firm"])
def test_roles_that_only_read_cannot_change_contacts(
    client, login_as, make_user, make_firm, make_contact, role
):
    firm = make_firm()
    contact = make_contact(firm)
    extra = {"firm": firm} if role == "firm" else {}
    login_as(make_user(role, **extra))
    assert client.get(f"/firms/{firm.id}/contacts/new").status_code == 403
    assert client.get(f"/firms/{firm.id}/contacts/{contact.id}/edit").status_code == 403
    assert contacts_of(firm) == [contact]


def test_a_firm_user_may_see_its_own_peoples_numbers_and_the_view_is_audited(
    client, login_as, make_user, make_firm, make_contact
):
    firm = make_firm()
    contact = make_contact(firm, phone="13812345678")
    user = login_as(make_user("firm", firm=firm))
    response = post_form(
        client, f"/firms/{firm.id}/contacts/{contact.id}/phone", {}, form_url=f"/firms/{firm.id}"
    )
    assert response.status_code == 200
    assert "13812345678" in response.get_data(as_text=True)
    [entry] = audit("contact.reveal_phone")
    assert entry.user_id == user.id
