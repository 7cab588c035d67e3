"""Policies and service packages: matching throughput beside the equivalent raw SQL, one
policy's candidate list over every firm, and a package PDF's render time.

- Matching: every active firm against every policy in force, in Python
  (``crm.policies.matching``), as firm × policy checks per second; beside it, the same
  criteria written as one hand-made SQL ``WHERE`` per policy, counting the firms that meet
  every criterion. Both must count the same firms, or the benchmark stops.
- Candidate list: ``queries.candidates`` for the policy with the most criteria, over all
  firms (what GET /policies/<id>/candidates and its Excel export start from).
- PDF: ``pdf.render_snapshot`` of the package of the firm with the most policies.
"""

import json
from datetime import date

from bench.harness import Environment, RawSQL, measure, table, timed


def _shift_years(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February
        return on.replace(year=on.year - years, day=28)


def _condition(criterion, on: date, params: dict) -> str:
    """One criterion as SQL that is true when the firm meets it (unknown data: not met)."""
    from crm.firms.models import REVENUE_BANDS
    from crm.policies.attributes import holds

    attribute, op, value = criterion.attribute, criterion.operator, criterion.value
    name = f"p{len(params)}"

    def bind(v) -> str:
        key = f"{name}_{len([k for k in params if k.startswith(name)])}"
        params[key] = v
        return f":{key}"

    column = {
        "industry": "industry_code",
        "size": "size",
        "street": "street_id",
        "tier": "tier",
        "high_tech": "high_tech",
        "foreign_invested": "foreign_invested",
        "employees": "employees",
        "registered_capital": "registered_capital",
        "revenue": "revenue_band",
    }.get(attribute)
    if attribute == "industry":
        prefixes = " OR ".join(f"industry_code LIKE {bind(p + '%')}" for p in value)
        inner = f"({prefixes})"
        return f"industry_code <> '' AND {'NOT ' if op == 'not_prefix' else ''}{inner}"
    if attribute == "tags":
        wanted = [value] if op == "has" else value
        found = " OR ".join(
            f"CAST(tags AS TEXT) LIKE {bind('%' + json.dumps(t) + '%')}" for t in wanted
        )
        return f"NOT ({found})" if op == "has_none" else f"({found})"
    if attribute == "revenue":
        bands = [b for b in REVENUE_BANDS if holds("revenue", op, value, b)]
        return f"revenue_band IN ({', '.join(bind(b) for b in bands) or 'NULL'})"
    if attribute == "age":
        low, high = {
            "gte": (value, None),
            "lte": (None, value),
            "between": (
                value[0] if isinstance(value, list) else None,
                value[1] if isinstance(value, list) else None,
            ),
        }[op]
        parts = ["established_on IS NOT NULL"]
        if low is not None:
            parts.append(f"established_on <= {bind(_shift_years(on, int(low)))}")
        if high is not None:
            parts.append(f"established_on > {bind(_shift_years(on, int(high) + 1))}")
        return " AND ".join(parts)
    if attribute == "tier":
        values = value if isinstance(value, list) else [value]
        named = [v for v in values if v != "none"]
        inside = " OR ".join(
            ([f"tier IN ({', '.join(bind(v) for v in named)})"] if named else [])
            + (["tier IS NULL"] if "none" in values else [])
        )
        return f"NOT ({inside})" if op in ("ne", "not_in") else f"({inside})"
    if op in ("eq", "ne"):
        return f"{column} {'=' if op == 'eq' else '<>'} {bind(value)}"
    if op in ("in", "not_in"):
        return (
            f"{column} {'NOT ' if op == 'not_in' else ''}IN ({', '.join(bind(v) for v in value)})"
        )
    if op == "gte":
        return f"{column} >= {bind(value)}"
    if op == "lte":
        return f"{column} <= {bind(value)}"
    if op == "between":
        return f"{column} BETWEEN {bind(value[0])} AND {bind(value[1])}"
    raise ValueError(f"no SQL for {attribute} {op}")


def _sql_for(rule, on: date) -> tuple[str, dict]:
    params: dict = {}
    where = ["status = 'active'"]
    for criterion in rule.criteria:
        where.append(f"({_condition(criterion, on, params)})")
    return f"SELECT count(*) FROM firms WHERE {' AND '.join(where)}", params


def run(env: Environment, *, requests: int) -> None:
    from crm.extensions import db
    from crm.policies import matching, queries

    on = date.today()
    with env.app.app_context():
        rules = queries.rules_in_force(on)
        firms = list(queries.iter_facts())
        engine = db.engine
    if not rules:
        print("\npolicies: no policy in force in this database; nothing to measure")
        return
    checks = len(rules) * len(firms)
    criteria = sum(len(r.criteria) for r in rules)
    print(
        f"\npolicies: {len(rules)} policies in force ({criteria} criteria) × {len(firms)} "
        f"active firms = {checks:,} checks"
    )

    def python_counts() -> list[int]:
        return [
            sum(
                1
                for f in firms
                if all(r.status == matching.MET for r in matching.evaluate(rule, f, on).reasons)
            )
            for rule in rules
        ]

    # Data loaded once for both: the SQL side reads the table each time, as it must.
    with timed() as python_time:
        in_python = python_counts()
    raw = RawSQL(engine)
    statements = [_sql_for(rule, on) for rule in rules]

    def sql_counts() -> list[int]:
        counts = [raw.rows(sql, **params)[0][0] for sql, params in statements]
        raw.end()
        return counts

    with timed() as sql_time:
        in_sql = sql_counts()
    if in_python != in_sql:
        diff = [
            (r.policy_id, a, b) for r, a, b in zip(rules, in_python, in_sql, strict=True) if a != b
        ]
        raise SystemExit(f"matching and SQL disagree (policy, python, sql): {diff[:5]}")
    runs = max(3, requests // 10)
    python = measure(python_counts, times=runs, warmup=1)
    sql = measure(sql_counts, times=runs, warmup=1)
    print(
        table(
            ["matching, all firms × all policies", "p50 ms", "checks/s", "firms meeting all"],
            [
                [
                    "Python (crm.policies.matching)",
                    python.p50,
                    int(checks / (python.p50 / 1000)),
                    sum(in_python),
                ],
                [
                    "raw SQL, one count per policy",
                    sql.p50,
                    int(checks / (sql.p50 / 1000)),
                    sum(in_sql),
                ],
            ],
        )
    )
    print(f"  first runs: Python {python_time[0] * 1000:.0f} ms, SQL {sql_time[0] * 1000:.0f} ms")
    raw.close()

    busiest = max(rules, key=lambda r: (len(r.criteria), -r.policy_id))
    with env.app.app_context():
        policy = db.session.get(type(busiest.policy), busiest.policy_id)

        def candidate_list():
            return queries.candidates(policy, on)

        found = len(candidate_list())
        listing = measure(candidate_list, times=max(5, requests // 5))
    print(
        table(
            ["candidate list, one policy over all firms", "criteria", "found", "p50 ms", "p95 ms"],
            [[busiest.policy.title[:24], len(busiest.criteria), found, listing.p50, listing.p95]],
        )
    )
    _pdf(env, on, rules, firms, requests)


def _pdf(env: Environment, on: date, rules, firms, requests: int) -> None:
    from crm.extensions import db
    from crm.firms.models import Firm
    from crm.policies import matching, packages, pdf

    richest = max(
        firms[:2000],
        key=lambda f: sum(matching.evaluate(r, f, on).qualifies for r in rules),
    )
    with env.app.app_context():
        firm = db.session.get(Firm, richest.id)
        composition = packages.compose(firm, on, rules=rules)
        snapshot = packages.snapshot_of(
            firm,
            on=on,
            number=1,
            issued_at="2026-11-30T02:00:00",
            issued_by="bench",
            channel="in_person",
            universal=composition.automatic,
            individual=composition.proposed,
            streets=packages.street_names(),
        )
        size = len(pdf.render_snapshot(snapshot))
        renders = measure(
            lambda: pdf.render_snapshot(snapshot), times=max(5, requests // 5), warmup=1
        )
        db.session.rollback()
    policies = len(snapshot["universal"]) + len(snapshot["individual"])
    name = snapshot["firm"]["name"]
    print(
        table(
            ["package PDF (WeasyPrint)", "policies", "KB", "p50 ms", "p95 ms"],
            [[name[:20], policies, size // 1024, renders.p50, renders.p95]],
        )
    )
