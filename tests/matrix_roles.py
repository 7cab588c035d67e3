"""The permission matrix's vocabulary: a row says which roles get which status."""

from crm.auth.models import ROLES

ANON = "anon"
EVERYONE = (ANON, *ROLES)
LOGGED_IN = ROLES


def only(*roles, ok=200, anon=302):
    """``roles`` get ``ok``; the other logged-in roles 403; anonymous users go to login."""
    table = {role: (ok if role in roles else 403) for role in LOGGED_IN}
    table[ANON] = anon
    return table


def same(status, anon=302):
    return {**dict.fromkeys(LOGGED_IN, status), ANON: anon}
