"""Firms, in the caller's scope: a firm's user sees its own firm only; contact phones are
masked unless the caller may see them whole (``can_see_full_phone``)."""

from flask import abort, jsonify
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api import present
from crm.api.auth import api_roles, refuse
from crm.api.firm_schemas import FirmOut, FirmPage, FirmQuery
from crm.api.openapi import operation
from crm.api.parsing import page_of, query_args
from crm.api.schemas import MAX_ID
from crm.auth.permissions import (
    COMMISSIONER,
    DEPARTMENT,
    FIRM,
    LEADER,
    OFFICE,
    STREET,
    can_view_firm,
)
from crm.extensions import db
from crm.firms import services
from crm.firms.models import Assignment, Firm

VIEWERS = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER, FIRM)


def load_firm(firm_id: int) -> Firm:
    """The firm if the caller may see it; 404 for a firm's user otherwise, 403 for staff."""
    firm = None
    if firm_id <= MAX_ID:
        firm = db.session.scalar(
            select(Firm)
            .where(Firm.id == firm_id)
            .options(
                selectinload(Firm.street),
                selectinload(Firm.contacts),
                selectinload(Firm.assignments).selectinload(Assignment.commissioner),
            )
        )
    if firm is None:
        abort(404)
    if not can_view_firm(current_user, firm):
        if current_user.role == FIRM:
            abort(404)  # a firm learns nothing of other firms, not even that they exist
        refuse("firm out of scope")
    return firm


@operation(
    "GET",
    "/firms",
    summary="Firms the caller may see, by name",
    tag="firms",
    query=FirmQuery,
    responses={200: FirmPage},
)
@api_roles(*VIEWERS)
def firm_list():
    args = query_args(FirmQuery)
    filters = services.FirmFilter(q=args.q, street_id=args.street_id, tier=args.tier)
    stmt = services.firm_query(current_user, filters).options(selectinload(Firm.street))
    items, total = page_of(stmt, args.page, args.per_page)
    answer = FirmPage(
        items=[present.firm_item(f) for f in items],
        page=args.page,
        per_page=args.per_page,
        total=total,
    )
    return jsonify(answer.model_dump(mode="json"))


@operation(
    "GET",
    "/firms/<int:firm_id>",
    summary="A firm's profile, its street's service centre, commissioners and contacts",
    tag="firms",
    responses={200: FirmOut},
)
@api_roles(*VIEWERS)
def firm_detail(firm_id: int):
    firm = load_firm(firm_id)
    return jsonify(present.firm(firm, current_user).model_dump(mode="json"))
