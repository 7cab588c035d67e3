"""Who may do what with the policy catalog (DESIGN §2, §7).

The office keeps the catalog. Everyone who advises firms reads it: the office, a street's
centre and commissioners, and the district leaders. The candidate list names firms, so it
is for those who work with firms, each within the firms they may see
(``crm.auth.permissions.firm_scope``).
"""

from crm.auth.models import User
from crm.auth.permissions import COMMISSIONER, LEADER, OFFICE, STREET

MANAGERS = (OFFICE,)
READERS = (OFFICE, STREET, COMMISSIONER, LEADER)
CANDIDATE_VIEWERS = (OFFICE, STREET, COMMISSIONER)


def can_manage_policies(user: User) -> bool:
    """Create, edit, retire and import policies, and upload or delete their files."""
    return user.is_authenticated and user.role in MANAGERS


def can_list_candidates(user: User) -> bool:
    return user.is_authenticated and user.role in CANDIDATE_VIEWERS
