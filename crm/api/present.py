"""Records as the API shows them, field by field: what a caller sees is named here, never
a model dumped whole. A firm's user sees nothing internal: no tasks, owner, internal
events or internal files."""

from crm.api import firm_schemas as fs
from crm.api import schemas as s
from crm.auth.models import User
from crm.auth.permissions import FIRM, can_see_full_phone, mask_phone
from crm.demands import states
from crm.demands.demand_page import offer_for
from crm.demands.models import Attachment, Demand, DemandEvent, DemandTask, ExtensionRequest
from crm.firms.models import Firm
from crm.portal.models import ProfileChange, ServiceRequest


def user(u: User) -> s.UserOut:
    return s.UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        firm_id=u.firm_id,
        street_id=u.street_id,
        department_id=u.department_id,
    )


# -- demands ------------------------------------------------------------------------------


def _list_fields(d: Demand) -> dict:
    return {
        "id": d.id,
        "number": d.number,
        "state": d.state,
        "firm": s.Ref(id=d.firm.id, name=d.firm.name),
        "category": s.CategoryRef(code=d.category.code, name=d.category.name),
        "title": d.title,
        "urgency": d.urgency,
        "channel": d.channel,
        "level": d.level,
        "submitted_at": d.submitted_at,
        "accept_due_on": d.accept_due_on,
        "due_on": d.due_on,
        "version": d.version,
    }


def demand_item(d: Demand) -> s.DemandListItem:
    return s.DemandListItem(**_list_fields(d))


def attachment(a: Attachment) -> s.AttachmentOut:
    return s.AttachmentOut(
        id=a.id,
        filename=a.filename,
        content_type=a.content_type,
        size=a.size,
        uploaded_at=a.uploaded_at,
        internal=a.internal,
    )


def _extension(r: ExtensionRequest) -> s.ExtensionOut:
    return s.ExtensionOut(
        id=r.id,
        days=r.days,
        reason=r.reason,
        state=r.state,
        requested_at=r.requested_at,
        decided_at=r.decided_at,
        decision_note=r.decision_note,
        new_due_on=r.new_due_on,
    )


def _task(t: DemandTask, actions: list[str]) -> s.TaskOut:
    return s.TaskOut(
        id=t.id,
        role=t.role,
        unit=s.UnitOut(department_id=t.department_id, street_id=t.street_id, name=t.unit_name),
        state=t.state,
        due_on=t.due_on,
        dispatched_at=t.dispatched_at,
        accepted_at=t.accepted_at,
        resolved_at=t.resolved_at,
        return_reason=t.return_reason,
        resolution=t.resolution,
        extensions=[_extension(r) for r in t.extensions],
        actions=actions,
    )


def demand(d: Demand, viewer: User) -> s.DemandOut:
    firm_user = viewer.role == FIRM
    offer = offer_for(viewer, d)
    actions = [name for name in offer.demand if name != "attach"]
    if offer.extensions:
        actions.append("decide_extension")
    if firm_user and d.state in states.ACTIONS["message"].sources:
        actions.append("message")
    return s.DemandOut(
        **_list_fields(d),
        description=d.description,
        accepted_at=d.accepted_at,
        dispatched_at=d.dispatched_at,
        paused_at=d.paused_at,
        pause_reason=d.pause_reason,
        resolved_at=d.resolved_at,
        reply=d.reply,
        rating=d.rating,
        rated_at=d.rated_at,
        closed_at=d.closed_at,
        closed_without_rating=d.closed_without_rating,
        reject_reason=d.reject_reason,
        merged_into=d.merged_into.number if d.merged_into else None,
        withdrawn_at=d.withdrawn_at,
        owner=None if firm_user or d.owner is None else s.Ref(id=d.owner.id, name=str(d.owner)),
        tasks=None if firm_user else [_task(t, offer.tasks.get(t.id, [])) for t in d.tasks],
        attachments=[attachment(a) for a in d.attachments if not (firm_user and a.internal)],
        actions=actions,
    )


def event(e: DemandEvent, viewer: User) -> s.EventOut:
    return s.EventOut(
        id=e.id,
        at=e.at,
        kind=e.kind,
        actor=str(e.actor) if e.actor else None,
        from_state=e.from_state,
        to_state=e.to_state,
        message=e.message,
        task_id=e.task_id,
        internal=e.internal,
        # The data of a timeline line names units and deadlines: staff's working detail.
        data={} if viewer.role == FIRM else dict(e.data or {}),
    )


# -- firms --------------------------------------------------------------------------------


def firm_item(f: Firm) -> fs.FirmSummary:
    return fs.FirmSummary(**_firm_fields(f), street=s.Ref(id=f.street.id, name=f.street.name))


def _firm_fields(f: Firm) -> dict:
    return {
        "id": f.id,
        "name": f.name,
        "uscc": f.uscc,
        "tier": f.tier,
        "status": f.status,
        "industry_code": f.industry_code,
        "size": f.size,
    }


def firm(f: Firm, viewer: User) -> fs.FirmOut:
    full = can_see_full_phone(viewer, f)
    commissioners = [
        fs.CommissionerOut(
            role=a.role,
            name=str(a.commissioner),
            phone=a.commissioner.phone,
            email=a.commissioner.email,
            specialty=a.commissioner.specialty,
        )
        for a in f.assignments
        if a.ended_at is None
    ]
    contacts = [
        fs.ContactOut(
            id=c.id,
            name=c.name,
            title=c.title,
            phone=c.phone if full or not c.phone else mask_phone(c.phone),
            phone_masked=not full and bool(c.phone),
            email=c.email,
            is_primary=c.is_primary,
        )
        for c in f.contacts
    ]
    street = f.street
    return fs.FirmOut(
        **_firm_fields(f),
        street=fs.StreetOut(
            id=street.id,
            name=street.name,
            service_centre_address=street.service_centre_address,
            service_centre_phone=street.service_centre_phone,
        ),
        legal_representative=f.legal_representative,
        address=f.address,
        registered_capital=str(f.registered_capital) if f.registered_capital is not None else None,
        employees=f.employees,
        revenue_band=f.revenue_band,
        established_on=f.established_on,
        high_tech=f.high_tech,
        foreign_invested=f.foreign_invested,
        tags=list(f.tags or []),
        commissioners=commissioners,
        contacts=contacts,
        version=f.version,
    )


# -- the firm's own requests ------------------------------------------------------------------


def change(c: ProfileChange) -> fs.ChangeOut:
    return fs.ChangeOut(
        id=c.id,
        state=c.state,
        changes=dict(c.changes or {}),
        note=c.note,
        created_at=c.created_at,
        reviewed_at=c.reviewed_at,
        review_note=c.review_note,
    )


def service(r: ServiceRequest) -> fs.ServiceOut:
    return fs.ServiceOut(
        id=r.id,
        firm=s.Ref(id=r.firm.id, name=r.firm.name),
        kind=r.kind,
        state=r.state,
        details=r.details,
        preferred_date=r.preferred_date,
        preferred_slot=r.preferred_slot,
        address=r.address,
        contact_phone=r.contact_phone,
        commissioner=s.Ref(id=r.commissioner.id, name=str(r.commissioner))
        if r.commissioner
        else None,
        scheduled_for=r.scheduled_for,
        schedule_note=r.schedule_note,
        outcome=r.outcome,
        cancel_reason=r.cancel_reason,
        created_at=r.created_at,
        closed_at=r.closed_at,
        version=r.version,
    )
