"""Prospects (待落户企业): the list, the record, dropping, and registration as a firm, which
moves the prospect's cases to the firm with their history."""

import itertools
import random
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.assistance import prospect_services as services
from crm.assistance.models import AssistanceCase, CaseEvent, CaseStage, Prospect
from crm.audit.models import AuditLog
from crm.extensions import db
from crm.firms import uscc
from crm.firms.models import Assignment, Firm
from tests.conftest import csrf_token, english, post_form

_rng = random.Random(4242)
_numbers = itertools.count(1)


def _code() -> str:
    return uscc.generate(_rng)


def _first_stage(case_type_id: int = 1) -> CaseStage:
    return db.session.scalar(
        select(CaseStage)
        .where(CaseStage.case_type_id == case_type_id)
        .order_by(CaseStage.position)
        .limit(1)
    )


def _case(*, prospect=None, firm=None, owner, state="open", **kw) -> AssistanceCase:
    """A case row as the cases pages would leave it, with its "opened" event."""
    stage = _first_stage(kw.pop("case_type_id", 1))
    street_id = prospect.street_id if prospect is not None else firm.street_id
    case = AssistanceCase(
        number=f"BB20260101{next(_numbers):06d}",
        case_type_id=stage.case_type_id,
        prospect_id=prospect.id if prospect is not None else None,
        firm_id=firm.id if firm is not None else None,
        street_id=street_id,
        title=kw.pop("title", "注册帮办"),
        stage_id=stage.id,
        state=state,
        owner_id=owner.id,
        created_by_id=owner.id,
        opened_on=kw.pop("opened_on", date(2026, 3, 2)),
        **kw,
    )
    db.session.add(case)
    db.session.flush()
    db.session.add(CaseEvent(case=case, action="opened", actor_id=owner.id, to_stage_id=stage.id))
    db.session.commit()
    return case


@pytest.fixture
def make_prospect(app, make_street, make_user):
    def _make(street=None, *, owner=None, **kw):
        street = street or make_street()
        prospect = Prospect(
            name=kw.pop("name", "上海未来智能科技（筹）"),
            street_id=street.id,
            owner_id=owner.id if owner else None,
            created_by_id=kw.pop("created_by", None) or make_user("office").id,
            contact_name=kw.pop("contact_name", "陈静"),
            contact_phone=kw.pop("contact_phone", "13600002222"),
            industry_code=kw.pop("industry_code", "I65"),
            **kw,
        )
        db.session.add(prospect)
        db.session.commit()
        return prospect

    return _make


def _register_data(code: str, street_id: int, **overrides) -> dict:
    return {
        "uscc": code,
        "name": "上海未来智能科技有限公司",
        "legal_representative": "陈静",
        "street_id": str(street_id),
        "industry_code": "I65",
        "registered_capital": "500",
        "established_on": "2026-05-06",
        "address": "华阳路 88 号",
        **overrides,
    }


def _post_register(client, prospect, data: dict):
    url = f"/prospects/{prospect.id}/register"
    form_url = f"/prospects/{prospect.id}"  # the register page sends a registered one back
    return post_form(client, url, {**data, "version": str(prospect.version)}, form_url=form_url)


# -- registration -------------------------------------------------------------------------


def test_registering_creates_the_firm_and_moves_every_case_with_its_history(
    client, login_as, make_street, make_user, make_prospect
):
    home, elsewhere = make_street(), make_street()
    office = login_as("office")
    commissioner = make_user("commissioner", street=home)
    prospect = make_prospect(home, owner=commissioner)
    open_case = _case(prospect=prospect, owner=commissioner)
    dropped = _case(prospect=prospect, owner=commissioner, state="dropped", drop_reason="暂缓")
    code = _code()

    # The firm registers in another street than the one that followed it.
    response = _post_register(client, prospect, _register_data(code, elsewhere.id))

    assert response.status_code == 302
    firm = db.session.scalar(select(Firm).where(Firm.uscc == code))
    assert response.headers["Location"].endswith(f"/firms/{firm.id}")
    assert firm.name == "上海未来智能科技有限公司"
    assert firm.street_id == elsewhere.id
    assert firm.registered_capital == 500
    assert [c.name for c in firm.contacts] == ["陈静"]  # the prospect's contact came along
    db.session.refresh(prospect)
    assert prospect.state == "registered"
    assert prospect.firm_id == firm.id
    assert prospect.registered_at is not None
    for case in (open_case, dropped):
        db.session.refresh(case)
        assert case.firm_id == firm.id
        assert case.prospect_id == prospect.id  # kept for history
        assert case.street_id == elsewhere.id  # the case follows the firm
        assert [e.action for e in case.events] == ["opened", "registered"]
        assert code in case.events[-1].note
        assert case.events[-1].actor_id == office.id
    assert dropped.state == "dropped"  # moving does not reopen anything
    actions = db.session.scalars(select(AuditLog.action)).all()
    assert {"firm.create", "prospect.register", "case.registered"} <= set(actions)
    # The commissioner works in the other street: not made the firm's commissioner.
    assert firm.current_assignment("primary") is None
    # The firm's page is the prospect's cases' new home; the prospect's page says so.
    page = client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
    assert firm.name in page and open_case.number in page


def test_the_commissioner_who_followed_the_prospect_looks_after_the_firm(
    client, login_as, make_street, make_user, make_prospect
):
    street = make_street()
    commissioner = login_as("commissioner", street=street)
    prospect = make_prospect(street, owner=commissioner)

    response = _post_register(client, prospect, _register_data(_code(), street.id))

    assert response.status_code == 302
    firm = db.session.get(Firm, db.session.get(Prospect, prospect.id).firm_id)
    primary = firm.current_assignment("primary")
    assert primary is not None and primary.commissioner_id == commissioner.id


def test_a_firm_already_on_file_is_linked_not_duplicated(
    client, login_as, make_street, make_user, make_firm, make_prospect, assign
):
    street = make_street()
    login_as("street", street=street)
    someone = make_user("commissioner", street=street)
    follower = make_user("commissioner", street=street)
    firm = make_firm(street=street, name="上海已有企业有限公司")
    assign(firm, someone, "primary")
    prospect = make_prospect(street, owner=follower)
    case = _case(prospect=prospect, owner=follower)
    firms_before = db.session.scalar(select(func.count()).select_from(Firm))

    # Typed with spaces and lower case, as pasted from a certificate.
    typed = " ".join([firm.uscc[:6], firm.uscc[6:].lower()])
    response = _post_register(
        client, prospect, _register_data(typed, street.id, name="另一个名字有限公司")
    )

    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Firm)) == firms_before
    db.session.refresh(prospect)
    db.session.refresh(case)
    db.session.refresh(firm)
    assert prospect.firm_id == firm.id and prospect.state == "registered"
    assert case.firm_id == firm.id
    assert firm.name == "上海已有企业有限公司"  # the record on file is not overwritten
    # It has a primary commissioner already: the follower does not replace them.
    assert firm.current_assignment("primary").commissioner_id == someone.id


def test_an_invalid_code_is_refused_with_what_was_typed_kept(
    client, login_as, make_street, make_prospect
):
    street = make_street()
    login_as("office")
    prospect = make_prospect(street)
    code = _code()
    bad = code[:-1] + next(c for c in "0123456789" if c != code[-1])  # a typing error

    response = _post_register(
        client, prospect, _register_data(bad, street.id, legal_representative="李雷雷")
    )

    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert bad in body and "李雷雷" in body
    assert "is-invalid" in body
    db.session.refresh(prospect)
    assert prospect.state == "open" and prospect.firm_id is None
    assert db.session.scalar(select(Firm.id).where(Firm.uscc == bad)) is None


def test_another_streets_commissioner_is_refused(client, login_as, make_street, make_prospect):
    home, away = make_street(), make_street()
    prospect = make_prospect(home)
    login_as("commissioner", street=away)

    assert client.get(f"/prospects/{prospect.id}/register").status_code == 403
    token = csrf_token(client, "/prospects/")
    response = client.post(
        f"/prospects/{prospect.id}/register",
        data={**_register_data(_code(), away.id), "csrf_token": token},
    )
    assert response.status_code == 403
    db.session.refresh(prospect)
    assert prospect.state == "open"
    assert client.get(f"/prospects/{prospect.id}").status_code == 403


def test_a_firm_in_another_street_is_not_revealed_through_its_code(
    client, login_as, make_street, make_firm, make_prospect
):
    home, away = make_street(), make_street()
    hidden = make_firm(street=away, name="上海别处保密企业有限公司")
    login_as("commissioner", street=home)
    prospect = make_prospect(home)

    response = _post_register(client, prospect, _register_data(hidden.uscc, home.id))

    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert hidden.name not in body
    db.session.refresh(prospect)
    assert prospect.firm_id is None


def test_a_dropped_prospect_cannot_register(
    client, app, login_as, make_street, make_user, make_prospect
):
    street = make_street()
    office = login_as("office")
    prospect = make_prospect(street, state="dropped", drop_reason="投资方撤回")

    with pytest.raises(services.ProspectError):
        services.register_prospect(prospect, actor=office, data=_register_data(_code(), street.id))
    db.session.rollback()
    english(client)
    response = _post_register(client, prospect, _register_data(_code(), street.id))
    assert response.status_code == 409
    assert "dropped" in response.get_data(as_text=True)
    db.session.refresh(prospect)
    assert prospect.state == "dropped" and prospect.firm_id is None


def test_registering_twice_is_refused(client, login_as, make_street, make_prospect):
    street = make_street()
    login_as("office")
    prospect = make_prospect(street)
    first = _post_register(client, prospect, _register_data(_code(), street.id))
    assert first.status_code == 302
    db.session.refresh(prospect)
    firm_id = prospect.firm_id

    again = _post_register(client, prospect, _register_data(_code(), street.id))

    assert again.status_code == 409
    db.session.refresh(prospect)
    assert prospect.firm_id == firm_id
    assert db.session.scalar(select(func.count()).select_from(Firm)) == 1
    # The register page itself sends people back to the prospect.
    assert client.get(f"/prospects/{prospect.id}/register").status_code == 302


def test_a_stale_registration_form_is_refused(client, login_as, make_street, make_prospect):
    street = make_street()
    login_as("office")
    prospect = make_prospect(street)
    url = f"/prospects/{prospect.id}/register"
    token = csrf_token(client, url)
    old_version = prospect.version
    prospect.notes = "同事刚刚补充了情况"
    db.session.commit()

    response = client.post(
        url,
        data={
            **_register_data(_code(), street.id),
            "version": str(old_version),
            "csrf_token": token,
        },
    )

    assert response.status_code == 409
    db.session.refresh(prospect)
    assert prospect.state == "open"
    assert db.session.scalar(select(func.count()).select_from(Firm)) == 0


# -- the record -----------------------------------------------------------------------------


def test_a_new_prospect_is_recorded_and_a_refused_form_keeps_the_input(
    client, login_as, make_street
):
    street = make_street()
    login_as("street", street=street)
    refused = post_form(
        client,
        "/prospects/new",
        {"name": "", "street_id": str(street.id), "source": "长三角招商推介会"},
    )
    assert refused.status_code == 422
    assert "长三角招商推介会" in refused.get_data(as_text=True)

    created = post_form(
        client,
        "/prospects/new",
        {"name": "上海星河生物（筹）", "street_id": str(street.id), "industry_code": "m73"},
    )
    assert created.status_code == 302
    prospect = db.session.scalar(select(Prospect).where(Prospect.name == "上海星河生物（筹）"))
    assert prospect.street_id == street.id and prospect.industry_code == "M73"
    assert prospect.state == "open"


def test_a_street_records_prospects_only_in_its_own_street(client, login_as, make_street):
    home, away = make_street(), make_street()
    login_as("street", street=home)
    response = post_form(client, "/prospects/new", {"name": "越界项目", "street_id": str(away.id)})
    assert response.status_code == 422
    assert db.session.scalar(select(Prospect.id).where(Prospect.name == "越界项目")) is None


def test_a_stale_edit_is_refused_and_the_input_kept(client, login_as, make_street, make_prospect):
    street = make_street()
    login_as("office")
    prospect = make_prospect(street)
    url = f"/prospects/{prospect.id}/edit"
    token = csrf_token(client, url)
    version = prospect.version
    prospect.source = "同事改的来源"
    db.session.commit()

    response = client.post(
        url,
        data={
            "name": "我改的名字",
            "street_id": str(street.id),
            "version": str(version),
            "csrf_token": token,
        },
    )

    assert response.status_code == 409
    assert "我改的名字" in response.get_data(as_text=True)
    db.session.refresh(prospect)
    assert prospect.name != "我改的名字" and prospect.source == "同事改的来源"


def test_dropping_needs_a_reason(client, login_as, make_street, make_prospect):
    street = make_street()
    login_as("commissioner", street=street)
    prospect = make_prospect(street)
    url = f"/prospects/{prospect.id}/drop"
    form_url = f"/prospects/{prospect.id}"

    refused = post_form(
        client, url, {"drop-reason": "", "drop-version": str(prospect.version)}, form_url=form_url
    )
    assert refused.status_code == 422
    dropped = post_form(
        client,
        url,
        {"drop-reason": "选址外区", "drop-version": str(prospect.version)},
        form_url=form_url,
    )
    assert dropped.status_code == 302
    db.session.refresh(prospect)
    assert prospect.state == "dropped" and prospect.drop_reason == "选址外区"


def test_the_edit_form_shows_the_full_number_and_records_it(
    client, login_as, make_street, make_prospect
):
    street = make_street()
    login_as("office")
    prospect = make_prospect(street, contact_phone="13600002222")
    assert "13600002222" not in client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
    assert "13600002222" in client.get(f"/prospects/{prospect.id}/edit").get_data(as_text=True)
    assert db.session.scalar(
        select(AuditLog.id).where(
            AuditLog.action == "prospect.reveal_phone", AuditLog.object_id == prospect.id
        )
    )


# -- the list -------------------------------------------------------------------------------


def test_the_list_is_scoped_filtered_and_runs_a_fixed_number_of_statements(
    client, login_as, make_street, make_user, make_prospect, count_queries
):
    home, away = make_street(), make_street()
    commissioner = login_as("commissioner", street=home)
    mine = make_prospect(home, owner=commissioner, name="本街道项目甲")
    make_prospect(away, name="外街道项目乙")
    _case(prospect=mine, owner=commissioner)

    body = client.get("/prospects/").get_data(as_text=True)
    assert "本街道项目甲" in body and "外街道项目乙" not in body
    assert "本街道项目甲" not in client.get("/prospects/?state=dropped").get_data(as_text=True)
    assert "本街道项目甲" in client.get("/prospects/?q=甲").get_data(as_text=True)
    # A filter value that is not a choice is ignored, never a failure.
    assert client.get("/prospects/?owner_id=abc&street_id=x").status_code == 200

    with count_queries() as few:
        client.get("/prospects/")
    for i in range(12):
        prospect = make_prospect(
            home, owner=make_user("commissioner", street=home), name=f"项目{i}"
        )
        _case(prospect=prospect, owner=commissioner)
    with count_queries() as many:
        response = client.get("/prospects/")
    assert response.status_code == 200
    assert len(many) == len(few)


def test_departments_and_leaders_have_no_prospects(client, login_as):
    login_as("leader")
    assert client.get("/prospects/").status_code == 403


def test_the_registration_moves_cases_in_one_transaction(
    app, make_street, make_user, make_prospect, make_firm
):
    """A refusal half-way (a firm already claimed by another prospect) changes nothing."""
    street = make_street()
    office = make_user("office")
    firm = make_firm(street=street)
    claimed = make_prospect(street, name="先登记的项目")
    services.register_prospect(claimed, actor=office, data={"uscc": firm.uscc})
    db.session.commit()
    prospect = make_prospect(street, name="后来的项目")
    case = _case(prospect=prospect, owner=make_user("commissioner", street=street))

    with pytest.raises(services.ProspectError):
        services.register_prospect(prospect, actor=office, data={"uscc": firm.uscc})
    db.session.rollback()

    db.session.refresh(case)
    assert case.firm_id is None
    assert db.session.get(Prospect, prospect.id).state == "open"
    assert not db.session.scalars(select(Assignment).where(Assignment.firm_id == firm.id)).all()
