"""The commissioner's workspace: GET /my-day/ as the busiest commissioner, and the case
board GET /cases/ as the service centre of the street with the most open cases and as
the office.

Each page is requested through the Flask test client (real login, real session, the
whole stack but the network); the figures are its p50 and p95 and the SQL statements one
request runs, which stay the same whatever the number of firms behind the page.
"""

from sqlalchemy import func, select

from bench.harness import Environment, count_statements, measure, table


def _who(env: Environment) -> dict:
    """The busiest commissioner, the busiest street's service-centre user, and facts."""
    from crm.assistance.models import AssistanceCase, Prospect
    from crm.auth.models import User
    from crm.extensions import db
    from crm.firms.models import Assignment
    from crm.org.models import Street
    from crm.visits.models import Visit

    with env.app.app_context():
        busiest = db.session.execute(
            select(User.username, func.count(Assignment.id).label("n"))
            .join(Assignment, Assignment.commissioner_id == User.id)
            .where(Assignment.ended_at.is_(None), User.active.is_(True))
            .group_by(User.username)
            .order_by(func.count(Assignment.id).desc(), User.username)
            .limit(1)
        ).first()
        street = db.session.execute(
            select(AssistanceCase.street_id, func.count().label("n"))
            .where(AssistanceCase.state == "open")
            .group_by(AssistanceCase.street_id)
            .order_by(func.count().desc(), AssistanceCase.street_id)
            .limit(1)
        ).first()
        centre = street_name = None
        if street is not None:
            street_name = db.session.get(Street, street.street_id).name
            centre = db.session.scalar(
                select(User.username)
                .where(
                    User.role == "street", User.street_id == street.street_id, User.active.is_(True)
                )
                .order_by(User.id)
                .limit(1)
            )
        facts = {
            "visits": db.session.scalar(select(func.count()).select_from(Visit)),
            "cases": db.session.scalar(select(func.count()).select_from(AssistanceCase)),
            "prospects": db.session.scalar(select(func.count()).select_from(Prospect)),
        }
    return {
        "commissioner": busiest.username if busiest else None,
        "firms": busiest.n if busiest else 0,
        "centre": centre,
        "street": street_name,
        "open_cases": street.n if street else 0,
        **facts,
    }


def run(env: Environment, *, requests: int) -> None:
    from crm.extensions import db

    who = _who(env)
    print(
        f"\nworkspace: {who['visits']} visits, {who['cases']} cases, {who['prospects']} "
        f"prospects; {requests} requests per page"
    )
    with env.app.app_context():
        engine = db.engine
    pages = []
    if who["commissioner"]:
        pages.append(
            (f"/my-day/ {who['commissioner']} ({who['firms']} firms)", who["commissioner"],
             "/my-day/")
        )  # fmt: skip
    if not any(rule.rule == "/cases/" for rule in env.app.url_map.iter_rules()):
        print("  note: the case board (/cases/) does not exist yet: skipped")
    else:
        if who["centre"]:
            pages.append(
                (f"/cases/ {who['centre']} ({who['street']}, {who['open_cases']} open)",
                 who["centre"], "/cases/")
            )  # fmt: skip
        pages.append(("/cases/ demo-office", "demo-office", "/cases/"))
    rows = []
    for label, username, url in pages:
        client = env.client(username)

        def page(client=client, url=url, username=username) -> int:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} as {username}: HTTP {response.status_code}")
            return len(response.data)

        try:
            page()  # the session's first request reads more: warm it before counting
            with count_statements(engine) as statements:
                size = page()
            timings = measure(page, times=requests)
        except RuntimeError as exc:
            print(f"  note: {exc}: skipped")
            continue
        rows.append([label, timings.p50, timings.p95, len(statements), size // 1024])
    if rows:
        print(table(["page", "p50 ms", "p95 ms", "SQL", "page KB"], rows))
