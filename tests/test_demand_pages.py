"""The demand pages (issue 3): intake, the list, a demand's page with its timeline and
every action form, what each role may see, refusals and stale forms."""

import html
import re

import pytest
from sqlalchemy import func, select

from crm.demands import services
from crm.demands.models import Demand, DemandEvent, ExtensionRequest
from crm.demands.services import Unit
from crm.extensions import db
from tests.conftest import csrf_token, login, post_form

# -- helpers -------------------------------------------------------------------------------


def english(client) -> None:
    """Switch the logged-in user's interface to English, as the footer button does."""
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/password")})


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def act(client, demand: Demand, path: str, prefix: str, version: int | None = None, **fields):
    """Post one action form of ``demand``'s page, as its button does."""
    data = {f"{prefix}-{name}": value for name, value in fields.items()}
    data[f"{prefix}-version"] = demand.version if version is None else version
    return post_form(client, f"/demands/{demand.id}/{path}", data, form_url="/account/password")


def action_form(page: str, key: str) -> str:
    """The HTML of the action form ``key`` (e.g. ``reject``, ``resolve_task-3``)."""
    start = page.index(f'id="action-{key}"')
    return page[start : page.index("</form>", start)]


def textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\s*(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1))


def events(demand: Demand) -> list[str]:
    return list(
        db.session.scalars(
            select(DemandEvent.kind)
            .where(DemandEvent.demand_id == demand.id)
            .order_by(DemandEvent.id)
        )
    )


@pytest.fixture
def world(make_street, make_department, make_firm, make_user):
    home, away = make_street(name="华阳路街道"), make_street(name="新泾镇")
    dept, other_dept = make_department(name="区市场监管局"), make_department(name="区人社局")
    firm = make_firm(name="上海华阳示例科技有限公司", street=home)
    other_firm = make_firm(name="上海新泾另一家贸易有限公司", street=away)
    return {
        "home": home,
        "away": away,
        "dept": dept,
        "other_dept": other_dept,
        "firm": firm,
        "other_firm": other_firm,
        "office": make_user("office", display_name="王芳"),
        "street": make_user("street", street=home, display_name="李街道"),
        "commissioner": make_user("commissioner", street=home, display_name="赵专员"),
        "handler": make_user("department", department=dept, display_name="陈处理"),
        "other_handler": make_user("department", department=other_dept),
        "firm_user": make_user("firm", firm=firm, display_name="企业联系人"),
        "other_firm_user": make_user("firm", firm=other_firm),
    }


@pytest.fixture
def dispatched(world, make_demand):
    """A demand of the home firm dispatched at level 3 to ``dept``, another dept co-handling."""

    def _make(*, co=False, accepted=False):
        demand = make_demand(world["firm"], actor=world["office"])
        services.accept_demand(demand, actor=world["office"])
        services.dispatch_demand(
            demand,
            actor=world["office"],
            level=3,
            lead=Unit(department=world["dept"]),
            co_units=[Unit(department=world["other_dept"])] if co else [],
        )
        db.session.commit()
        if accepted:
            services.accept_task(demand.tasks[0], actor=world["handler"])
            db.session.commit()
        return demand

    return _make


def resolved(world, demand):
    services.accept_task(demand.lead_task, actor=world["handler"])
    services.resolve_task(demand.lead_task, actor=world["handler"], resolution="已办结。")
    db.session.commit()
    return demand


# -- intake --------------------------------------------------------------------------------


def _intake(client, firm, category, **overrides):
    page = client.get("/demands/new").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {
        "firm_id": firm.id,
        "category_id": category("OTHER").id,
        "title": "厂房租金补贴咨询",
        "description": "企业想了解厂房租金补贴的申请条件。",
        "urgency": "normal",
        "channel": "hotline",
        "submission_key": key,
        **overrides,
    }
    return post_form(client, "/demands/new", data)


@pytest.mark.parametrize("role", ["office", "street", "commissioner"])
def test_staff_take_in_a_demand_and_own_it(client, world, category, role):
    user = world[role]
    login(client, user.username)
    english(client)
    response = _intake(client, world["firm"], category, channel="walk_in")
    assert response.status_code == 302
    demand = db.session.scalar(select(Demand))
    assert response.headers["Location"].endswith(f"/demands/{demand.id}")
    assert (demand.owner_id, demand.channel, demand.state) == (user.id, "walk_in", "submitted")
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "厂房租金补贴咨询" in page
    assert "Demand received" in page
    assert f"{demand.number} recorded" in page


def test_the_firm_is_chosen_among_the_users_own_firms(client, world, category, make_firm):
    login(client, world["street"].username)
    english(client)
    page = text_of(client.get("/demands/new?firm_q=上海"))
    assert world["firm"].name in page
    assert world["other_firm"].name not in page

    response = _intake(client, world["other_firm"], category)
    assert response.status_code == 422
    assert "Choose one of the firms you look after." in text_of(response)
    assert db.session.scalar(select(func.count()).select_from(Demand)) == 0


def test_the_firm_page_can_prefill_the_firm(client, world):
    login(client, world["office"].username)
    page = client.get(f"/demands/new?firm_id={world['firm'].id}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{world["firm"].id}"', page)


def test_a_refused_intake_keeps_what_was_typed(client, world, category):
    login(client, world["office"].username)
    english(client)
    response = _intake(client, world["firm"], category, title="")
    assert response.status_code == 422
    page = text_of(response)
    assert textarea(page, "description") == "企业想了解厂房租金补贴的申请条件。"
    assert db.session.scalar(select(func.count()).select_from(Demand)) == 0


def test_a_form_sent_twice_creates_one_demand(client, world, category):
    login(client, world["office"].username)
    first = _intake(client, world["firm"], category, submission_key="k-1234")
    second = _intake(client, world["firm"], category, submission_key="k-1234")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Demand)) == 1


@pytest.mark.parametrize("role", ["department", "leader", "firm"])
def test_other_roles_cannot_take_in_demands(client, login_as, role):
    login_as(role)
    assert client.get("/demands/new").status_code == 403


# -- acceptance and dispatch ---------------------------------------------------------------


def test_accept(client, world, make_demand):
    demand = make_demand(world["firm"], actor=world["commissioner"])
    login(client, world["street"].username)
    response = act(client, demand, "accept", "accept", note="已受理")
    assert response.status_code == 302
    assert demand.state == "accepted"
    assert events(demand)[-1] == "accepted"
    assert demand.owner_id == world["commissioner"].id  # the first receiver keeps it


def test_reject_with_a_reason(client, world, make_demand):
    demand = make_demand(world["firm"], actor=world["office"])
    login(client, world["office"].username)
    english(client)
    act(client, demand, "reject", "reject", reason="不属于本区受理范围")
    assert (demand.state, demand.reject_reason) == ("rejected", "不属于本区受理范围")
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "Not accepted" in page and "不属于本区受理范围" in page


def test_merge_a_duplicate_into_the_demand_it_repeats(client, world, make_demand):
    first = make_demand(world["firm"], actor=world["office"])
    again = make_demand(world["firm"], actor=world["office"])
    login(client, world["office"].username)
    response = act(client, again, "merge", "merge", into=first.number)
    assert response.status_code == 302
    assert (again.state, again.merged_into_id) == ("rejected", first.id)
    assert events(first)[-1] == "duplicate_merged"


def test_dispatch_level_3_to_a_lead_and_a_co_handling_department(client, world, make_demand):
    demand = make_demand(world["firm"], actor=world["office"])
    services.accept_demand(demand, actor=world["office"])
    db.session.commit()
    login(client, world["office"].username)
    english(client)
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "15 working days" in action_form(page, "dispatch")  # the category's level-3 limit
    response = act(
        client,
        demand,
        "dispatch",
        "dispatch",
        level=3,
        lead=f"d{world['dept'].id}",
        co_units=f"d{world['other_dept'].id}",
        note="请牵头办理",
    )
    assert response.status_code == 302
    assert demand.state == "dispatched" and demand.level == 3
    assert [(t.role, t.department_id) for t in demand.tasks] == [
        ("lead", world["dept"].id),
        ("co", world["other_dept"].id),
    ]
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "区市场监管局" in page and "Dispatched" in page


def test_a_refused_dispatch_says_why_beside_the_field_and_keeps_the_text(
    client, world, make_demand
):
    demand = make_demand(world["firm"], actor=world["office"])
    services.accept_demand(demand, actor=world["office"])
    db.session.commit()
    login(client, world["office"].username)
    english(client)
    response = act(
        client,
        demand,
        "dispatch",
        "dispatch",
        level=1,
        lead=f"d{world['dept'].id}",
        note="备注文字",
    )
    assert response.status_code == 422
    form = action_form(text_of(response), "dispatch")
    assert "Level 1 and 2 demands are handled by the firm's own street." in form
    assert textarea(form, "dispatch-note") == "备注文字"
    assert demand.state == "accepted"


# -- handling ------------------------------------------------------------------------------


def test_the_handler_accepts_its_task(client, world, dispatched):
    demand = dispatched()
    task = demand.tasks[0]
    login(client, world["handler"].username)
    response = act(client, demand, f"tasks/{task.id}/accept", f"accept_task-{task.id}")
    assert response.status_code == 302
    assert (task.state, task.handler_id, demand.state) == (
        "accepted",
        world["handler"].id,
        "in_progress",
    )


def test_a_returned_lead_task_sends_the_demand_back(client, world, dispatched):
    demand = dispatched()
    task = demand.tasks[0]
    login(client, world["handler"].username)
    act(client, demand, f"tasks/{task.id}/return", f"return_task-{task.id}", reason="非本部门职责")
    assert (task.state, task.return_reason, demand.state) == (
        "returned",
        "非本部门职责",
        "returned",
    )
    assert events(demand)[-1] == "task_returned"


def test_progress_note(client, world, dispatched):
    demand = dispatched(accepted=True)
    task = demand.tasks[0]
    login(client, world["handler"].username)
    act(client, demand, f"tasks/{task.id}/progress", f"progress-{task.id}", message="已联系企业")
    event = db.session.scalar(select(DemandEvent).where(DemandEvent.kind == "progress"))
    assert (event.message, event.internal) == ("已联系企业", False)


def test_extension_requested_then_approved_from_the_office_list(client, world, dispatched):
    demand = dispatched(accepted=True)
    task = demand.tasks[0]
    old_due = task.due_on
    login(client, world["handler"].username)
    act(
        client,
        demand,
        f"tasks/{task.id}/extension",
        f"request_extension-{task.id}",
        days=3,
        reason="需要现场核查",
    )
    req = db.session.scalar(select(ExtensionRequest))
    assert (req.state, req.days) == ("pending", 3)

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    login(client, world["office"].username)
    english(client)
    page = text_of(client.get("/demands/extensions"))
    assert demand.number in page and "需要现场核查" in page
    response = post_form(
        client,
        f"/demands/{demand.id}/extensions/{req.id}",
        {
            "next": "extensions",
            f"decide-{req.id}-version": demand.version,
            f"decide-{req.id}-decision": "approve",
        },
        form_url="/demands/extensions",
    )
    assert response.headers["Location"].endswith("/demands/extensions")
    assert req.state == "approved"
    assert task.due_on > old_due and demand.due_on == task.due_on
    assert "No extension request is waiting" in text_of(client.get("/demands/extensions"))


def test_extension_declined_on_the_demand_page(client, world, dispatched):
    demand = dispatched(accepted=True)
    req = services.request_extension(
        demand.tasks[0], actor=world["handler"], days=2, reason="材料未齐"
    )
    db.session.commit()
    login(client, world["office"].username)
    act(
        client,
        demand,
        f"extensions/{req.id}",
        f"decide-{req.id}",
        decision="decline",
        note="请按期办结",
    )
    assert (req.state, req.decision_note) == ("declined", "请按期办结")
    assert events(demand)[-1] == "extension_declined"


def test_pause_and_resume(client, world, dispatched):
    demand = dispatched(accepted=True)
    login(client, world["handler"].username)
    english(client)
    act(client, demand, "pause", "pause", reason="等待企业补充材料")
    assert demand.paused_at is not None
    assert "data-paused" in client.get(f"/demands/{demand.id}").get_data(as_text=True)
    act(client, demand, "resume", "resume")
    assert demand.paused_at is None
    assert events(demand)[-2:] == ["paused", "resumed"]


def test_resolving_the_lead_task_resolves_the_demand(client, world, dispatched):
    demand = dispatched(accepted=True)
    task = demand.tasks[0]
    login(client, world["handler"].username)
    act(
        client,
        demand,
        f"tasks/{task.id}/resolve",
        f"resolve_task-{task.id}",
        resolution="已协调解决",
    )
    assert (demand.state, demand.reply) == ("resolved", "已协调解决")


def test_the_lead_cannot_resolve_while_a_co_task_is_open_and_keeps_its_reply(
    client, world, dispatched
):
    demand = dispatched(co=True, accepted=True)
    task = demand.lead_task
    login(client, world["handler"].username)
    english(client)
    response = act(
        client, demand, f"tasks/{task.id}/resolve", f"resolve_task-{task.id}", resolution="答复草稿"
    )
    assert response.status_code == 422
    form = action_form(text_of(response), f"resolve_task-{task.id}")
    assert "Co-handling units are still working: 区人社局." in form
    assert textarea(form, f"resolve_task-{task.id}-resolution") == "答复草稿"
    assert demand.state == "in_progress"


# -- the firm's answer ---------------------------------------------------------------------


def test_the_firm_rates_satisfied_and_the_demand_closes(client, world, dispatched):
    demand = resolved(world, dispatched())
    login(client, world["firm_user"].username)
    english(client)
    assert 'id="action-rate"' in client.get(f"/demands/{demand.id}").get_data(as_text=True)
    act(client, demand, "rate", "rate", rating="satisfied", comment="很及时")
    assert (demand.state, demand.rating) == ("closed", "satisfied")
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "Rated by the firm" in page and "很及时" in page


def test_not_satisfied_reopens(client, world, dispatched):
    demand = resolved(world, dispatched())
    login(client, world["firm_user"].username)
    act(client, demand, "rate", "rate", rating="not_satisfied", comment="未解决")
    assert (demand.state, demand.reopen_count) == ("reopened", 1)


def test_a_follow_up_call_with_a_rating_given_by_phone(client, world, dispatched):
    demand = resolved(world, dispatched())
    login(client, world["commissioner"].username)
    act(
        client,
        demand,
        "follow-up",
        "follow_up",
        message="电话回访，企业表示满意",
        rating="basically_satisfied",
    )
    assert (demand.state, demand.rating) == ("closed", "basically_satisfied")
    assert events(demand)[-2:] == ["follow_up", "rated"]


def test_the_firm_withdraws_before_acceptance(client, world, make_demand):
    demand = make_demand(world["firm"], actor=world["office"])
    login(client, world["firm_user"].username)
    act(client, demand, "withdraw", "withdraw", reason="问题已自行解决")
    assert demand.state == "withdrawn"


def test_an_internal_note_is_hidden_from_the_firm(client, world, dispatched):
    demand = dispatched()
    login(client, world["office"].username)
    english(client)
    act(client, demand, "note", "note", message="企业法人另有诉讼纠纷", internal="y")
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "企业法人另有诉讼纠纷" in page and "internal" in page

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    login(client, world["firm_user"].username)
    english(client)
    page = text_of(client.get(f"/demands/{demand.id}"))
    assert "企业法人另有诉讼纠纷" not in page
    assert "data-internal" not in page
    assert "Dispatched" in page  # the rest of the timeline is there


# -- refusals and concurrency --------------------------------------------------------------


def test_an_action_this_role_may_not_take_is_refused_with_the_message(client, world, dispatched):
    demand = dispatched(accepted=True)
    login(client, world["commissioner"].username)  # level 3: not the commissioner's task
    english(client)
    task = demand.tasks[0]
    response = act(
        client, demand, f"tasks/{task.id}/progress", f"progress-{task.id}", message="进展说明"
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "This task was dispatched to another unit." in page
    assert textarea(page, f"progress-{task.id}-message") == "进展说明"


def test_a_stale_form_names_who_changed_the_demand_and_keeps_the_text(
    client, world, make_demand, make_user
):
    demand = make_demand(world["firm"], actor=world["office"])
    loaded_version = demand.version
    colleague = make_user("office", display_name="周同事")
    services.accept_demand(demand, actor=colleague)
    db.session.commit()

    login(client, world["office"].username)
    english(client)
    response = act(
        client, demand, "reject", "reject", version=loaded_version, reason="重复提交，不予受理"
    )
    assert response.status_code == 409
    page = text_of(response)
    assert "周同事 changed this demand in the meantime" in page
    assert textarea(page, "reject-reason") == "重复提交，不予受理"
    assert demand.state == "accepted"


def test_a_post_without_the_version_is_refused(client, world, make_demand):
    demand = make_demand(world["firm"], actor=world["office"])
    login(client, world["office"].username)
    response = post_form(client, f"/demands/{demand.id}/accept", {}, form_url="/account/password")
    assert response.status_code == 422
    assert demand.state == "submitted"


# -- who sees what -------------------------------------------------------------------------


def test_a_department_sees_only_demands_with_its_tasks(client, world, dispatched, make_demand):
    ours = dispatched()
    theirs = make_demand(world["firm"], actor=world["office"], title="另一个部门的诉求")
    services.accept_demand(theirs, actor=world["office"])
    services.dispatch_demand(
        theirs, actor=world["office"], level=3, lead=Unit(department=world["other_dept"])
    )
    db.session.commit()
    login(client, world["handler"].username)
    page = text_of(client.get("/demands/"))
    assert ours.number in page and theirs.number not in page
    assert client.get(f"/demands/{ours.id}").status_code == 200
    assert client.get(f"/demands/{theirs.id}").status_code == 403


def test_a_firm_user_gets_404_for_another_firms_demand(client, world, make_demand):
    theirs = make_demand(world["other_firm"], actor=world["office"])
    ours = make_demand(world["firm"], actor=world["office"])
    login(client, world["firm_user"].username)
    assert client.get(f"/demands/{theirs.id}").status_code == 404
    assert client.get(f"/demands/{ours.id}").status_code == 200
    assert client.get("/demands/").status_code == 403  # the staff list is not the portal


def test_a_street_sees_its_own_streets_demands(client, world, make_demand):
    ours = make_demand(world["firm"], actor=world["office"])
    theirs = make_demand(world["other_firm"], actor=world["office"])
    login(client, world["street"].username)
    page = text_of(client.get("/demands/"))
    assert ours.number in page and theirs.number not in page
    assert client.get(f"/demands/{theirs.id}").status_code == 403


# -- the list ------------------------------------------------------------------------------


def test_the_list_filters_by_state_mine_and_search(client, world, make_demand):
    mine = make_demand(world["firm"], actor=world["office"], title="用电增容")
    other = make_demand(world["firm"], actor=world["street"], title="人才公寓")
    services.accept_demand(other, actor=world["office"])
    db.session.commit()
    login(client, world["office"].username)

    def numbers(query: str) -> set[str]:
        page = client.get(f"/demands/?{query}").get_data(as_text=True)
        return {n for n in (mine.number, other.number) if n in page}

    assert numbers("") == {mine.number, other.number}
    assert numbers("mine=y") == {mine.number}
    assert numbers("state=accepted") == {other.number}
    assert numbers("state=open") == {mine.number, other.number}
    assert numbers("q=人才") == {other.number}
    assert numbers(f"q={mine.number}") == {mine.number}
    assert numbers("q=华阳示例") == {mine.number, other.number}


def test_the_list_marks_overdue_demands(client, world, dispatched):
    demand = dispatched()
    demand.due_on = demand.due_on.replace(year=demand.due_on.year - 1)
    db.session.commit()
    login(client, world["office"].username)
    page = client.get("/demands/").get_data(as_text=True)
    assert "data-overdue" in page


def test_the_list_runs_the_same_statements_for_5_or_30_demands(
    client, world, make_demand, count_queries
):
    login(client, world["office"].username)

    def make(n):
        for _ in range(n):
            make_demand(world["firm"], actor=world["office"])

    make(5)
    with count_queries() as few:
        assert client.get("/demands/").status_code == 200
    make(25)
    with count_queries() as many:
        assert client.get("/demands/").status_code == 200
    assert len(few) == len(many)
