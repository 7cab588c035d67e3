"""The firm list (GET /firms/) as demo-office, beside the same work in hand-written SQL.

For each filter the page is requested through the Flask test client (real login, real
session, the whole stack but the network) and the equivalent SQL is run straight through
the driver on the same database: the session and user lookups, the filter form's streets
and commissioners, the COUNT, the page of firms, and the streets, open assignments and
commissioners the rows show. page/raw is what the framework, ORM and template add.
"""

from urllib.parse import urlencode

from sqlalchemy import select

from bench.harness import Environment, RawSQL, count_statements, measure, table

PER_PAGE = 25

# Filters a person would use: the default list, one street's sector-tier firms, a name
# search (a scan: names are matched anywhere), and a page deep in the default list.
SCENARIOS = (
    ("default", {}),
    ("street + tier", {"street": "虹桥街道", "tier": "sector"}),
    ("name search", {"q": "科技"}),
    ("page 100", {"page": 100}),
)


def run(env: Environment, *, requests: int) -> None:
    from crm.auth.models import User, UserSession
    from crm.extensions import db
    from crm.org.models import Street

    print(f"\nfirms: GET /firms/ as demo-office, {requests} requests per filter")
    client = env.client("demo-office")
    with env.app.app_context():
        office_id = db.session.scalar(select(User.id).where(User.username == "demo-office"))
        token = db.session.scalar(
            select(UserSession.token)
            .where(UserSession.user_id == office_id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.id.desc())
        )
        streets = dict(db.session.execute(select(Street.name, Street.id)).all())
        engine = db.engine
    # Requests run outside any app context, so each gets its own, as in production.
    raw = RawSQL(engine)
    work = _RawFirmList(raw, token=token, user_id=office_id)
    rows = []
    try:
        for label, spec in SCENARIOS:
            args = dict(spec)
            if "street" in args:
                args["street_id"] = streets[args.pop("street")]
            url = "/firms/" + ("?" + urlencode(args) if args else "")

            def page(url=url) -> int:
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
                return len(response.data)

            with count_statements(engine) as page_statements:
                size = page()
            matched = work.run(args)
            page_t = measure(page, times=requests)
            raw_t = measure(lambda args=args: work.run(args), times=requests)
            rows.append([
                label, matched, page_t.p50, page_t.p95, raw_t.p50, raw_t.p95,
                page_t.p50 / raw_t.p50, page_t.p95 / raw_t.p95,
                f"{len(page_statements)}/{work.statements}", size // 1024,
            ])  # fmt: skip
    finally:
        raw.close()
    print(table(
        ["filter", "firms", "page p50 ms", "p95", "raw p50 ms", "p95", "page/raw p50", "p95",
         "SQL page/raw", "page KB"],
        rows,
    ))  # fmt: skip


class _RawFirmList:
    """The SQL the firm list needs, written by hand; ``run`` returns the number matched."""

    def __init__(self, raw: RawSQL, *, token: str, user_id: int):
        self.raw = raw
        self.token = token
        self.user_id = user_id
        self.postgres = raw.dialect == "postgresql"
        self.statements = 0

    def run(self, args: dict) -> int:
        q = self._query
        self.statements = 0
        q(
            "SELECT * FROM user_sessions WHERE token = :token AND revoked_at IS NULL",
            token=self.token,
        )
        q("SELECT * FROM users WHERE id = :id", id=self.user_id)
        q("SELECT * FROM streets WHERE active = :yes ORDER BY code", yes=True)
        q(
            "SELECT * FROM users WHERE role = 'commissioner' AND active = :yes "
            "ORDER BY display_name",
            yes=True,
        )
        where, params = self._where(args)
        total = q(f"SELECT count(*) FROM firms WHERE {where}", **params)[0][0]
        offset = (int(args.get("page", 1)) - 1) * PER_PAGE
        firms = q(
            f"SELECT * FROM firms WHERE {where} ORDER BY name, id LIMIT :limit OFFSET :offset",
            limit=PER_PAGE,
            offset=offset,
            **params,
        )
        if firms:
            id_at, street_at = self.raw.columns.index("id"), self.raw.columns.index("street_id")
            firm_ids = [f[id_at] for f in firms]
            street_ids = sorted({f[street_at] for f in firms})
            q("SELECT * FROM streets WHERE id IN :ids", ids=street_ids)
            assignments = q(
                "SELECT * FROM assignments WHERE firm_id IN :ids AND ended_at IS NULL",
                ids=firm_ids,
            )
            at = self.raw.columns.index("commissioner_id")
            people = sorted({a[at] for a in assignments})
            if people:
                q("SELECT * FROM users WHERE id IN :ids", ids=people)
        self.raw.end()
        return total

    def _query(self, sql: str, **params) -> list[tuple]:
        self.statements += 1
        return self.raw.rows(sql, **params)

    def _where(self, args: dict) -> tuple[str, dict]:
        clauses, params = ["1 = 1"], {}
        if q := args.get("q"):
            # What SQLAlchemy's ilike() becomes on each backend.
            clauses.append(
                "(firms.name ILIKE :q OR firms.uscc ILIKE :code)"
                if self.postgres
                else "(lower(firms.name) LIKE lower(:q) OR lower(firms.uscc) LIKE lower(:code))"
            )
            params |= {"q": f"%{q}%", "code": f"%{q.upper()}%"}
        if street_id := args.get("street_id"):
            clauses.append("firms.street_id = :street_id")
            params["street_id"] = street_id
        if tier := args.get("tier"):
            clauses.append("firms.tier = :tier")
            params["tier"] = tier
        return " AND ".join(clauses), params
