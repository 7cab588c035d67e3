"""What a firm does for itself outside the demand loop, as in its portal
(``crm.portal.services``): proposing changes to its profile, and asking its commissioner for
a service (预约, 上门, 跑腿代办). Staff of the firm's street and the office see them too."""

from flask import abort, jsonify, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api import present
from crm.api.auth import api_roles, refuse
from crm.api.firm_schemas import (
    ChangeCreate,
    ChangeOut,
    ChangePage,
    ServiceCancel,
    ServiceCreate,
    ServiceOut,
    ServicePage,
    ServiceQuery,
)
from crm.api.firm_views import load_firm
from crm.api.openapi import operation
from crm.api.parsing import json_body, page_of, query_args
from crm.api.schemas import MAX_ID, PageQuery
from crm.auth.permissions import COMMISSIONER, FIRM, OFFICE, STREET
from crm.extensions import db
from crm.portal import services
from crm.portal.models import ProfileChange, ServiceRequest

# The staff who answer a firm's portal requests (crm.portal.services.PORTAL_STAFF).
PORTAL_VIEWERS = (OFFICE, STREET, COMMISSIONER, FIRM)


def _json(model, status: int = 200):
    return jsonify(model.model_dump(mode="json")), status


# -- profile changes ---------------------------------------------------------------------------


@operation(
    "GET",
    "/firms/<int:firm_id>/changes",
    summary="The profile changes a firm proposed, newest first",
    tag="firms",
    query=PageQuery,
    responses={200: ChangePage},
)
@api_roles(*PORTAL_VIEWERS)
def change_list(firm_id: int):
    firm = load_firm(firm_id)
    args = query_args(PageQuery)
    stmt = (
        select(ProfileChange)
        .where(ProfileChange.firm_id == firm.id)
        .order_by(ProfileChange.created_at.desc(), ProfileChange.id.desc())
    )
    items, total = page_of(stmt, args.page, args.per_page)
    return _json(
        ChangePage(
            items=[present.change(c) for c in items],
            page=args.page,
            per_page=args.per_page,
            total=total,
        )
    )


@operation(
    "POST",
    "/firms/<int:firm_id>/changes",
    summary="Propose changes to the firm's own profile, for its commissioner to review",
    tag="firms",
    body=ChangeCreate,
    responses={201: ChangeOut},
)
@api_roles(FIRM)
def change_create(firm_id: int):
    firm = load_firm(firm_id)
    body = json_body(ChangeCreate)
    change = services.propose_change(
        firm,
        actor=current_user._get_current_object(),
        values=body.changes.model_dump(exclude_unset=True),
        note=body.note,
    )
    db.session.commit()
    return _json(present.change(change), 201)


# -- service requests ----------------------------------------------------------------------------


def _load_service(request_id: int) -> ServiceRequest:
    req = None
    if request_id <= MAX_ID:
        req = db.session.get(ServiceRequest, request_id)
    if req is None:
        abort(404)
    if not services.can_view_service(current_user, req):
        if current_user.role == FIRM:
            abort(404)
        refuse("service request out of scope")
    return req


@operation(
    "GET",
    "/service-requests",
    summary="Service requests: a firm's own, or those of the firms in a staff member's care",
    tag="service requests",
    query=ServiceQuery,
    responses={200: ServicePage},
)
@api_roles(*PORTAL_VIEWERS)
def service_list():
    args = query_args(ServiceQuery)
    if current_user.role == FIRM:
        scope = ServiceRequest.firm_id == current_user.firm_id
    else:
        scope = services.staff_scope(current_user, ServiceRequest.street_id)
    stmt = select(ServiceRequest).where(scope)
    if args.state:
        stmt = stmt.where(ServiceRequest.state == args.state)
    stmt = stmt.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).options(
        selectinload(ServiceRequest.firm), selectinload(ServiceRequest.commissioner)
    )
    items, total = page_of(stmt, args.page, args.per_page)
    return _json(
        ServicePage(
            items=[present.service(r) for r in items],
            page=args.page,
            per_page=args.per_page,
            total=total,
        )
    )


@operation(
    "POST",
    "/service-requests",
    summary="Ask the firm's commissioner for an appointment, an on-site visit or an errand",
    tag="service requests",
    body=ServiceCreate,
    responses={201: ServiceOut},
)
@api_roles(FIRM)
def service_create():
    body = json_body(ServiceCreate)
    user = current_user._get_current_object()
    req = services.request_service(
        firm=user.firm,
        actor=user,
        kind=body.kind,
        details=body.details,
        preferred_date=body.preferred_date,
        preferred_slot=body.preferred_slot or "",
        address=body.address,
        contact_phone=body.contact_phone,
    )
    db.session.commit()
    response, status = _json(present.service(req), 201)
    response.headers["Location"] = url_for("api.service_detail", request_id=req.id)
    return response, status


@operation(
    "GET",
    "/service-requests/<int:request_id>",
    summary="One service request",
    tag="service requests",
    responses={200: ServiceOut},
)
@api_roles(*PORTAL_VIEWERS)
def service_detail(request_id: int):
    return _json(present.service(_load_service(request_id)))


@operation(
    "POST",
    "/service-requests/<int:request_id>/cancel",
    summary="Call a service request off, with a reason",
    tag="service requests",
    body=ServiceCancel,
    responses={200: ServiceOut},
    errors=(409,),
)
@api_roles(*PORTAL_VIEWERS)
def service_cancel(request_id: int):
    req = _load_service(request_id)
    body = json_body(ServiceCancel)
    services.cancel_service(
        req,
        actor=current_user._get_current_object(),
        reason=body.reason,
        expected_version=body.version,
    )
    db.session.commit()
    return _json(present.service(req))
