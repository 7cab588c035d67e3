"""Staff's side of the portal: service requests, profile changes, sign-ups, invitations."""

from flask import Blueprint

service_requests_bp = Blueprint("service_requests", __name__, url_prefix="/service-requests")
profile_changes_bp = Blueprint("profile_changes", __name__, url_prefix="/profile-changes")
signups_bp = Blueprint("signups", __name__, url_prefix="/signups")
invitations_bp = Blueprint("invitations", __name__, url_prefix="/invitations")
