"""The policy catalog: creating, editing, retiring and reinstating policies, their machine
criteria and their files.

Functions change the session, write the audit record and leave the commit to the caller,
so a request is one transaction. Rule breaks raise ``PolicyError`` (one field to blame) or
``CriteriaError`` (a message per criterion row), which views turn into form errors.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from crm.audit.services import changes, record
from crm.auth.models import User
from crm.demands.attachments import Upload, write_file
from crm.extensions import db
from crm.policies.attributes import CriterionError, clean_value
from crm.policies.models import KINDS, LEVELS, TOPICS, Policy, PolicyAttachment, PolicyCriterion
from crm.policies.queries import in_force_clause
from crm.timeutil import utcnow

POLICY_FIELDS = (
    "title",
    "issuer",
    "level",
    "doc_number",
    "topic",
    "kind",
    "effective_from",
    "effective_to",
    "benefits",
    "how_to_apply",
    "no_application",
    "review_conditions",
)
TEXT_LIMITS = {"title": 200, "issuer": 100, "doc_number": 64}
CONDITION_MAX = 500
MAX_CRITERIA = 30

IN_FORCE, NOT_YET, EXPIRED, RETIRED = "in_force", "not_yet", "expired", "retired"
STATUSES = (IN_FORCE, NOT_YET, EXPIRED, RETIRED)
STATUS_LABELS = {
    IN_FORCE: _l("In force"),
    NOT_YET: _l("Not yet in force"),
    EXPIRED: _l("Expired"),
    RETIRED: _l("Retired"),
}


class PolicyError(ValueError):
    """A change that breaks a rule; ``field`` names the form field to blame."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


class StalePolicy(PolicyError):
    def __init__(self):
        super().__init__(
            _l(
                "Someone else changed this policy while you were editing. Your entries are "
                "kept: check the current policy, then save again."
            )
        )


class CriteriaError(PolicyError):
    """Criteria that cannot be used: ``errors`` maps each refused row's position to why."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(_l("Some criteria cannot be used: see the marked rows."), "criteria")
        self.errors = errors


@dataclass(frozen=True)
class CriterionInput:
    """A criterion as typed: the value is text, or a list of the values chosen."""

    attribute: str
    operator: str
    value: Any


# -- reading the catalog ----------------------------------------------------------------------


def status_of(policy: Policy, on: date) -> str:
    if policy.retired_at is not None:
        return RETIRED
    if policy.effective_from > on:
        return NOT_YET
    if policy.effective_to is not None and policy.effective_to < on:
        return EXPIRED
    return IN_FORCE


@dataclass
class PolicyFilter:
    q: str = ""
    kind: str | None = None
    level: str | None = None
    topic: str | None = None
    status: str | None = None
    no_application: bool = False


def policy_query(f: PolicyFilter, on: date) -> Select:
    """The catalog narrowed by ``f`` (status as on ``on``): policies still standing first,
    the newest first, with what the list shows."""
    stmt = select(Policy)
    if q := f.q.strip():
        stmt = stmt.where(
            or_(
                Policy.title.icontains(q, autoescape=True),
                Policy.doc_number.icontains(q, autoescape=True),
                Policy.issuer.icontains(q, autoescape=True),
                Policy.benefits.icontains(q, autoescape=True),
            )
        )
    for name in ("kind", "level", "topic"):
        if value := getattr(f, name):
            stmt = stmt.where(getattr(Policy, name) == value)
    if f.no_application:
        stmt = stmt.where(Policy.no_application.is_(True))
    standing = Policy.retired_at.is_(None)
    if f.status == IN_FORCE:
        stmt = stmt.where(in_force_clause(on))
    elif f.status == NOT_YET:
        stmt = stmt.where(standing, Policy.effective_from > on)
    elif f.status == EXPIRED:
        stmt = stmt.where(standing, Policy.effective_to < on)
    elif f.status == RETIRED:
        stmt = stmt.where(Policy.retired_at.is_not(None))
    return stmt.order_by(
        Policy.retired_at.is_not(None), Policy.effective_from.desc(), Policy.id.desc()
    ).options(selectinload(Policy.criteria))


def load_policy(policy_id: int) -> Policy | None:
    return db.session.scalar(
        select(Policy)
        .where(Policy.id == policy_id)
        .options(
            selectinload(Policy.criteria),
            selectinload(Policy.attachments),
            selectinload(Policy.created_by),
            selectinload(Policy.retired_by),
        )
    )


def find_by_key(doc_number: str, title: str) -> Policy | None:
    """The policy with this document number (文号) and title: what an import updates."""
    return db.session.scalar(
        select(Policy)
        .where(Policy.doc_number == doc_number, Policy.title == title)
        .order_by(Policy.id)
        .limit(1)
    )


# -- checking ---------------------------------------------------------------------------------


def clean_criteria(
    rows: Sequence[CriterionInput], *, streets: Mapping[int, str]
) -> list[tuple[str, str, Any]]:
    """The rows as stored criteria (attribute, operator, value); ``CriteriaError`` with
    the reason of every refused row."""
    if len(rows) > MAX_CRITERIA:
        raise PolicyError(
            _l("A policy has at most %(n)s machine criteria.", n=MAX_CRITERIA), "criteria"
        )
    cleaned, errors = [], {}
    for position, row in enumerate(rows):
        try:
            cleaned.append(clean_criterion(row, streets=streets))
        except CriterionError as exc:
            errors[position] = exc.message
    if errors:
        raise CriteriaError(errors)
    return cleaned


def clean_criterion(row: CriterionInput, *, streets: Mapping[int, str]) -> tuple[str, str, Any]:
    """One row as a stored criterion; ``CriterionError`` saying what is wrong with it."""
    if not row.attribute:
        raise CriterionError(_l("Choose what to test."))
    if not row.operator:
        raise CriterionError(_l("Choose how to compare."))
    return (
        row.attribute,
        row.operator,
        clean_value(row.attribute, row.operator, row.value, streets=streets),
    )


def _clean_conditions(conditions: Any) -> list[str]:
    if isinstance(conditions, str):
        conditions = conditions.splitlines()
    lines = [" ".join(str(c).split()) for c in conditions or ()]
    lines = [line for line in lines if line]
    if any(len(line) > CONDITION_MAX for line in lines):
        raise PolicyError(
            _l("A reviewed condition has at most %(n)s characters.", n=CONDITION_MAX),
            "review_conditions",
        )
    return list(dict.fromkeys(lines))


def _check_data(data: Mapping[str, Any], *, policy: Policy | None) -> dict[str, Any]:
    clean = {k: v for k, v in data.items() if k in POLICY_FIELDS}
    for key in ("title", "issuer", "doc_number", "benefits", "how_to_apply"):
        if key in clean:
            clean[key] = (clean[key] or "").strip()
    for key, limit in TEXT_LIMITS.items():
        if len(clean.get(key, "")) > limit:
            raise PolicyError(_l("At most %(n)s characters.", n=limit), key)
    if "title" in clean and not clean["title"]:
        raise PolicyError(_l("Enter the policy's title."), "title")
    for key, allowed in (("level", LEVELS), ("kind", KINDS), ("topic", TOPICS)):
        if key in clean and clean[key] not in allowed:
            raise PolicyError(_l("Choose one of the listed values."), key)
    if "review_conditions" in clean:
        clean["review_conditions"] = _clean_conditions(clean["review_conditions"])
    if "no_application" in clean:
        clean["no_application"] = bool(clean["no_application"])
    start = clean.get("effective_from", policy.effective_from if policy else None)
    end = clean.get("effective_to", policy.effective_to if policy else None)
    if start is None:
        raise PolicyError(_l("Enter the date the policy takes effect."), "effective_from")
    if end is not None and end < start:
        raise PolicyError(_l("The policy cannot end before it takes effect."), "effective_to")
    title = clean.get("title", policy.title if policy else "")
    doc_number = clean.get("doc_number", policy.doc_number if policy else "")
    same = find_by_key(doc_number, title) if doc_number else None
    if same is not None and same is not policy:
        raise PolicyError(
            _l("The catalog has a policy with this document number and title already."),
            "doc_number",
        )
    return clean


def _set_criteria(policy: Policy, criteria: Sequence[tuple[str, str, Any]]) -> None:
    policy.criteria.clear()
    for position, (attribute, operator, value) in enumerate(criteria):
        policy.criteria.append(
            PolicyCriterion(position=position, attribute=attribute, operator=operator, value=value)
        )


def criteria_of(policy: Policy) -> list[list]:
    return [[c.attribute, c.operator, c.value] for c in policy.criteria]


# -- changing ---------------------------------------------------------------------------------


def create_policy(
    data: Mapping[str, Any], criteria: Sequence[tuple[str, str, Any]], *, actor: User
) -> Policy:
    """A new policy; ``criteria`` as ``clean_criteria`` returns them."""
    clean = _check_data(data, policy=None)
    policy = Policy(created_by_id=actor.id, **clean)
    _set_criteria(policy, criteria)
    db.session.add(policy)
    db.session.flush()
    record(
        "policy.create",
        policy,
        user=actor,
        detail={"title": policy.title, "doc_number": policy.doc_number, "criteria": len(criteria)},
    )
    return policy


def update_policy(
    policy: Policy,
    data: Mapping[str, Any],
    criteria: Sequence[tuple[str, str, Any]],
    *,
    actor: User,
    expected_version: int | None = None,
) -> bool:
    """Change the policy and replace its criteria; whether anything changed. A policy
    edited by someone else since ``expected_version`` was read is refused."""
    if expected_version is not None and expected_version != policy.version:
        raise StalePolicy()
    clean = _check_data(data, policy=policy)
    before = criteria_of(policy)
    for key, value in clean.items():
        setattr(policy, key, value)
    diff = changes(policy, list(clean))
    after = [list(c) for c in criteria]
    if after != before:
        _set_criteria(policy, criteria)
        diff["criteria"] = [before, after]
    if not diff:
        return False
    policy.updated_at = utcnow()  # a new version even when only the criteria changed
    db.session.flush()
    record("policy.update", policy, user=actor, detail={"changes": diff})
    return True


def retire_policy(
    policy: Policy, *, actor: User, reason: str, expected_version: int | None = None
) -> None:
    """No longer in force from now: kept in the catalog with who retired it and why."""
    if expected_version is not None and expected_version != policy.version:
        raise StalePolicy()
    if policy.retired_at is not None:
        raise PolicyError(_l("This policy is retired already."), "reason")
    reason = " ".join((reason or "").split())
    if not reason:
        raise PolicyError(_l("Say why the policy is retired."), "reason")
    policy.retired_at = utcnow()
    policy.retired_by_id = actor.id
    policy.retire_reason = reason[:200]
    db.session.flush()
    record("policy.retire", policy, user=actor, detail={"reason": policy.retire_reason})


def reinstate_policy(policy: Policy, *, actor: User, expected_version: int | None = None) -> None:
    """Undo a retirement: the policy applies again within its effective dates."""
    if expected_version is not None and expected_version != policy.version:
        raise StalePolicy()
    if policy.retired_at is None:
        raise PolicyError(_l("This policy is not retired."))
    previous = policy.retire_reason
    policy.retired_at = None
    policy.retired_by_id = None
    policy.retire_reason = ""
    db.session.flush()
    record("policy.reinstate", policy, user=actor, detail={"retire_reason": previous})


# -- files ------------------------------------------------------------------------------------


def storage_dir() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "policy_attachments"


def path_of(attachment: PolicyAttachment) -> Path:
    return storage_dir() / attachment.stored_name


def store_attachments(
    policy: Policy, uploads: Sequence[Upload], *, actor: User
) -> list[PolicyAttachment]:
    """Write checked files under generated names and add their rows. If the caller's
    commit fails it calls ``discard`` so no orphan file stays behind."""
    if not uploads:
        raise PolicyError(_l("Choose at least one file."), "files")
    rows = []
    for upload in uploads:
        stored_name = write_file(storage_dir(), upload)
        row = PolicyAttachment(
            policy=policy,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
            stored_name=stored_name,
            uploaded_by_id=actor.id,
        )
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    record("policy.attach", policy, user=actor, detail={"files": [u.filename for u in uploads]})
    return rows


def discard(rows: Sequence[PolicyAttachment]) -> None:
    for row in rows:
        path_of(row).unlink(missing_ok=True)


def delete_attachment(attachment: PolicyAttachment, *, actor: User) -> Path:
    """Remove the file's row; returns its path, for the caller to delete after commit."""
    path = path_of(attachment)
    record(
        "policy.attachment_delete",
        attachment.policy,
        user=actor,
        detail={"file": attachment.filename, "sha256": attachment.sha256},
    )
    db.session.delete(attachment)
    return path
