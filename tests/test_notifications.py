"""In-app notifications: each user's own, the bell's unread count, opening and reading."""

import re
from datetime import timedelta

import pytest

from crm.auth.models import ROLES
from crm.demands.models import Notification
from crm.extensions import db
from crm.timeutil import utcnow
from tests.conftest import csrf_token

BELL = re.compile(r'class="nav-link navbar-bell[^"]*" href="/notifications/" data-unread="(\d+)"')
ITEM = re.compile(r'data-notification="(\d+)"')


@pytest.fixture
def notify(app):
    """``notify(user, "text", demand=None, minutes_ago=0, read=False)``: a stored notification."""

    def _notify(user, message, *, demand=None, minutes_ago=0, read=False):
        at = utcnow() - timedelta(minutes=minutes_ago)
        n = Notification(
            user_id=user.id,
            demand_id=demand.id if demand is not None else None,
            kind="dispatched",
            message=message,
            created_at=at,
            read_at=at if read else None,
        )
        db.session.add(n)
        db.session.commit()
        return n

    return _notify


def bell(client, url: str = "/notifications/") -> int:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200
    match = BELL.search(response.get_data(as_text=True))
    assert match, f"no bell on {url}"
    return int(match.group(1))


def listed(client, url: str = "/notifications/") -> list[int]:
    response = client.get(url)
    assert response.status_code == 200
    return [int(i) for i in ITEM.findall(response.get_data(as_text=True))]


# -- the list ----------------------------------------------------------------------------


def test_users_see_only_their_own_notifications_newest_first(client, login_as, make_user, notify):
    me, other = make_user("department"), make_user("department")
    old = notify(me, "较早的通知", minutes_ago=60, read=True)
    new = notify(me, "最新的通知", minutes_ago=1)
    notify(other, "别人的秘密通知")
    login_as(me)

    page = client.get("/notifications/").get_data(as_text=True)
    assert listed(client) == [new.id, old.id]
    assert "最新的通知" in page
    assert "别人的秘密通知" not in page


def test_unread_ones_are_highlighted_and_can_be_listed_alone(client, login_as, make_user, notify):
    me = make_user("street")
    read = notify(me, "已读", minutes_ago=5, read=True)
    unread = notify(me, "未读")
    login_as(me)

    page = client.get("/notifications/").get_data(as_text=True)
    assert re.search(rf'data-notification="{unread.id}" data-unread', page)
    assert not re.search(rf'data-notification="{read.id}" data-unread', page)
    assert listed(client, "/notifications/?unread=1") == [unread.id]


def test_the_list_is_paginated(client, login_as, make_user, notify):
    me = make_user("office")
    made = [notify(me, f"通知{n}", minutes_ago=n) for n in range(7)]
    login_as(me)
    first = listed(client, "/notifications/?per_page=5")
    second = listed(client, "/notifications/?per_page=5&page=2")
    assert first + second == [n.id for n in made]


def test_an_empty_list_says_so(client, login_as):
    login_as("leader")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "empty-state" in page


@pytest.mark.parametrize("role", ROLES)
def test_every_logged_in_role_has_its_own_notifications(client, login_as, make_user, notify, role):
    """Each role: the list 200, its own notification opens (302), another's 404, read-all 302."""
    me, other = make_user(role), make_user("office")
    own, theirs = notify(me, "自己的"), notify(other, "别人的")
    login_as(me)
    assert client.get("/notifications/").status_code == 200
    assert client.get(f"/notifications/{own.id}").status_code == 302
    assert client.get(f"/notifications/{theirs.id}").status_code == 404
    token = csrf_token(client, "/notifications/")
    assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 302


def test_anonymous_users_go_to_login(client):
    for response in (
        client.get("/notifications/"),
        client.get("/notifications/1"),
        client.post("/notifications/read-all", data={"csrf_token": csrf_token(client, "/login")}),
    ):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


# -- opening one -------------------------------------------------------------------------


def test_opening_a_notification_marks_it_read_and_goes_to_the_demand(
    client, login_as, make_user, make_demand, notify
):
    me = make_user("office")
    demand = make_demand(actor=me)
    n = notify(me, "请处理", demand=demand)
    login_as(me)

    response = client.get(f"/notifications/{n.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/demands/{demand.id}")
    db.session.refresh(n)
    assert n.read_at is not None


def test_a_firm_user_opens_its_own_firms_demand(
    client, login_as, make_user, make_firm, make_demand, notify
):
    firm = make_firm()
    me = make_user("firm", firm=firm)
    demand = make_demand(firm)
    n = notify(me, "您的诉求已受理", demand=demand)
    login_as(me)
    response = client.get(f"/notifications/{n.id}")
    assert response.headers["Location"].endswith(f"/demands/{demand.id}")
    assert client.get(response.headers["Location"]).status_code == 200


def test_a_notification_without_a_demand_goes_back_to_the_list(client, login_as, make_user, notify):
    me = make_user("office")
    n = notify(me, "系统通知")
    login_as(me)
    response = client.get(f"/notifications/{n.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/notifications/")
    db.session.refresh(n)
    assert n.read_at is not None


def test_a_demand_out_of_reach_now_is_not_opened(
    client, login_as, make_user, make_demand, make_firm, notify
):
    """A task re-dispatched elsewhere: the old unit is told so, not answered 403."""
    me = make_user("department")
    n = notify(me, "曾派给你的诉求", demand=make_demand(make_firm()))
    login_as(me)
    response = client.get(f"/notifications/{n.id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/notifications/")


def test_another_users_notification_is_not_found_and_stays_unread(
    client, login_as, make_user, make_demand, notify
):
    me, other = make_user("office"), make_user("office")
    theirs = notify(other, "别人的通知", demand=make_demand(actor=other))
    login_as(me)

    response = client.get(f"/notifications/{theirs.id}")
    assert response.status_code == 404
    assert "别人的通知" not in response.get_data(as_text=True)
    db.session.refresh(theirs)
    assert theirs.read_at is None
    assert client.get("/notifications/999999").status_code == 404


def test_mark_all_read_touches_only_ones_own(client, login_as, make_user, notify):
    me, other = make_user("commissioner"), make_user("commissioner")
    mine = [notify(me, f"我的{n}") for n in range(3)]
    theirs = notify(other, "别人的")
    login_as(me)

    token = csrf_token(client, "/notifications/")
    response = client.post("/notifications/read-all", data={"csrf_token": token})
    assert response.status_code == 302
    for n in mine:
        db.session.refresh(n)
        assert n.read_at is not None
    db.session.refresh(theirs)
    assert theirs.read_at is None
    assert bell(client) == 0


def test_mark_all_read_needs_the_csrf_token(client, login_as, make_user, notify):
    me = make_user("office")
    n = notify(me, "未读")
    login_as(me)
    assert client.post("/notifications/read-all").status_code == 400
    db.session.refresh(n)
    assert n.read_at is None


# -- the bell ----------------------------------------------------------------------------


def test_the_bell_counts_unread_and_drops_after_opening_one(
    client, login_as, make_user, make_demand, notify
):
    me, other = make_user("office"), make_user("office")
    demand = make_demand(actor=other)
    # make_demand told every office user about the new demand: start from a clean slate.
    db.session.execute(db.update(Notification).values(read_at=utcnow()))
    db.session.commit()
    first = notify(me, "一", demand=demand)
    notify(me, "二")
    notify(me, "三", read=True)
    notify(other, "别人的")
    login_as(me)

    assert bell(client, "/account/password") == 2
    client.get(f"/notifications/{first.id}")
    assert bell(client, "/account/password") == 1
    assert bell(client) == 1


def test_the_bell_shows_a_badge_only_when_something_is_unread(client, login_as, make_user, notify):
    me = make_user("leader")
    login_as(me)
    page = client.get("/notifications/").get_data(as_text=True)
    bell_html = page[page.index("navbar-bell") : page.index("</a>", page.index("navbar-bell"))]
    assert "badge" not in bell_html
    notify(me, "新通知")
    page = client.get("/notifications/").get_data(as_text=True)
    bell_html = page[page.index("navbar-bell") : page.index("</a>", page.index("navbar-bell"))]
    assert ">1</span>" in bell_html


def test_the_bell_costs_one_count_and_nothing_for_anonymous_users(
    client, login_as, make_user, notify, count_queries
):
    with count_queries() as queries:
        page = client.get("/login").get_data(as_text=True)
    assert "navbar-bell" not in page
    assert not [q for q in queries if "notifications" in q]

    me = make_user("office")
    notify(me, "一条")
    login_as(me)
    client.get("/account/password")  # warm up
    with count_queries() as queries:
        assert client.get("/account/password").status_code == 200
    counts = [q for q in queries if "notifications" in q]
    assert len(counts) == 1
    assert "count(" in counts[0].lower()
