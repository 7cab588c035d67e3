"""A firm's service packages and the policies it matches: GET /api/v1/firms/{id}/packages
and /api/v1/firms/{id}/policies.

A package is answered as it was issued, from its snapshot (its reasons in Chinese, as the
firm received them); matches are computed now, their reasons in the request's language.
A firm's user sees its own firm only (404 for any other); staff the firms they may see.
"""

from typing import Any

from flask import abort, jsonify, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.api.auth import api_roles
from crm.api.errors import ApiError
from crm.api.firm_views import load_firm
from crm.api.openapi import BINARY, operation
from crm.api.parsing import page_of, query_args
from crm.api.policy_schemas import (
    MatchList,
    MatchOut,
    MatchQuery,
    PackageOut,
    PackagePage,
    PackagePolicyOut,
    ReasonOut,
)
from crm.api.schemas import MAX_ID, PageQuery
from crm.auth.permissions import COMMISSIONER, FIRM, LEADER, OFFICE, STREET
from crm.extensions import db
from crm.firms.models import Firm
from crm.policies import matching, pdf
from crm.policies.models import ServicePackage
from crm.policies.package_views import pdf_download
from crm.policies.queries import match_firm, street_names
from crm.workcal.services import today

# The firm itself, and the staff who read policies and packages (a department sees only a
# firm's basic profile, DESIGN §2).
PACKAGE_VIEWERS = (OFFICE, STREET, COMMISSIONER, LEADER, FIRM)
# Unless an outcome is asked for: what the firm may get, or nearly.
DEFAULT_OUTCOMES = (matching.ELIGIBLE, matching.PENDING_REVIEW, matching.NEAR_MISS)


def _json(model):
    return jsonify(model.model_dump(mode="json"))


# -- packages -------------------------------------------------------------------------------


def _package_policies(snapshot: dict) -> list[PackagePolicyOut]:
    return [
        PackagePolicyOut(
            id=entry["id"],
            part=part,
            title=entry["title"],
            issuer=entry.get("issuer", ""),
            doc_number=entry.get("doc_number", ""),
            kind=entry["kind"],
            level=entry["level"],
            benefits=entry.get("benefits", ""),
            how_to_apply=entry.get("how_to_apply", ""),
            no_application=entry.get("no_application", False),
            effective_to=entry.get("effective_to"),
            reasons=entry.get("reasons", []),
            review_conditions=entry.get("review_conditions", []),
        )
        for part in ("universal", "individual")
        for entry in snapshot.get(part, [])
    ]


def _package(package: ServicePackage) -> PackageOut:
    return PackageOut(
        id=package.id,
        number=package.number,
        as_of=package.as_of,
        issued_at=package.issued_at,
        channel=package.channel,
        acknowledged_at=package.acknowledged_at,
        policies=_package_policies(package.snapshot),
        pdf=url_for("api.firm_package_pdf", firm_id=package.firm_id, package_id=package.id),
    )


@operation(
    "GET",
    "/firms/<int:firm_id>/packages",
    summary="The service packages issued to a firm, newest first, as issued",
    tag="packages",
    query=PageQuery,
    responses={200: PackagePage},
)
@api_roles(*PACKAGE_VIEWERS)
def firm_packages(firm_id: int):
    firm = load_firm(firm_id)
    args = query_args(PageQuery)
    stmt = (
        select(ServicePackage)
        .where(ServicePackage.firm_id == firm.id)
        .order_by(ServicePackage.issued_at.desc(), ServicePackage.id.desc())
    )
    items, total = page_of(stmt, args.page, args.per_page)
    return _json(
        PackagePage(
            items=[_package(p) for p in items],
            page=args.page,
            per_page=args.per_page,
            total=total,
        )
    )


@operation(
    "GET",
    "/firms/<int:firm_id>/packages/<int:package_id>/pdf",
    summary="A firm's service package as a PDF (application/pdf)",
    tag="packages",
    responses={200: BINARY},
    errors=(503,),
)
@api_roles(*PACKAGE_VIEWERS)
def firm_package_pdf(firm_id: int, package_id: int):
    firm = load_firm(firm_id)
    package = None
    if package_id <= MAX_ID:
        package = db.session.scalar(
            select(ServicePackage).where(
                ServicePackage.id == package_id, ServicePackage.firm_id == firm.id
            )
        )
    if package is None:
        abort(404)
    try:
        return pdf_download(package)
    except pdf.RenderError:
        raise ApiError(
            503,
            "pdf_unavailable",
            _l("The PDF could not be produced just now. Try again in a minute."),
        ) from None


# -- matched policies -----------------------------------------------------------------------


def _reason(reason: matching.Reason, streets: dict[int, str]) -> ReasonOut:
    criterion = reason.criterion
    return ReasonOut(
        attribute=criterion.attribute,
        operator=criterion.operator,
        value=criterion.value,
        status=reason.status,
        firm_value=reason.firm_value,
        text=matching.explain(reason, streets=streets),
    )


def _match(match: matching.Match, streets: dict[int, str]) -> MatchOut:
    policy: Any = match.rule.policy
    return MatchOut(
        policy_id=policy.id,
        title=policy.title,
        issuer=policy.issuer,
        doc_number=policy.doc_number,
        kind=policy.kind,
        level=policy.level,
        no_application=policy.no_application,
        effective_to=policy.effective_to,
        outcome=match.outcome,
        summary=matching.summary(match, streets=streets),
        reasons=[_reason(r, streets) for r in match.reasons],
        review_conditions=list(match.rule.review_conditions),
    )


@operation(
    "GET",
    "/firms/<int:firm_id>/policies",
    summary="The policies a firm matches on a day, with the reason of every criterion",
    description=(
        "Every policy in force on `on` (default today, Asia/Shanghai), matched against the "
        "firm's data: eligible first, then eligible pending review, near misses (one "
        "criterion unmet) and, when asked for with outcome=not_eligible, the rest."
    ),
    tag="packages",
    query=MatchQuery,
    responses={200: MatchList},
)
@api_roles(*PACKAGE_VIEWERS)
def firm_policies(firm_id: int):
    firm: Firm = load_firm(firm_id)
    args = query_args(MatchQuery)
    on = args.on or today()
    wanted = (args.outcome,) if args.outcome else DEFAULT_OUTCOMES
    streets = street_names()
    matches = [m for m in match_firm(firm, on) if m.outcome in wanted]
    return _json(MatchList(on=on, items=[_match(m, streets) for m in matches]))
