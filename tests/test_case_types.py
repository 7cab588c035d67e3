"""The office's case type editor: stages, checklists, and what edits leave alone."""

from datetime import date

import pytest
from sqlalchemy import select

from crm.assistance import type_services
from crm.assistance.models import AssistanceCase, CaseEvent, CaseStage, CaseType
from crm.extensions import db
from tests.conftest import english, post_form

REG = 1  # the migration's 工商注册: stages 1-4, checklist items 1-7


def _type(type_id: int = REG) -> CaseType:
    db.session.expire_all()
    return db.session.get(CaseType, type_id)


def _stage_names(type_id: int = REG) -> list[str]:
    return [s.name for s in _type(type_id).stages]


def _case_at(stage: CaseStage, owner, firm, **kw) -> AssistanceCase:
    case = AssistanceCase(
        number=f"BB2026010199{stage.id:04d}",
        case_type_id=stage.case_type_id,
        firm_id=firm.id,
        street_id=firm.street_id,
        title="注册帮办",
        stage_id=stage.id,
        owner_id=owner.id,
        created_by_id=owner.id,
        opened_on=date(2026, 3, 2),
        **kw,
    )
    db.session.add(case)
    db.session.commit()
    return case


@pytest.fixture
def office(client, login_as):
    user = login_as("office")
    english(client)
    return user


def _post(client, path: str, data: dict | None = None):
    return post_form(client, path, data or {}, form_url=f"/case-types/{REG}")


def test_only_the_office_edits_case_types(client, login_as):
    login_as("street")
    assert client.get("/case-types/").status_code == 403
    assert client.get(f"/case-types/{REG}").status_code == 403


def test_the_list_and_editor_show_the_types(client, office):
    body = client.get("/case-types/").get_data(as_text=True)
    assert "工商注册" in body and "人才落户" in body
    editor = client.get(f"/case-types/{REG}").get_data(as_text=True)
    assert "领取执照" in editor and "公司章程" in editor
    assert "data-confirm" in editor  # deleting asks first


def test_a_stage_a_case_is_at_cannot_be_deleted(client, office, make_firm, make_user):
    stage = _type().stages[1]
    _case_at(stage, make_user("commissioner"), make_firm())

    response = _post(client, f"/case-types/{REG}/stages/{stage.id}/delete")

    assert response.status_code == 409
    assert "cannot be deleted" in response.get_data(as_text=True)
    assert stage.name in _stage_names()


def test_a_stage_a_case_has_passed_through_cannot_be_deleted(office, make_firm, make_user):
    first, second, third = _type().stages[:3]
    owner = make_user("commissioner")
    case = _case_at(third, owner, make_firm())
    db.session.add(
        CaseEvent(
            case=case,
            action="advanced",
            actor_id=owner.id,
            from_stage_id=second.id,
            to_stage_id=third.id,
        )
    )
    db.session.commit()

    with pytest.raises(type_services.CaseTypeError):
        type_services.delete_stage(second, actor=office)
    db.session.rollback()
    assert second.id in type_services.stages_in_use(_type())
    assert first.id not in type_services.stages_in_use(_type())


def test_an_unused_stage_is_deleted_and_its_items_belong_to_no_stage(client, office):
    last = _type().stages[-1]  # 领取执照; item 营业执照领取 belongs to it
    response = _post(client, f"/case-types/{REG}/stages/{last.id}/delete")

    assert response.status_code == 302
    case_type = _type()
    assert _stage_names() == ["对接需求", "准备材料", "提交申请"]
    assert [s.position for s in case_type.stages] == [0, 1, 2]
    item = next(i for i in case_type.checklist if i.label == "营业执照领取")
    assert item.stage_id is None


def test_a_type_keeps_at_least_two_stages(client, office):
    for stage in _type().stages[2:]:
        assert _post(client, f"/case-types/{REG}/stages/{stage.id}/delete").status_code == 302
    remaining = _type().stages[0]
    response = _post(client, f"/case-types/{REG}/stages/{remaining.id}/delete")
    assert response.status_code == 409
    assert len(_type().stages) == 2


def test_stages_are_reordered_renamed_and_added(client, office):
    first = _type().stages[0]
    assert (
        _post(
            client, f"/case-types/{REG}/stages/{first.id}/move", {"direction": "down"}
        ).status_code
        == 302
    )
    assert _stage_names() == ["准备材料", "对接需求", "提交申请", "领取执照"]
    # Up from the top is no move at all.
    top = _type().stages[0]
    _post(client, f"/case-types/{REG}/stages/{top.id}/move", {"direction": "up"})
    assert _stage_names()[0] == "准备材料"

    renamed = _post(
        client, f"/case-types/{REG}/stages/{first.id}/rename", {f"stage-{first.id}-name": "洽谈"}
    )
    assert renamed.status_code == 302
    added = _post(client, f"/case-types/{REG}/stages", {"stage-add-name": "回访"})
    assert added.status_code == 302
    assert _stage_names() == ["准备材料", "洽谈", "提交申请", "领取执照", "回访"]
    assert [s.position for s in _type().stages] == [0, 1, 2, 3, 4]


def test_a_duplicate_stage_name_is_refused_with_the_input_kept(client, office):
    response = _post(client, f"/case-types/{REG}/stages", {"stage-add-name": "准备材料"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "already has a stage" in body
    assert len(_type().stages) == 4


def test_checklist_edits_change_new_cases_only(client, office, make_firm, make_user):
    from crm.assistance.services import open_case

    street_firm = make_firm()
    owner = make_user("commissioner", street_id=street_firm.street_id)
    case = open_case(
        case_type=_type(), actor=office, title="设立登记", owner=owner, firm=street_firm
    )
    db.session.commit()
    before = [(i.label, i.stage_id) for i in case.checklist]
    items = _type().checklist

    _post(
        client,
        f"/case-types/{REG}/checklist/{items[0].id}/edit",
        {"label": "企业名称网上申报", "stage_id": "", "route": ""},
    )
    _post(client, f"/case-types/{REG}/checklist/{items[1].id}/delete")
    _post(client, f"/case-types/{REG}/checklist", {"item-add-label": "刻制公章"})
    _post(client, f"/case-types/{REG}/checklist/{items[2].id}/move", {"direction": "up"})

    labels = [i.label for i in _type().checklist]
    assert labels[0] == "公司章程" and labels[1] == "企业名称网上申报"
    assert "住所(经营场所)证明" not in labels and labels[-1] == "刻制公章"
    db.session.expire_all()
    reloaded = db.session.get(AssistanceCase, case.id)
    assert [(i.label, i.stage_id) for i in reloaded.checklist] == before


def test_a_route_is_only_for_talent_types(client, office):
    response = _post(
        client,
        f"/case-types/{REG}/checklist",
        {"item-add-label": "积分", "item-add-route": "points"},
    )
    # The field is not offered on a registration type: the value is refused, never stored.
    assert response.status_code == 422
    assert "积分" in response.get_data(as_text=True)
    assert all(i.route is None for i in _type().checklist)

    talent = db.session.scalar(select(CaseType).where(CaseType.code == "TAL"))
    ok = post_form(
        client,
        f"/case-types/{talent.id}/checklist",
        {"item-add-label": "人才引进审批表", "item-add-route": "points"},
        form_url=f"/case-types/{talent.id}",
    )
    assert ok.status_code == 302
    assert _type(talent.id).checklist[-1].route == "points"


def test_a_new_type_needs_two_stages_and_keeps_the_input(client, office):
    refused = post_form(
        client,
        "/case-types/new",
        {"code": "LEASE", "name": "厂房租赁", "kind": "site", "stages": "对接需求", "active": "1"},
    )
    assert refused.status_code == 422
    assert "厂房租赁" in refused.get_data(as_text=True)
    assert db.session.scalar(select(CaseType).where(CaseType.code == "LEASE")) is None

    created = post_form(
        client,
        "/case-types/new",
        {
            "code": "lease",
            "name": "厂房租赁",
            "kind": "site",
            "stages": "对接需求\n\n实地踏勘\n签约",
            "active": "1",
        },
    )
    assert created.status_code == 302
    case_type = db.session.scalar(select(CaseType).where(CaseType.code == "LEASE"))
    assert [s.name for s in case_type.stages] == ["对接需求", "实地踏勘", "签约"]


def test_the_kind_of_a_type_in_use_cannot_change(client, office, make_firm, make_user):
    _case_at(_type().stages[0], make_user("commissioner"), make_firm())
    response = post_form(
        client,
        f"/case-types/{REG}/edit",
        {"name": "工商注册", "kind": "other", "description": "", "active": "0"},
    )
    assert response.status_code == 422
    case_type = _type()
    assert case_type.kind == "registration" and case_type.active

    renamed = post_form(
        client,
        f"/case-types/{REG}/edit",
        {"name": "企业设立登记", "kind": "registration", "description": "", "active": "0"},
    )
    assert renamed.status_code == 302
    case_type = _type()
    assert case_type.name == "企业设立登记" and not case_type.active
