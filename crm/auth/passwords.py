"""Password policy: length, character classes, and a list of passwords people really use."""

import re
from functools import cache
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
_CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")


@cache
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    words = (line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


def policy_errors(password: str, *, username: str = "") -> list[str]:
    """Every way ``password`` breaks the policy, as messages for the person typing it."""
    errors = []
    if len(password) < MIN_LENGTH:
        errors.append(_l("Use at least %(n)s characters.", n=MIN_LENGTH))
    if sum(bool(re.search(c, password)) for c in _CLASSES) < 3:
        errors.append(
            _l("Use at least three of: lower-case letters, upper-case letters, digits, symbols.")
        )
    lowered = password.lower()
    if lowered in _common_passwords():
        errors.append(_l("This password is too common; choose another."))
    if username and len(username) >= 3 and username.lower() in lowered:
        errors.append(_l("The password must not contain the user name."))
    return errors


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)
