"""Times are stored as naive UTC and shown in Asia/Shanghai (Flask-Babel converts)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
