"""``make_*`` fixtures: records with sensible defaults, any field overridable."""

import itertools
import random

import pytest

from crm.auth.models import User
from crm.auth.passwords import hash_password
from crm.extensions import db
from crm.firms import uscc
from crm.firms.models import Assignment, Contact, Firm
from crm.org.models import Department, Street

_seq = itertools.count(1)
_rng = random.Random(2026)


@pytest.fixture
def make_street(app):
    def _make(**kw):
        n = next(_seq)
        street = Street(
            **{
                "name": f"测试街道{n}",
                "code": f"S{n:03d}",
                "service_centre_phone": "021-6000000" + str(n % 10),
                **kw,
            }
        )
        db.session.add(street)
        db.session.commit()
        return street

    return _make


@pytest.fixture
def make_department(app):
    def _make(**kw):
        n = next(_seq)
        dept = Department(**{"name": f"测试部门{n}", "code": f"D{n:03d}", **kw})
        db.session.add(dept)
        db.session.commit()
        return dept

    return _make


@pytest.fixture
def make_firm(app, make_street):
    def _make(**kw):
        if "street" not in kw and "street_id" not in kw:
            kw["street"] = make_street()
        n = next(_seq)
        firm = Firm(
            **{
                "name": f"上海测试科技有限公司{n}",
                "uscc": uscc.generate(_rng),
                "industry_code": "I65",
                "size": "small",
                "status": "active",
                **kw,
            }
        )
        db.session.add(firm)
        db.session.commit()
        return firm

    return _make


@pytest.fixture
def make_user(app, make_street, make_department, make_firm):
    def _make(role: str = "office", *, password: str | None = None, **kw):
        from tests.conftest import PASSWORD

        n = next(_seq)
        if role in ("street", "commissioner") and "street" not in kw and "street_id" not in kw:
            kw["street"] = make_street()
        if role == "department" and "department" not in kw and "department_id" not in kw:
            kw["department"] = make_department()
        if role == "firm" and "firm" not in kw and "firm_id" not in kw:
            kw["firm_id"] = make_firm().id
        elif role == "firm" and "firm" in kw:
            kw["firm_id"] = kw.pop("firm").id
        user = User(
            **{
                "username": f"{role}{n}",
                "display_name": f"{role} 用户{n}",
                "role": role,
                "password_hash": hash_password(password or PASSWORD),
                **kw,
            }
        )
        db.session.add(user)
        db.session.commit()
        return user

    return _make


@pytest.fixture
def make_contact(app):
    def _make(firm, **kw):
        contact = Contact(
            **{"firm": firm, "name": "张伟", "title": "行政经理", "phone": "13812345678", **kw}
        )
        db.session.add(contact)
        db.session.commit()
        return contact

    return _make


@pytest.fixture
def assign(app):
    def _assign(firm, commissioner, role="primary"):
        a = Assignment(firm=firm, commissioner=commissioner, role=role, reason="测试")
        db.session.add(a)
        db.session.commit()
        return a

    return _assign


@pytest.fixture
def category(app):
    """A category the migration put in: "其他诉求", 5 working days."""
    from sqlalchemy import select

    from crm.demands.models import DemandCategory

    def _category(code: str = "OTHER"):
        return db.session.scalar(select(DemandCategory).where(DemandCategory.code == code))

    return _category


@pytest.fixture
def make_demand(app, make_firm, make_user, category):
    """A demand taken in by staff through the real service (state ``submitted``)."""
    from crm.demands.services import submit_demand

    def _make(firm=None, *, actor=None, code: str = "OTHER", channel: str = "hotline", **kw):
        firm = firm or make_firm()
        actor = actor or make_user("office")
        demand, _ = submit_demand(
            firm=firm,
            category=category(code),
            title=kw.pop("title", "办公场地租金补贴咨询"),
            description=kw.pop("description", "企业希望了解办公场地租金补贴的申请条件。"),
            urgency=kw.pop("urgency", "normal"),
            channel=channel,
            actor=actor,
            **kw,
        )
        db.session.commit()
        return demand

    return _make


@pytest.fixture
def make_policy(app):
    """A policy in force since 2026-01-01; ``criteria`` as (attribute, operator, value)."""
    from datetime import date

    from crm.policies.models import Policy, PolicyCriterion

    def _make(criteria=(), **kw):
        n = next(_seq)
        policy = Policy(
            **{
                "title": f"测试扶持政策{n}",
                "issuer": "区科学技术委员会",
                "level": "district",
                "doc_number": f"测科发〔2026〕{n}号",
                "kind": "universal",
                "topic": "technology",
                "effective_from": date(2026, 1, 1),
                "benefits": "给予一次性奖励 10 万元。",
                "how_to_apply": "向区科委提交申请表。",
                **kw,
            }
        )
        for position, (attribute, operator, value) in enumerate(criteria):
            policy.criteria.append(
                PolicyCriterion(
                    position=position, attribute=attribute, operator=operator, value=value
                )
            )
        db.session.add(policy)
        db.session.commit()
        return policy

    return _make
