"""Whose figures a user may see (DESIGN §2): the office sees the district and may slice it
any way; a street's centre sees its own street; a leader the firms linked to it. The
dashboard, the bulletins and the figures API all narrow a request through ``scoped``, so a
street's user cannot ask for another street's figures by editing an address.
"""

from dataclasses import replace

from crm.auth.models import User
from crm.auth.permissions import LEADER, OFFICE, STREET
from crm.stats.definitions import Slice

VIEWERS = (OFFICE, STREET, LEADER)


def scoped(user: User, asked: Slice) -> Slice:
    """``asked`` within what ``user`` may see: the user's own street or firms replace
    whatever street or leader was asked for. Only for ``VIEWERS``."""
    if user.role == OFFICE:
        return asked
    if user.role == STREET:
        # A street account always has its street (crm.admin.services); were one to lack
        # it, it sees no street (ids start at 1), never the district.
        return replace(asked, street_id=user.street_id or 0)
    if user.role == LEADER:
        return replace(asked, leader_id=user.id)
    raise PermissionError(f"{user.role} users have no figures")


def fixed_dimensions(user: User) -> tuple[str, ...]:
    """The slice filters a user may not change (the page hides them)."""
    return {STREET: ("street",), LEADER: ("leader",)}.get(user.role, ())
