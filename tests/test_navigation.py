"""Each role's menu shows only what it may open, and everything it shows opens."""

import re

import pytest

from crm.auth.models import ROLES

NAV = re.compile(
    r'<div class="collapse navbar-collapse" id="mainnav">(.*?)</ul>\s*<ul class="navbar-nav">', re.S
)
HREF = re.compile(r'href="([^"#]+)"')

# Pages each role must find in its menu (by path).
EXPECTED = {
    "admin": {"/admin/users/", "/admin/audit/"},
    "office": {
        "/firms/",
        "/firms/reassign",
        "/visits/",
        "/cadence/",
        "/cases/",
        "/case-types/",
        "/stats/",
        "/bulletins/",
        "/stats/help",
    },
    "street": {"/firms/", "/firms/reassign", "/stats/"},
    "commissioner": {"/my-day/", "/firms/mine", "/firms/", "/visits/", "/cases/"},
    "department": set(),
    "leader": {"/firms/", "/stats/"},
    "firm": set(),
}


@pytest.mark.parametrize("role", ROLES)
def test_menu_links_all_open_for_the_role(client, login_as, role):
    login_as(role)
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    menu = NAV.search(page.get_data(as_text=True))
    assert menu, "the page has no main menu"
    links = set(HREF.findall(menu.group(1)))
    missing = {path for path in EXPECTED[role] if path in _existing_paths(client)} - links
    assert not missing, f"{role} menu lacks {missing}"
    for href in links:
        assert client.get(href).status_code == 200, f"{role} menu links {href}, which fails"


def _existing_paths(client):
    return {rule.rule for rule in client.application.url_map.iter_rules()}


def test_firm_user_menu_is_the_portal(client, login_as, make_firm):
    firm = make_firm()
    login_as("firm", firm_id=firm.id)
    menu = NAV.search(client.get("/portal/").get_data(as_text=True)).group(1)
    for path in ("/portal/", "/portal/demands", "/portal/services", "/portal/profile"):
        assert f'href="{path}"' in menu
    assert 'href="/firms/"' not in menu
    assert 'href="/demands/"' not in menu
