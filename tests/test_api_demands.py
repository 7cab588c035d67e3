"""Demands through the API: intake (idempotent), the list, a demand and its timeline,
every action of the loop, and the refusals (409 stale or wrong state, 422 fields, 413)."""

import io

import pytest
from sqlalchemy import func, select

from crm.demands.models import Demand, DemandEvent
from crm.extensions import db
from tests.test_api_world import Caller, build_world, get_token

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NEW = {"category": "OTHER", "title": "用电增容咨询", "description": "新厂房需要增容到800千伏安。"}


@pytest.fixture
def world(make_street, make_department, make_firm, make_user, make_contact, assign):
    return build_world(make_street, make_department, make_firm, make_user, make_contact, assign)


@pytest.fixture
def as_(client, world):
    """``as_("office")``: a caller with a token of the world's user of that role."""
    cache: dict[str, Caller] = {}

    def _caller(role: str) -> Caller:
        if role not in cache:
            user = world["users"].get(role) or world["others"][role.removeprefix("other-")]
            cache[role] = Caller(client, get_token(client, user.username))
        return cache[role]

    return _caller


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Demand))


def act(caller: Caller, demand_id: int, action: str, expect: int = 200, **fields):
    response = caller.post(f"/demands/{demand_id}/actions", json={"action": action, **fields})
    assert response.status_code == expect, response.get_json()
    return response.get_json()


# -- intake --------------------------------------------------------------------------------


def test_a_firm_submits_for_itself_by_the_api_channel(world, as_):
    response = as_("firm").post("/demands", json=NEW)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/demands/{body['id']}"
    assert body["state"] == "submitted" and body["channel"] == "api"
    assert body["firm"] == {"id": world["firm"].id, "name": world["firm"].name}
    assert body["tasks"] is None and body["owner"] is None  # nothing internal for a firm
    assert "withdraw" in body["actions"]
    demand = db.session.get(Demand, body["id"])
    assert demand.submitted_by_id == world["users"]["firm"].id


def test_a_firm_cannot_submit_for_another_firm_or_choose_a_channel(world, as_):
    before = _count()
    other = as_("firm").post("/demands", json={**NEW, "firm_id": world["other"].id})
    assert other.status_code == 422
    assert set(other.get_json()["error"]["fields"]) == {"firm_id"}
    channel = as_("firm").post("/demands", json={**NEW, "channel": "hotline"})
    assert channel.status_code == 422
    assert set(channel.get_json()["error"]["fields"]) == {"channel"}
    assert _count() == before


def test_staff_name_the_firm_and_channel_within_their_scope(world, as_):
    missing = as_("office").post("/demands", json=NEW)
    assert missing.status_code == 422
    assert set(missing.get_json()["error"]["fields"]) == {"firm_id", "channel"}
    elsewhere = as_("commissioner").post(
        "/demands", json={**NEW, "firm_id": world["other"].id, "channel": "visit"}
    )
    assert elsewhere.status_code == 422
    own = as_("commissioner").post(
        "/demands", json={**NEW, "firm_id": world["firm"].id, "channel": "visit"}
    )
    assert own.status_code == 201
    body = own.get_json()
    assert body["channel"] == "visit"
    assert body["owner"]["id"] == world["users"]["commissioner"].id  # 首问负责


def test_the_same_idempotency_key_creates_one_demand(world, as_):
    firm = as_("firm")
    before = _count()
    first = firm.post("/demands", json=NEW, headers={"Idempotency-Key": "mp-2026-0001"})
    again = firm.post("/demands", json=NEW, headers={"Idempotency-Key": "mp-2026-0001"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert "Location" not in again.headers
    other = firm.post("/demands", json=NEW, headers={"Idempotency-Key": "mp-2026-0002"})
    assert other.status_code == 201
    assert _count() == before + 2


def test_a_key_is_one_users_own(world, as_):
    """Another user with the same key makes its own demand: keys are per submitter."""
    key = {"Idempotency-Key": "same-key"}
    a = as_("firm").post("/demands", json=NEW, headers=key)
    b = as_("other-firm").post("/demands", json=NEW, headers=key)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.get_json()["id"] != b.get_json()["id"]
    assert b.get_json()["firm"]["id"] == world["other"].id


def test_bad_idempotency_keys_and_bodies_are_refused(world, as_):
    firm = as_("firm")
    before = _count()
    long_key = firm.post("/demands", json=NEW, headers={"Idempotency-Key": "k" * 65})
    assert long_key.status_code == 400
    assert long_key.get_json()["error"]["code"] == "bad_idempotency_key"
    not_json = firm.post("/demands", data="title=x", content_type="text/plain")
    assert not_json.status_code == 415
    broken = firm.post("/demands", data="{", content_type="application/json")
    assert broken.status_code == 400
    invalid = firm.post(
        "/demands", json={"category": "OTHER", "title": " ", "urgency": "now", "colour": 1}
    )
    assert invalid.status_code == 422
    fields = invalid.get_json()["error"]["fields"]
    assert set(fields) == {"title", "description", "urgency", "colour"}
    nul = firm.post("/demands", json={**NEW, "title": "a\x00b"})
    assert nul.status_code == 422 and "title" in nul.get_json()["error"]["fields"]
    unknown_category = firm.post("/demands", json={**NEW, "category": "NOPE"})
    assert set(unknown_category.get_json()["error"]["fields"]) == {"category"}
    assert _count() == before


# -- reading -------------------------------------------------------------------------------


def test_the_list_paginates_and_filters(world, as_, make_demand):
    for n in range(23):
        make_demand(world["firm"], title=f"诉求{n}")
    office = as_("office")
    page = office.get("/demands?per_page=10&page=3").get_json()
    assert (page["page"], page["per_page"], page["total"]) == (3, 10, 25)  # and the world's two
    assert len(page["items"]) == 5
    beyond = office.get("/demands?per_page=10&page=9").get_json()
    assert beyond["items"] == [] and beyond["total"] == 25
    of_firm = office.get(f"/demands?firm_id={world['firm'].id}&state=submitted").get_json()
    assert of_firm["total"] == 23
    closed = office.get("/demands?open=false").get_json()
    assert closed["total"] == 0
    assert office.get("/demands?per_page=101").status_code == 422
    assert office.get("/demands?page=0").status_code == 422
    assert office.get("/demands?state=lost").status_code == 422


def test_the_list_costs_the_same_statements_for_more_demands(
    world, as_, make_demand, count_queries
):
    office = as_("office")
    office.get("/demands")  # the token's last_used_at is written once, not counted
    with count_queries() as few:
        office.get("/demands")
    for n in range(15):
        make_demand(world["firm" if n % 2 else "other"], title=f"诉求{n}")
    with count_queries() as many:
        assert len(office.get("/demands").get_json()["items"]) == 17
    assert len(many) == len(few)


def test_a_firm_never_sees_internal_notes_or_files(world, as_):
    demand_id = world["ids"]["demand_id"]
    act(as_("office"), demand_id, "note", message="内部：企业资质待核实", internal=True)
    act(as_("office"), demand_id, "note", message="已联系企业，请补充材料", internal=False)
    as_("office").post(
        f"/demands/{demand_id}/attachments",
        data={"files": [(io.BytesIO(PDF), "内部.pdf")], "internal": "true"},
        content_type="multipart/form-data",
    )
    firm_events = as_("firm").get(f"/demands/{demand_id}/events?per_page=100").get_json()
    messages = [e["message"] for e in firm_events["items"]]
    assert "已联系企业，请补充材料" in messages
    assert "内部：企业资质待核实" not in messages
    assert not any(e["internal"] for e in firm_events["items"])
    staff_events = as_("office").get(f"/demands/{demand_id}/events?per_page=100").get_json()
    assert staff_events["total"] == firm_events["total"] + 2  # the note and the file
    firm_view = as_("firm").get(f"/demands/{demand_id}").get_json()
    assert [a["filename"] for a in firm_view["attachments"]] == ["材料.pdf"]
    internal = next(
        a
        for a in as_("office").get(f"/demands/{demand_id}").get_json()["attachments"]
        if a["internal"]
    )
    assert as_("firm").get(f"/demands/{demand_id}/attachments/{internal['id']}").status_code == 404
    download = as_("firm").get(f"/demands/{demand_id}/attachments/{world['ids']['attachment_id']}")
    assert download.status_code == 200 and download.data == PDF


def test_a_firm_attaches_files_to_its_own_demand_never_internal(world, as_):
    created = as_("firm").post(
        "/demands",
        json={"category": "OTHER", "title": "厂房租金补贴", "description": "申请租金补贴。"},
    )
    demand_id = created.get_json()["id"]
    sent = as_("firm").post(
        f"/demands/{demand_id}/attachments",
        data={"files": [(io.BytesIO(PDF), "租赁合同.pdf")], "internal": "true"},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 201
    (row,) = sent.get_json()["items"]
    assert (row["filename"], row["internal"]) == ("租赁合同.pdf", False)
    staff_view = as_("office").get(f"/demands/{demand_id}").get_json()
    assert [a["filename"] for a in staff_view["attachments"]] == ["租赁合同.pdf"]
    refused = as_("firm").post(
        f"/demands/{world['other_ids']['demand_id']}/attachments",
        data={"files": [(io.BytesIO(PDF), "x.pdf")]},
        content_type="multipart/form-data",
    )
    assert refused.status_code in (403, 404)


def test_staff_see_tasks_and_their_actions(world, as_):
    body = as_("department").get(f"/demands/{world['ids']['demand_id']}").get_json()
    (task,) = body["tasks"]
    assert task["id"] == world["ids"]["task_id"] and task["state"] == "accepted"
    assert "resolve_task" in task["actions"]
    assert task["extensions"][0]["id"] == world["ids"]["request_id"]
    office = as_("office").get(f"/demands/{world['ids']['demand_id']}").get_json()
    assert "decide_extension" in office["actions"]


# -- the loop, action by action --------------------------------------------------------------


def test_the_loop_from_intake_to_rating(world, as_, make_department, make_user):
    firm, office, department = as_("firm"), as_("office"), as_("department")
    demand = firm.post("/demands", json=NEW).get_json()
    n = demand["id"]
    body = act(office, n, "accept", note="收到", version=demand["version"])
    assert body["state"] == "accepted"
    co = make_department()
    body = act(
        office,
        n,
        "dispatch",
        level=3,
        lead={"department_id": world["users"]["department"].department_id},
        co_units=[{"department_id": co.id}],
        note="请两部门协同办理",
    )
    assert body["state"] == "dispatched" and body["level"] == 3
    lead = next(t for t in body["tasks"] if t["role"] == "lead")
    co_task = next(t for t in body["tasks"] if t["role"] == "co")
    body = act(department, n, "accept_task", task_id=lead["id"])
    assert body["state"] == "in_progress"
    act(department, n, "progress", task_id=lead["id"], message="已现场踏勘")
    body = act(department, n, "request_extension", task_id=lead["id"], days=3, reason="等待评估")
    request_id = next(t for t in body["tasks"] if t["id"] == lead["id"])["extensions"][0]["id"]
    body = act(office, n, "decide_extension", request_id=request_id, approve=True)
    extension = next(t for t in body["tasks"] if t["id"] == lead["id"])["extensions"][0]
    assert extension["state"] == "approved"
    body = act(department, n, "pause", reason="请企业补充用电负荷表")
    assert body["paused_at"] is not None and body["pause_reason"] == "请企业补充用电负荷表"
    act(firm, n, "message", message="负荷表已上传")
    body = act(department, n, "resume")
    assert body["paused_at"] is None
    # The lead cannot resolve while the co-handling unit works.
    refused = act(department, n, "resolve_task", 409, task_id=lead["id"], resolution="已办结")
    assert refused["error"]["code"] == "state"
    co_user = Caller(
        department.client,
        get_token(department.client, make_user("department", department=co).username),
    )
    act(co_user, n, "accept_task", task_id=co_task["id"])
    act(co_user, n, "resolve_task", task_id=co_task["id"], resolution="协办意见已提供")
    body = act(department, n, "resolve_task", task_id=lead["id"], resolution="已完成增容")
    assert body["state"] == "resolved" and body["reply"] == "已完成增容"
    firm_view = firm.get(f"/demands/{n}").get_json()
    assert firm_view["reply"] == "已完成增容" and "rate" in firm_view["actions"]
    body = act(firm, n, "rate", rating="not_satisfied", comment="仍未通电")
    assert body["state"] == "reopened"
    act(
        office,
        n,
        "dispatch",
        level=3,
        lead={"department_id": world["users"]["department"].department_id},
    )
    stored = db.session.get(Demand, n)
    assert stored.state == "dispatched" and stored.reopen_count == 1
    kinds = [
        e.kind for e in db.session.scalars(select(DemandEvent).where(DemandEvent.demand_id == n))
    ]
    assert kinds[:6] == [
        "submitted",
        "accepted",
        "dispatched",
        "task_accepted",
        "progress",
        "extension_requested",
    ]
    assert "message" in kinds and "rated" in kinds


def test_satisfied_closes_and_the_office_records_a_follow_up(world, as_, make_demand):
    office, street, firm = as_("office"), as_("street"), as_("firm")
    n = make_demand(world["firm"]).id
    act(street, n, "accept")
    body = act(street, n, "dispatch", level=1, lead={"street_id": world["home"].id})
    (task,) = body["tasks"]
    act(street, n, "accept_task", task_id=task["id"])
    act(street, n, "resolve_task", task_id=task["id"], resolution="网格员已上门解决")
    body = act(firm, n, "rate", rating="satisfied")
    assert body["state"] == "closed" and body["rating"] == "satisfied"
    act(office, n, "follow_up", message="回访：企业满意")
    assert db.session.get(Demand, n).closed_at is not None


def test_reject_merge_withdraw_return_and_notes(world, as_, make_demand):
    office, firm, department = as_("office"), as_("firm"), as_("department")
    rejected = make_demand(world["firm"]).id
    assert act(office, rejected, "reject", reason="不属于诉求范围")["state"] == "rejected"
    original, duplicate = make_demand(world["firm"]), make_demand(world["firm"])
    body = act(office, duplicate.id, "merge", into=original.number.lower())
    assert body["state"] == "rejected" and body["merged_into"] == original.number
    withdrawn = firm.post("/demands", json=NEW).get_json()["id"]
    assert act(firm, withdrawn, "withdraw", reason="已自行解决")["state"] == "withdrawn"
    returned = act(
        department,
        world["ids"]["demand_id"],
        "return_task",
        task_id=world["ids"]["task_id"],
        reason="不属于本部门职责",
    )
    assert returned["state"] == "returned"
    body = act(office, world["ids"]["demand_id"], "note", message="重新派单中")
    assert db.session.scalars(
        select(DemandEvent.message).where(DemandEvent.kind == "note")
    ).all() == ["重新派单中"]
    assert body["version"] > 1


# -- refusals ---------------------------------------------------------------------------------


def test_a_stale_version_or_a_wrong_state_is_a_conflict(world, as_):
    n = world["ids"]["demand_id"]
    office = as_("office")
    version = office.get(f"/demands/{n}").get_json()["version"]
    act(office, n, "note", message="第一条", version=version)
    stale = act(office, n, "note", 409, message="第二条", version=version)
    assert stale["error"]["code"] == "stale"
    wrong_state = act(office, n, "accept", 409)
    assert wrong_state["error"]["code"] == "state"
    assert db.session.get(Demand, n).state == "in_progress"


def test_refusals_name_the_fields_and_roles(world, as_):
    n = world["ids"]["demand_id"]
    missing = act(as_("office"), n, "reject", 422)
    assert set(missing["error"]["fields"]) == {"reason"}
    unknown = act(as_("office"), n, "fly", 422)
    assert set(unknown["error"]["fields"]) == {"action"}
    both_units = act(
        as_("office"), n, "dispatch", 422, level=3, lead={"department_id": 1, "street_id": 1}
    )
    assert "lead" in " ".join(both_units["error"]["fields"])
    extra = act(as_("department"), n, "progress", 422, task_id=world["ids"]["task_id"], messag="x")
    assert {"message", "messag"} <= set(extra["error"]["fields"])
    not_for_firms = act(as_("firm"), n, "accept", 403)
    assert not_for_firms["error"]["code"] == "forbidden"
    other_street = act(as_("street"), n, "pause", 403, reason="x")  # not the lead unit
    assert other_street["error"]["code"] == "forbidden"


def test_too_big_files_are_413(world, as_, app):
    app.config["ATTACHMENT_MAX_MB"] = 0.001  # about 1 KB
    n = world["ids"]["demand_id"]
    response = as_("office").post(
        f"/demands/{n}/attachments",
        data={"files": [(io.BytesIO(PDF + b"0" * 2048), "大文件.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = as_("office").post("/demands", json={**NEW, "description": "长" * 2000})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    not_a_file = as_("office").post(
        f"/demands/{n}/attachments",
        data={"files": [(io.BytesIO(b"\x00\x01binary"), "x.exe")]},
        content_type="multipart/form-data",
    )
    assert not_a_file.status_code == 422
