"""Matching firms and policies (crm.policies.matching): every operator, missing data,
policies not yet or no longer in force, near misses, and the explanations' wording."""

from datetime import date
from decimal import Decimal

import pytest
from flask_babel import force_locale

from crm.extensions import db
from crm.policies import matching, queries
from crm.policies.matching import Criterion, FirmFacts, Rule

ON = date(2026, 11, 30)


def facts(**kw) -> FirmFacts:
    return FirmFacts(
        **{
            "id": 1,
            "name": "上海普合锐智医疗科技有限公司",
            "industry_code": "M7340",
            "size": "small",
            "street_id": 3,
            "tier": "sector",
            "high_tech": True,
            "foreign_invested": False,
            "established_on": date(2023, 3, 15),
            "employees": 48,
            "revenue_band": "500-2000",
            "registered_capital": Decimal("500.00"),
            "tags": ("专精特新", "软件"),
            **kw,
        }
    )


def rule(*criteria, review=(), **kw) -> Rule:
    return Rule(
        policy_id=kw.pop("policy_id", 1),
        kind=kw.pop("kind", "universal"),
        criteria=tuple(Criterion(*c) for c in criteria),
        review_conditions=tuple(review),
        **{"effective_from": date(2026, 1, 1), **kw},
    )


def status(criterion: tuple, **firm) -> str:
    return matching.check(Criterion(*criterion), facts(**firm), ON).status


# -- every operator, on the attribute kinds that use it ------------------------------------

OPERATOR_CASES = [
    # (criterion, met with, unmet with)
    (
        ("industry", "prefix", ["M73", "I65"]),
        {"industry_code": "M7340"},
        {"industry_code": "C3911"},
    ),
    (("industry", "not_prefix", ["K"]), {"industry_code": "M7340"}, {"industry_code": "K7010"}),
    (("size", "eq", "small"), {"size": "small"}, {"size": "large"}),
    (("size", "ne", "large"), {"size": "small"}, {"size": "large"}),
    (("size", "in", ["small", "micro"]), {"size": "micro"}, {"size": "medium"}),
    (("size", "not_in", ["large"]), {"size": "medium"}, {"size": "large"}),
    (("street", "eq", 3), {"street_id": 3}, {"street_id": 4}),
    (("street", "ne", 4), {"street_id": 3}, {"street_id": 4}),
    (("street", "in", [3, 5]), {"street_id": 5}, {"street_id": 4}),
    (("street", "not_in", [4]), {"street_id": 3}, {"street_id": 4}),
    (("tier", "eq", "district"), {"tier": "district"}, {"tier": "sector"}),
    (("tier", "eq", "none"), {"tier": None}, {"tier": "local"}),
    (("tier", "ne", "district"), {"tier": None}, {"tier": "district"}),
    (("tier", "in", ["district", "sector"]), {"tier": "sector"}, {"tier": None}),
    (("tier", "not_in", ["none"]), {"tier": "local"}, {"tier": None}),
    (("high_tech", "eq", True), {"high_tech": True}, {"high_tech": False}),
    (("foreign_invested", "eq", False), {"foreign_invested": False}, {"foreign_invested": True}),
    (
        ("age", "gte", 3),
        {"established_on": date(2023, 11, 30)},
        {"established_on": date(2023, 12, 1)},
    ),
    (
        ("age", "lte", 5),
        {"established_on": date(2021, 12, 1)},
        {"established_on": date(2020, 1, 1)},
    ),
    (
        ("age", "between", [1, 3]),
        {"established_on": date(2024, 6, 1)},
        {"established_on": date(2026, 6, 1)},
    ),
    (("employees", "gte", 50), {"employees": 50}, {"employees": 49}),
    (("employees", "lte", 300), {"employees": 300}, {"employees": 301}),
    (("employees", "between", [10, 100]), {"employees": 10}, {"employees": 101}),
    (("revenue", "gte", "500-2000"), {"revenue_band": "2000-10000"}, {"revenue_band": "100-500"}),
    (("revenue", "lte", "500-2000"), {"revenue_band": "500-2000"}, {"revenue_band": ">=50000"}),
    (
        ("revenue", "between", ["100-500", "2000-10000"]),
        {"revenue_band": "100-500"},
        {"revenue_band": "<100"},
    ),
    (
        ("revenue", "in", ["<100", ">=50000"]),
        {"revenue_band": ">=50000"},
        {"revenue_band": "500-2000"},
    ),
    (
        ("registered_capital", "gte", 100),
        {"registered_capital": Decimal("100")},
        {"registered_capital": Decimal("99.99")},
    ),
    (
        ("registered_capital", "lte", 1000.5),
        {"registered_capital": Decimal("1000.50")},
        {"registered_capital": Decimal("1000.51")},
    ),
    (
        ("registered_capital", "between", [100, 500]),
        {"registered_capital": Decimal("500")},
        {"registered_capital": Decimal("50")},
    ),
    (("tags", "has", "专精特新"), {"tags": ("专精特新",)}, {"tags": ("软件",)}),
    (("tags", "has_any", ["总部", "软件"]), {"tags": ("软件",)}, {"tags": ()}),
    (("tags", "has_none", ["失信"]), {"tags": ()}, {"tags": ("失信", "软件")}),
]


@pytest.mark.parametrize(("criterion", "met", "unmet"), OPERATOR_CASES, ids=lambda c: str(c))
def test_every_operator_is_met_and_unmet_on_the_boundary(criterion, met, unmet):
    assert status(criterion, **met) == matching.MET
    assert status(criterion, **unmet) == matching.UNMET


def test_every_operator_of_every_attribute_is_covered():
    from crm.policies.attributes import ATTRIBUTES

    covered = {(c[0], c[1]) for c, _, _ in OPERATOR_CASES}
    allowed = {(a.key, op) for a in ATTRIBUTES.values() for op in a.operators}
    assert allowed <= covered


def test_years_since_establishment_count_whole_years_to_the_day():
    assert matching.years_between(date(2023, 11, 30), ON) == 3
    assert matching.years_between(date(2023, 12, 1), ON) == 2
    assert matching.years_between(date(2024, 2, 29), date(2025, 2, 28)) == 0
    assert matching.years_between(date(2027, 1, 1), ON) == 0  # not yet established


# -- missing data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "missing"),
    [
        (("industry", "prefix", ["M"]), {"industry_code": ""}),
        (("size", "eq", "small"), {"size": None}),
        (("age", "gte", 1), {"established_on": None}),
        (("employees", "gte", 10), {"employees": None}),
        (("revenue", "gte", "<100"), {"revenue_band": None}),
        (("registered_capital", "gte", 0), {"registered_capital": None}),
        (("street", "eq", 3), {"street_id": None}),
    ],
)
def test_missing_data_is_unknown_never_met_nor_unmet(criterion, missing):
    reason = matching.check(Criterion(*criterion), facts(**missing), ON)
    assert reason.status == matching.UNKNOWN
    assert reason.firm_value is None


def test_a_firm_outside_the_tiers_and_without_tags_is_known_not_missing():
    assert status(("tier", "eq", "district"), tier=None) == matching.UNMET
    assert status(("tags", "has", "总部"), tags=()) == matching.UNMET


# -- outcomes --------------------------------------------------------------------------------


def outcome(r: Rule, **firm) -> str:
    return matching.evaluate(r, facts(**firm), ON).outcome


def test_every_criterion_met_is_eligible_and_a_policy_without_criteria_too():
    assert outcome(rule(("employees", "gte", 10), ("high_tech", "eq", True))) == matching.ELIGIBLE
    assert outcome(rule()) == matching.ELIGIBLE


def test_a_reviewed_condition_or_missing_data_leaves_it_pending_review():
    assert (
        outcome(rule(("employees", "gte", 10), review=["近三年无重大安全事故"]))
        == matching.PENDING_REVIEW
    )
    assert outcome(rule(("employees", "gte", 10)), employees=None) == matching.PENDING_REVIEW


def test_exactly_one_unmet_criterion_is_a_near_miss_whatever_else_is_unknown():
    near = rule(("employees", "gte", 100), ("high_tech", "eq", True), ("size", "eq", "small"))
    assert outcome(near) == matching.NEAR_MISS
    assert outcome(near, size=None) == matching.NEAR_MISS
    assert outcome(near, high_tech=False) == matching.NOT_ELIGIBLE


def test_match_firm_lists_eligible_first_then_pending_near_misses_and_the_rest():
    rules = [
        rule(("employees", "gte", 100), ("size", "eq", "large"), policy_id=1),
        rule(("employees", "gte", 100), policy_id=2),
        rule(review=["需实地核查"], policy_id=3),
        rule(("employees", "gte", 10), policy_id=4),
    ]
    got = [(m.rule.policy_id, m.outcome) for m in matching.match_firm(facts(), rules, ON)]
    assert got == [
        (4, matching.ELIGIBLE),
        (3, matching.PENDING_REVIEW),
        (2, matching.NEAR_MISS),
        (1, matching.NOT_ELIGIBLE),
    ]


# -- in force --------------------------------------------------------------------------------


def test_only_policies_in_force_on_the_day_are_matched():
    rules = [
        rule(policy_id=1),
        rule(policy_id=2, effective_from=date(2026, 12, 1)),  # not yet
        rule(policy_id=3, effective_to=date(2026, 11, 29)),  # ended yesterday
        rule(policy_id=4, effective_to=ON),  # its last day
        rule(policy_id=5, retired=True),
        rule(policy_id=6, effective_from=ON),  # its first day
    ]
    got = {m.rule.policy_id for m in matching.match_firm(facts(), rules, ON)}
    assert got == {1, 4, 6}
    assert {m.rule.policy_id for m in matching.match_firm(facts(), rules, date(2026, 12, 1))} == {
        1,
        2,
        6,
    }


def test_the_candidate_list_of_a_policy_not_in_force_is_empty():
    firms = [facts(id=1), facts(id=2, employees=5)]
    live = rule(("employees", "gte", 10))
    assert [m.firm.id for m in matching.candidates(live, firms, ON)] == [1, 2]
    assert [
        m.firm.id for m in matching.candidates(live, firms, ON, outcomes=(matching.ELIGIBLE,))
    ] == [1]
    expired = rule(("employees", "gte", 10), effective_to=date(2025, 12, 31))
    assert matching.candidates(expired, firms, ON) == []


# -- wording ---------------------------------------------------------------------------------


@pytest.fixture
def en(app):
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def zh(app):
    with app.test_request_context(), force_locale("zh_CN"):
        yield


def explain(criterion: tuple, **firm) -> str:
    reason = matching.check(Criterion(*criterion), facts(**firm), ON)
    return matching.explain(reason, streets={3: "新泾镇", 4: "华阳路街道"})


def test_reasons_say_what_was_asked_and_what_the_firm_has(en):
    assert explain(("employees", "gte", 50)) == (
        "Employees at least 50 people: not met, the firm's Employees is 48 people"
    )
    assert explain(("employees", "between", [10, 100])) == (
        "Employees between 10 people to 100 people: met (the firm: 48 people)"
    )
    assert explain(("street", "in", [3, 4])) == (
        "Street is one of 新泾镇、华阳路街道: met (the firm: 新泾镇)"
    )
    assert explain(("revenue", "gte", "2000-10000"), revenue_band=None) == (
        "Annual revenue band at least 20 to 100 million yuan: unknown, "
        "the firm's Annual revenue band is not on record"
    )
    assert explain(("tags", "has", "总部"), tags=()) == (
        "Tags has the tag 总部: not met, the firm's Tags is no tags"
    )


def test_reasons_read_in_chinese(zh):
    assert (
        explain(("employees", "gte", 50)) == "从业人数 不少于 50 人：不满足，企业的从业人数为 48 人"
    )
    assert explain(("high_tech", "eq", True)) == "高新技术企业 为 是：满足（企业：是）"
    assert explain(("size", "eq", "small"), size=None) == "规模 为 小型：无法判断，企业未登记规模"


def test_a_summary_names_the_one_criterion_a_near_miss_lacks(en):
    near = matching.evaluate(rule(("employees", "gte", 50), ("high_tech", "eq", True)), facts(), ON)
    assert matching.summary(near) == "One criterion is not met: Employees at least 50 people."
    pending = matching.evaluate(
        rule(("employees", "gte", 10), review=["近三年无重大违法记录"]), facts(employees=None), ON
    )
    assert matching.summary(pending) == (
        "The firm's data is missing for: Employees. To be reviewed: 近三年无重大违法记录."
    )


# -- from the database: always current -------------------------------------------------------


def test_matches_follow_the_firm_and_the_policy_as_they_are_now(app, make_firm, make_policy):
    firm = make_firm(employees=40)
    policy = make_policy([("employees", "gte", 50)])

    def now() -> str:
        return next(
            m.outcome for m in queries.match_firm(firm, ON) if m.rule.policy_id == policy.id
        )

    assert now() == matching.NEAR_MISS
    firm.employees = 60
    db.session.commit()
    assert now() == matching.ELIGIBLE
    policy.criteria[0].value = 100
    db.session.commit()
    assert now() == matching.NEAR_MISS


def test_one_firm_against_every_policy_takes_two_statements(
    app, make_firm, make_policy, count_queries
):
    firm = make_firm(employees=40)
    for n in range(5):
        make_policy([("employees", "gte", n * 20), ("size", "in", ["small", "micro"])])
    db.session.refresh(firm)  # the firm as a page has it: loaded
    with count_queries() as statements:
        matches = queries.match_firm(firm, ON)
    assert len(matches) == 5
    assert len(statements) == 2


def test_the_candidate_list_reads_active_firms_only(app, make_firm, make_policy):
    keep = make_firm(employees=80)
    make_firm(employees=80, status="moved_out")
    make_firm(employees=10)
    policy = make_policy([("employees", "gte", 50)])
    assert [m.firm.id for m in queries.candidates(policy, ON)] == [keep.id]


def test_an_industry_criterion_takes_a_section_letter_or_a_longer_code():
    from crm.policies.attributes import CriterionError, clean_value

    assert clean_value("industry", "prefix", "c, I65；m7340", streets={}) == ["C", "I65", "M7340"]
    for wrong in ("65", "I65X", "I123456", "工业"):
        with pytest.raises(CriterionError):
            clean_value("industry", "prefix", wrong, streets={})
