"""Who may compose, issue, read and acknowledge a firm's service packages (DESIGN §2, §7).

Issuing follows visits (``crm.auth.permissions.can_log_visit``): the office for any firm,
a street's service centre and its commissioners for any firm of their street. Reading
adds the district leader, for the firms linked to it. Departments, administrators and
firm users have no staff package pages; a firm sees its own packages in the portal.
"""

from crm.auth.models import User
from crm.auth.permissions import COMMISSIONER, LEADER, OFFICE, STREET, can_view_firm

ISSUERS = (OFFICE, STREET, COMMISSIONER)
READERS = (*ISSUERS, LEADER)


def can_issue_package(user: User, firm) -> bool:
    """Compose, issue and record the acknowledgement of ``firm``'s packages."""
    if user.role == OFFICE:
        return True
    return (
        user.role in (STREET, COMMISSIONER)
        and user.street_id is not None
        and firm.street_id == user.street_id
    )


def can_read_packages(user: User, firm) -> bool:
    """See ``firm``'s packages and download their PDFs."""
    return user.role in READERS and can_view_firm(user, firm)
