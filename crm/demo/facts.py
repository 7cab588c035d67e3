"""What a demo firm is like, drawn from odds that depend on its size and trade.

Each function takes the caller's ``random.Random``: the same seed gives the same firm.
"""

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from crm.demo import names

SIZES = (("micro", 61.5), ("small", 30), ("medium", 7), ("large", 1.5))
STATUSES = (("active", 90), ("prospect", 5), ("moved_out", 5))
# Probability of each tier by size: district-tier firms are few and mostly large.
_TIER_ODDS = {
    "large": (("district", 0.5), ("sector", 0.3), ("local", 0.15), (None, 0.05)),
    "medium": (("district", 0.12), ("sector", 0.3), ("local", 0.3), (None, 0.28)),
    "small": (("district", 0.012), ("sector", 0.06), ("local", 0.15), (None, 0.778)),
    "micro": (("district", 0.001), ("sector", 0.01), ("local", 0.07), (None, 0.919)),
}
_EMPLOYEES = {"micro": (1, 19, 4), "small": (20, 99, 35), "medium": (100, 999, 250)}
_REVENUE = {  # 万元 a year
    "micro": (("<100", 80), ("100-500", 20)),
    "small": (("100-500", 40), ("500-2000", 45), ("2000-10000", 15)),
    "medium": (("2000-10000", 50), ("10000-50000", 45), (">=50000", 5)),
    "large": (("10000-50000", 35), (">=50000", 65)),
}
_CAPITAL = {  # 万元
    "micro": (10, 30, 50, 100, 100, 200, 300, 500),
    "small": (100, 200, 300, 500, 500, 800, 1000, 2000),
    "medium": (500, 1000, 1000, 2000, 3000, 5000, 10000),
    "large": (5000, 10000, 20000, 50000, 100000, 300000),
}
# Least and mean age in years, by size: large firms took years to grow.
_AGE_YEARS = {"micro": (0, 5), "small": (0.5, 8), "medium": (1, 12), "large": (3, 16)}
_TECH = frozenset(("C27", "C39", "C40", "I63", "I64", "I65", "M73", "M74", "M75"))
_HIGH_TECH = {"micro": 0.06, "small": 0.25, "medium": 0.4, "large": 0.5}
_FOREIGN = {"micro": 0.05, "small": 0.08, "medium": 0.15, "large": 0.3}
_LOCAL_TRADES = frozenset(("E48", "F52", "H62", "O80", "P83"))  # rarely foreign-invested
_RESEARCH = frozenset(("C27", "I65", "M73", "M74"))
_JOINT_STOCK = {"large": 0.5, "medium": 0.2, "small": 0.02, "micro": 0.02}


def pick(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    """One value of ``table``, a tuple of (value, weight)."""
    roll = rng.random() * sum(w for _, w in table)
    for value, weight in table:
        roll -= weight
        if roll < 0:
            return value
    return table[-1][0]


def high_tech(rng: random.Random, division: str, size: str) -> bool:
    return rng.random() < (_HIGH_TECH[size] if division in _TECH else 0.01)


def foreign_invested(rng: random.Random, division: str, size: str, street_factor: float) -> bool:
    odds = _FOREIGN[size] * street_factor
    if division in _LOCAL_TRADES:
        odds *= 0.3
    return rng.random() < odds


def joint_stock(rng: random.Random, size: str, foreign: bool) -> bool:
    """A 股份有限公司 rather than a limited-liability company."""
    return not foreign and rng.random() < _JOINT_STOCK[size]


def established_on(rng: random.Random, size: str, status: str, as_of: date) -> date:
    if status == "prospect":  # about to settle here: registered recently
        return as_of - timedelta(days=rng.randrange(30, 700))
    low, mean = _AGE_YEARS[size]
    age = min(low + rng.expovariate(1 / (mean - low)), 35) * 365.25
    return as_of - timedelta(days=int(age) + 1)


def tier(rng: random.Random, size: str, status: str) -> str | None:
    return pick(rng, _TIER_ODDS[size]) if status == "active" else None


def capital(rng: random.Random, size: str, foreign: bool) -> Decimal:
    amount = Decimal(rng.choice(_CAPITAL[size]))
    if foreign:  # subscribed in US dollars (a fifth as many), recorded in yuan
        rate = Decimal(rng.choice(("6.83", "6.97", "7.10", "7.19")))
        return (amount / 5 * rate).quantize(Decimal("0.01"))
    return amount


def employees(rng: random.Random, size: str, status: str) -> int | None:
    if (status == "prospect" and rng.random() < 0.5) or rng.random() < 0.03:
        return None  # not known yet: policy matching must cope with missing data
    if size == "large":
        return int(1000 * rng.lognormvariate(0.6, 0.7)) + 1000
    low, high, mode = _EMPLOYEES[size]
    return round(rng.triangular(low, high, mode))


def revenue_band(rng: random.Random, size: str, status: str) -> str | None:
    if status == "prospect" or rng.random() < 0.03:
        return None
    return pick(rng, _REVENUE[size])


def tags(
    rng: random.Random,
    division: str,
    size: str,
    *,
    high_tech: bool,
    foreign: bool,
    joint_stock: bool,
    established: date,
) -> list[str]:
    found = []
    young = established.year >= 2016
    if high_tech and size in ("small", "medium") and rng.random() < 0.25:
        found.append("专精特新")
    if high_tech and young and division in ("I64", "I65", "M73", "C27") and rng.random() < 0.03:
        found.append("独角兽培育")
    if high_tech and young and size in ("small", "medium") and rng.random() < 0.08:
        found.append("瞪羚企业")
    if (size == "large" and rng.random() < 0.4) or (size == "medium" and rng.random() < 0.05):
        found.append("总部企业")
    if foreign and size == "large" and rng.random() < 0.3:
        found.append("跨国公司地区总部")
    if joint_stock and size in ("large", "medium") and rng.random() < 0.4:
        found.append("上市企业")
    if foreign and division in _RESEARCH and size != "micro" and rng.random() < 0.2:
        found.append("外资研发中心")
    return sorted(found)


def contacts(rng: random.Random, size: str, legal_representative: str) -> list[dict[str, Any]]:
    """One to three people, the first of them the primary contact."""
    weights = {"micro": (6, 3, 1), "small": (4, 4, 2)}.get(size, (2, 4, 4))
    count = rng.choices((1, 2, 3), weights=weights)[0]
    people = []
    titles: set[str] = set()
    for n in range(count):
        if n == 0 and rng.random() < 0.3:
            person, title = legal_representative, "总经理"
        else:
            person = names.person_name(rng)
            title = names.contact_title(rng)
            while title in titles:  # one firm, one general manager
                title = names.contact_title(rng)
        titles.add(title)
        phone = names.landline(rng) if rng.random() < 0.15 else names.mobile(rng)
        people.append(
            {"name": person, "title": title, "phone": phone, "email": "", "is_primary": n == 0}
        )
    return people
