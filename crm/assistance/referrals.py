"""Financing cases (融资对接): the banks a firm was referred to, the amount it asked and
what came of it. Same rules as ``crm.assistance.services``: check, change, audit, no
commit."""

from datetime import date

from flask_babel import lazy_gettext as _l

from crm.assistance.models import REFERRAL_OUTCOMES, AssistanceCase, FinancingReferral
from crm.assistance.services import FINANCING, CaseError, amount_value, require_edit, required_text
from crm.audit.services import record
from crm.auth.models import User
from crm.extensions import db
from crm.workcal.services import today


def add_referral(
    case: AssistanceCase,
    *,
    actor: User,
    bank: str,
    amount_requested,
    referred_on: date | None = None,
    note: str = "",
) -> FinancingReferral:
    """Record a bank the firm was referred to, and the amount it asks (万元)."""
    if case.case_type.kind != FINANCING:
        raise CaseError(_l("Only a financing case has bank referrals."), "bank")
    require_edit(case, actor, None)
    referred_on = referred_on or today()
    if referred_on > today():
        raise CaseError(_l("The referral cannot be in the future."), "referred_on")
    bank = required_text(bank, "bank", _l("The bank"), 64)
    requested = amount_value(amount_requested, "amount_requested", positive=True)
    if requested is None:
        raise CaseError(_l("Enter the amount requested."), "amount_requested")
    referral = FinancingReferral(
        case=case,
        bank=bank,
        referred_on=referred_on,
        amount_requested=requested,
        outcome="pending",
        note=(note or "").strip()[:200],
        created_by_id=actor.id,
    )
    db.session.add(referral)
    db.session.flush()
    record("case.referral", case, user=actor, detail={"referral": referral.id})
    return referral


def update_referral(
    referral: FinancingReferral,
    *,
    actor: User,
    outcome: str,
    amount_granted=None,
    note: str | None = None,
) -> None:
    """What came of a referral: pending, granted (with the amount) or declined."""
    require_edit(referral.case, actor, None)
    if outcome not in REFERRAL_OUTCOMES:
        raise CaseError(_l("Choose an outcome from the list."), "outcome")
    granted = amount_value(amount_granted, "amount_granted", positive=True)
    if outcome == "granted" and granted is None:
        raise CaseError(_l("Enter the amount granted."), "amount_granted")
    if outcome != "granted" and granted is not None:
        raise CaseError(_l("Only a granted referral has an amount granted."), "amount_granted")
    referral.outcome = outcome
    referral.amount_granted = granted
    if note is not None:
        referral.note = note.strip()[:200]
    record(
        "case.referral",
        referral.case,
        user=actor,
        detail={"referral": referral.id, "outcome": outcome},
    )
