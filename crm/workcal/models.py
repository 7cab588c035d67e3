"""Calendar years an admin entered, for the years the calendar library does not know."""

from datetime import date

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db


class CalendarDay(db.Model):
    """A day an admin entered from the State Council's notice: a holiday or a make-up
    workday. Entering any day of a year marks that whole year as known."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    is_workday: Mapped[bool]
    name: Mapped[str] = mapped_column(String(32), default="")
    year: Mapped[int] = mapped_column(index=True)
