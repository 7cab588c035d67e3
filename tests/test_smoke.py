from tests.conftest import login


def test_health_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_office_user_logs_in_and_sees_firm_list(client, make_user, make_firm):
    user = make_user("office")
    firm = make_firm(name="上海长宁示例科技有限公司")
    response = login(client, user.username)
    assert response.status_code == 302
    page = client.get("/firms/").get_data(as_text=True)
    assert firm.name in page
