"""Composing and issuing service packages (服务包, DESIGN §7).

A package has three parts: the universal policies the firm is eligible for (普惠政策包,
included automatically), the individual policies matching proposed and the commissioner
confirmed (个性政策包; universal policies pending review are proposed the same way), and
the demand interaction part (诉求互动包: its commissioners, the street's service centre,
the portal, the hotline and the promised time limits).

Issuing freezes all of it into ``ServicePackage.snapshot`` in Chinese, the language of the
document the firm receives: later changes to the firm, the policies or the people never
change a package already issued. Functions add to the session; the caller commits.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm.audit.services import record
from crm.auth.models import User
from crm.demands.models import DemandCategory
from crm.extensions import db
from crm.firms.models import Firm
from crm.policies import matching
from crm.policies.models import CHANNELS, BulkIssuance, ServicePackage
from crm.policies.queries import facts_of, rules_in_force, street_names
from crm.portal.services import firm_users, tell
from crm.timeutil import utcnow

SNAPSHOT_VERSION = 1


class PackageError(ValueError):
    def __init__(self, message, field: str = ""):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


@dataclass
class Composition:
    """What a package for ``firm`` would hold on ``on``, before anyone confirms."""

    firm: Firm
    on: date
    automatic: list[matching.Match] = field(default_factory=list)  # universal, eligible
    proposed: list[matching.Match] = field(default_factory=list)  # to confirm
    near_misses: list[matching.Match] = field(default_factory=list)  # for the conversation

    @property
    def proposed_ids(self) -> set[int]:
        return {m.rule.policy_id for m in self.proposed}


def compose(firm: Firm, on: date, *, rules: Sequence[matching.Rule] | None = None) -> Composition:
    """Match the firm on ``on`` and sort the policies into the package's parts. ``rules``
    (the policies in force, from ``rules_in_force``) may be passed in by a caller that
    composes many packages."""
    if rules is None:
        rules = rules_in_force(on)
    composition = Composition(firm, on)
    for match in matching.match_firm(facts_of(firm), rules, on):
        if match.outcome == matching.ELIGIBLE and match.rule.kind == "universal":
            composition.automatic.append(match)
        elif match.qualifies:
            composition.proposed.append(match)
        elif match.outcome == matching.NEAR_MISS:
            composition.near_misses.append(match)
    return composition


def issue(
    firm: Firm,
    *,
    by: User | None,
    on: date,
    channel: str,
    confirmed: Iterable[int] = (),
    note: str = "",
    bulk: BulkIssuance | None = None,
    rules: Sequence[matching.Rule] | None = None,
    streets: dict[int, str] | None = None,
) -> ServicePackage:
    """Issue the firm's next package: the automatic part, and of the proposals those in
    ``confirmed`` (policy ids). A confirmed policy that no longer qualifies (the firm or
    the policy changed since the form was shown) is refused, not silently dropped. The
    firm's users are told, with a link to the package in their portal."""
    if channel not in CHANNELS:
        raise PackageError(_l("Choose how the package is handed over."), "channel")
    if firm.status != "active":
        raise PackageError(_l("Packages are issued to active firms only."))
    composition = compose(firm, on, rules=rules)
    confirmed = set(confirmed)
    stale = confirmed - composition.proposed_ids
    if stale:
        raise PackageError(
            _l(
                "%(n)s of the confirmed policies no longer match this firm: "
                "review the proposals again.",
                n=len(stale),
            ),
            "confirmed",
        )
    individual = [m for m in composition.proposed if m.rule.policy_id in confirmed]
    number = (
        db.session.scalar(
            select(func.max(ServicePackage.number)).where(ServicePackage.firm_id == firm.id)
        )
        or 0
    ) + 1
    issued_at = utcnow()
    package = ServicePackage(
        firm=firm,
        number=number,
        as_of=on,
        channel=channel,
        note=note.strip()[:500],
        bulk=bulk,
        issued_by=by,
        issued_at=issued_at,
        snapshot=snapshot_of(
            firm,
            on=on,
            number=number,
            issued_at=issued_at.isoformat(),
            issued_by=str(by) if by else "",
            channel=channel,
            universal=composition.automatic + [m for m in individual if m.rule.kind == "universal"],
            individual=[m for m in individual if m.rule.kind != "universal"],
            streets=streets if streets is not None else street_names(),
        ),
    )
    db.session.add(package)
    db.session.flush()
    tell(
        firm_users(firm.id),
        _l(
            "Service package No. %(number)s was issued to you: the policies you qualify for "
            "and who to contact. Open it to read and acknowledge it.",
            number=number,
        ),
        f"/portal/packages/{package.id}",
    )
    record(
        "package.issue",
        package,
        user=by,
        detail={
            "firm": firm.id,
            "number": number,
            "channel": channel,
            "bulk": bulk.id if bulk else None,
        },
    )
    return package


def acknowledge(package: ServicePackage, *, by: User, note: str = "") -> None:
    """Record that the firm received the package (签收); the first acknowledgement stands."""
    if package.acknowledged_at is not None:
        raise PackageError(_l("This package has already been acknowledged."))
    package.acknowledged_at = utcnow()
    package.acknowledged_by = by
    package.acknowledgement = note.strip()[:200]
    record("package.acknowledge", package, user=by, detail={"firm": package.firm_id})


# -- the snapshot -------------------------------------------------------------------------


def snapshot_of(
    firm: Firm,
    *,
    on: date,
    number: int,
    issued_at: str,
    issued_by: str,
    channel: str,
    universal: list[matching.Match],
    individual: list[matching.Match],
    streets: dict[int, str],
) -> dict:
    """The package as the firm receives it, in the office's language (Chinese)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return {
            "version": SNAPSHOT_VERSION,
            "office": current_app.config.get("OFFICE_NAME", ""),
            "number": number,
            "as_of": on.isoformat(),
            "issued_at": issued_at,
            "issued_by": issued_by,
            "channel": channel,
            "firm": {
                "id": firm.id,
                "name": firm.name,
                "uscc": firm.uscc,
                "street": firm.street.name if firm.street else "",
                "address": firm.address,
            },
            "universal": [_policy_entry(m, streets) for m in universal],
            "individual": [_policy_entry(m, streets) for m in individual],
            "interaction": interaction_part(firm),
        }


def _policy_entry(match: matching.Match, streets: dict[int, str]) -> dict:
    policy = match.rule.policy
    return {
        "id": policy.id,
        "title": policy.title,
        "issuer": policy.issuer,
        "level": policy.level,
        "doc_number": policy.doc_number,
        "kind": policy.kind,
        "topic": policy.topic,
        "benefits": policy.benefits,
        "how_to_apply": policy.how_to_apply,
        "no_application": policy.no_application,
        "effective_from": policy.effective_from.isoformat(),
        "effective_to": policy.effective_to.isoformat() if policy.effective_to else None,
        "outcome": match.outcome,
        "reasons": [
            {"status": r.status, "text": matching.explain(r, streets=streets)}
            for r in match.reasons
        ],
        "review_conditions": list(match.rule.review_conditions),
    }


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"name": str(user), "phone": user.phone, "email": user.email}


def interaction_part(firm: Firm) -> dict:
    """How the firm reaches the office: people, places, channels and time limits."""
    street = firm.street
    categories = db.session.scalars(
        select(DemandCategory).where(DemandCategory.active.is_(True)).order_by(DemandCategory.id)
    ).all()
    return {
        "commissioner": _person(firm.primary_commissioner),
        "backup": _person(firm.backup_commissioner),
        "service_centre": {
            "name": str(_l("%(street)s business service centre", street=street.name))
            if street
            else "",
            "address": street.service_centre_address if street else "",
            "phone": street.service_centre_phone if street else "",
        },
        "portal": current_app.config.get("PORTAL_URL", ""),
        "hotline": current_app.config.get("HOTLINE", ""),
        "time_limits": [
            {
                "category": c.name,
                "accept_days": c.accept_days,
                "resolve_days": c.resolve_days,
                "level3_days": c.level3_days,
            }
            for c in categories
        ],
    }
