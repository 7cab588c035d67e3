"""One policy against every firm: the candidate list (GET /policies/<id>/candidates) and
its Excel export, the list of firms to grant for a 免申即享 policy. ``ROUTES`` is registered
on the ``policies`` blueprint by ``crm.policies.views``."""

import re

from flask import abort, render_template, request
from flask_login import current_user

from crm.audit.services import record
from crm.auth.permissions import firm_scope, roles_required
from crm.extensions import db
from crm.policies import catalog, matching, queries
from crm.policies.candidates import (
    candidate_list,
    export_candidates,
    not_in_force_reason,
    paginate,
)
from crm.policies.forms import CandidateFilterForm
from crm.policies.models import Policy
from crm.policies.permissions import CANDIDATE_VIEWERS
from crm.spreadsheets import download
from crm.workcal.services import today

PER_PAGE = 25


def _candidates(policy: Policy):
    form = CandidateFilterForm(request.args)
    form.validate()
    on = (None if form.on.errors else form.on.data) or today()
    outcome = None if form.outcome.errors else form.outcome.data or None
    found = candidate_list(policy, on, scope=firm_scope(current_user), outcome=outcome)
    return form, found


@roles_required(*CANDIDATE_VIEWERS)
def candidates(policy_id: int):
    policy = catalog.load_policy(policy_id) or abort(404)
    form, found = _candidates(policy)
    page = paginate(found.matches, page=request.args.get("page", type=int), per_page=PER_PAGE)
    return render_template(
        "policies/candidates.html",
        policy=policy,
        form=form,
        found=found,
        page=page,
        streets=queries.street_names(),
        explain=matching.explain,
        summary=matching.summary,
        not_in_force=not_in_force_reason(policy, found.on),
    )


@roles_required(*CANDIDATE_VIEWERS)
def candidates_export(policy_id: int):
    policy = catalog.load_policy(policy_id) or abort(404)
    _form, found = _candidates(policy)
    out, count = export_candidates(found, scope=firm_scope(current_user))
    # A list of firms leaving the system is worth a line in the log.
    record(
        "policy.candidates_export",
        policy,
        detail={"count": count, "on": found.on.isoformat(), "filters": request.args.to_dict()},
    )
    db.session.commit()
    day = found.on.isoformat()
    title = re.sub(r'[\\/:*?"<>|\s]+', "", policy.title)[:60]
    return download(
        out, f"候选企业-{title}-{day}.xlsx", f"policy-{policy.id}-candidates-{day}.xlsx"
    )


ROUTES = [
    ("/<int:policy_id>/candidates", candidates),
    ("/<int:policy_id>/candidates.xlsx", candidates_export),
]
