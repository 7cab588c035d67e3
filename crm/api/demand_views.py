"""Demands: the list, intake (idempotent), one demand, its timeline and its files.
The actions on a demand are in ``crm.api.action_views``."""

from flask import abort, jsonify, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.api import present
from crm.api.auth import api_roles
from crm.api.errors import ApiError
from crm.api.openapi import BINARY, operation
from crm.api.parsing import json_body, page_of, query_args
from crm.api.schemas import (
    ATTACHMENT_UPLOAD,
    MAX_ID,
    AttachmentList,
    DemandCreate,
    DemandOut,
    DemandPage,
    DemandQuery,
    EventPage,
    PageQuery,
)
from crm.auth.permissions import (
    COMMISSIONER,
    DEPARTMENT,
    FIRM,
    LEADER,
    OFFICE,
    STREET,
    demand_scope,
    firm_scope,
)
from crm.demands import attachments, services, states
from crm.demands.demand_page import load_demand as _load_demand
from crm.demands.models import Demand, DemandCategory, DemandEvent
from crm.extensions import db
from crm.firms.models import Firm

VIEWERS = (OFFICE, STREET, COMMISSIONER, DEPARTMENT, LEADER, FIRM)
INTAKE = (OFFICE, STREET, COMMISSIONER, FIRM)
WRITERS = states.ACTIONS["note"].roles  # staff who write on a demand: notes, files
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any string of up to 64 printable ASCII characters, new for each demand: "
    "a retried submission with the same key creates no second demand (200, the first one).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}


def load_demand(demand_id: int) -> Demand:
    """The demand if the caller may see it: 404 for a firm's user otherwise (it learns
    nothing of other firms), 403 for staff, as on the demand's page."""
    if demand_id > MAX_ID:
        abort(404)
    return _load_demand(demand_id)


def demand_answer(demand_id: int, status: int = 200):
    db.session.expire_all()  # what the commit wrote, not what this request loaded before it
    return jsonify(
        present.demand(load_demand(demand_id), current_user).model_dump(mode="json")
    ), status


# -- the list and intake --------------------------------------------------------------------


@operation(
    "GET",
    "/demands",
    summary="Demands the caller may see, newest first",
    tag="demands",
    query=DemandQuery,
    responses={200: DemandPage},
)
@api_roles(*VIEWERS)
def demand_list():
    args = query_args(DemandQuery)
    stmt = select(Demand).where(demand_scope(current_user))
    if args.state:
        stmt = stmt.where(Demand.state == args.state)
    if args.open is True:
        stmt = stmt.where(Demand.state.in_(states.OPEN_STATES))
    elif args.open is False:
        stmt = stmt.where(Demand.state.not_in(states.OPEN_STATES))
    if args.firm_id:
        stmt = stmt.where(Demand.firm_id == args.firm_id)
    stmt = stmt.order_by(Demand.submitted_at.desc(), Demand.id.desc()).options(
        selectinload(Demand.firm), selectinload(Demand.category)
    )
    items, total = page_of(stmt, args.page, args.per_page)
    answer = DemandPage(
        items=[present.demand_item(d) for d in items],
        page=args.page,
        per_page=args.per_page,
        total=total,
    )
    return jsonify(answer.model_dump(mode="json"))


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 64 or not (key.isascii() and key.isprintable()):
        raise ApiError(
            400,
            "bad_idempotency_key",
            _l("The Idempotency-Key header must be 1 to 64 printable ASCII characters."),
        )
    return key


@operation(
    "POST",
    "/demands",
    summary="Submit a demand",
    description="A firm's user submits for its own firm (channel api); staff record one "
    "taken by hotline, walk-in or visit for a firm in their scope.",
    tag="demands",
    body=DemandCreate,
    headers=(IDEMPOTENCY_KEY,),
    responses={200: DemandOut, 201: DemandOut},
)
@api_roles(*INTAKE)
def demand_create():
    body = json_body(DemandCreate)
    key = _idempotency_key()
    user = current_user._get_current_object()
    if user.role == FIRM:
        if body.channel is not None:
            raise ApiError(422, fields={"channel": _("A firm's demands come through the API.")})
        firm_id, channel = body.firm_id or user.firm_id, "api"
    else:
        missing = {
            f: _("This field is required.") for f in ("firm_id", "channel") if not getattr(body, f)
        }
        if missing:
            raise ApiError(422, fields=missing)
        firm_id, channel = body.firm_id, body.channel
    firm = db.session.scalar(select(Firm).where(Firm.id == firm_id, firm_scope(user)))
    if firm is None:
        raise ApiError(422, fields={"firm_id": _("Choose one of the firms you look after.")})
    category = db.session.scalar(select(DemandCategory).where(DemandCategory.code == body.category))
    if category is None:
        raise ApiError(422, fields={"category": _("Not a valid choice.")})
    demand, created = services.submit_demand(
        firm=firm,
        category=category,
        title=body.title,
        description=body.description,
        urgency=body.urgency,
        channel=channel,
        actor=user,
        submission_key=key,
    )
    db.session.commit()
    response, status = demand_answer(demand.id, 201 if created else 200)
    if created:
        response.headers["Location"] = url_for("api.demand_detail", demand_id=demand.id)
    return response, status


# -- one demand ----------------------------------------------------------------------------


@operation(
    "GET",
    "/demands/<int:demand_id>",
    summary="One demand: its state, deadlines, reply, and for staff its tasks",
    tag="demands",
    responses={200: DemandOut},
)
@api_roles(*VIEWERS)
def demand_detail(demand_id: int):
    return demand_answer(demand_id)


@operation(
    "GET",
    "/demands/<int:demand_id>/events",
    summary="A demand's timeline, oldest first (a firm's user never sees internal lines)",
    tag="demands",
    query=PageQuery,
    responses={200: EventPage},
)
@api_roles(*VIEWERS)
def demand_events(demand_id: int):
    demand = load_demand(demand_id)
    args = query_args(PageQuery)
    stmt = select(DemandEvent).where(DemandEvent.demand_id == demand.id)
    if current_user.role == FIRM:
        stmt = stmt.where(DemandEvent.internal.is_(False))
    stmt = stmt.order_by(DemandEvent.id).options(selectinload(DemandEvent.actor))
    items, total = page_of(stmt, args.page, args.per_page)
    answer = EventPage(
        items=[present.event(e, current_user) for e in items],
        page=args.page,
        per_page=args.per_page,
        total=total,
    )
    return jsonify(answer.model_dump(mode="json"))


# -- files ---------------------------------------------------------------------------------


@operation(
    "POST",
    "/demands/<int:demand_id>/attachments",
    summary="Attach files (multipart, field files; staff who write on the demand, the firm "
    "to its own demand until it is finished, never internal)",
    tag="demands",
    body=ATTACHMENT_UPLOAD,
    responses={201: AttachmentList},
    errors=(409, 413),
)
@api_roles(*WRITERS, FIRM)
def attachment_upload(demand_id: int):
    demand = load_demand(demand_id)
    uploads = attachments.check_uploads(request.files.getlist("files"))
    internal = request.form.get("internal", "").lower() in ("true", "1", "on", "yes")
    rows = attachments.add_attachments(
        demand, uploads, actor=current_user._get_current_object(), internal=internal
    )
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        attachments.discard(rows)
        raise
    answer = AttachmentList(items=[present.attachment(a) for a in rows])
    return jsonify(answer.model_dump(mode="json")), 201


@operation(
    "GET",
    "/demands/<int:demand_id>/attachments/<int:attachment_id>",
    summary="Download one file of a demand (a firm's user: not internal ones)",
    tag="demands",
    responses={200: BINARY},
)
@api_roles(*VIEWERS)
def attachment_download(demand_id: int, attachment_id: int):
    demand = load_demand(demand_id)
    row = next((a for a in demand.attachments if a.id == attachment_id), None)
    if row is None or (row.internal and current_user.role == FIRM):
        abort(404)
    path = attachments.path_of(row)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=row.filename, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
