"""Who is told, for work on many demands at once (the escalation sweep).

``crm.demands.notify`` answers for one demand with a query each time; a sweep that
notifies the units of thousands of demands reads the staff once into a ``Directory``.
"""

from dataclasses import dataclass

from sqlalchemy import select

from crm.auth.models import User
from crm.extensions import db
from crm.org.models import Department, Street


@dataclass
class Directory:
    """The active staff by unit, read once: who each notification goes to.

    The same people as ``notify.unit_users`` (a department's ``department`` users, a
    street's ``street`` users, their heads), ``notify.dispatchers_for`` (the office and the
    firm's street) and the office.
    """

    office: list[int]
    office_heads: list[int]
    departments: dict[int, list[tuple[int, bool]]]
    streets: dict[int, list[tuple[int, bool]]]
    active: set[int]
    department_names: dict[int, str]
    street_names: dict[int, str]

    @classmethod
    def load(cls) -> "Directory":
        people = cls([], [], {}, {}, set(), {}, {})
        rows = db.session.execute(
            select(User.id, User.role, User.street_id, User.department_id, User.is_unit_head)
            .where(User.active.is_(True), User.role != "firm")
            .order_by(User.id)
        )
        for user_id, role, street_id, department_id, head in rows:
            people.active.add(user_id)
            if role == "office":
                people.office.append(user_id)
                if head:
                    people.office_heads.append(user_id)
            elif role == "department" and department_id is not None:
                people.departments.setdefault(department_id, []).append((user_id, head))
            elif role == "street" and street_id is not None:
                people.streets.setdefault(street_id, []).append((user_id, head))
        people.department_names = dict(
            db.session.execute(select(Department.id, Department.name)).all()
        )
        people.street_names = dict(db.session.execute(select(Street.id, Street.name)).all())
        return people

    def unit(
        self, department_id: int | None, street_id: int | None, *, heads_only: bool = False
    ) -> list[int]:
        members = (
            self.departments.get(department_id, [])
            if department_id is not None
            else self.streets.get(street_id, [])
        )
        return [user_id for user_id, head in members if head or not heads_only]

    def dispatchers(self, street_id: int, *, heads_only: bool = False) -> list[int]:
        office = self.office_heads if heads_only else self.office
        return office + [u for u, head in self.streets.get(street_id, []) if head or not heads_only]

    def unit_name(self, department_id: int | None, street_id: int | None) -> str:
        if department_id is not None:
            return self.department_names.get(department_id, "")
        return self.street_names.get(street_id, "")
