"""Times are stored as naive UTC and shown in Asia/Shanghai (Flask-Babel converts)."""

from datetime import UTC, datetime, timedelta, timezone

# Mainland China has kept UTC+8 all year since 1991; a fixed offset needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def local_time(value: datetime | None) -> datetime | None:
    """A stored UTC time as the Asia/Shanghai wall-clock time (naive), e.g. for Excel."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).replace(tzinfo=None)
