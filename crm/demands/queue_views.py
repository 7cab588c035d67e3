"""The handling queue: the tasks dispatched to the user's department or street.

Accepting, returning, progress, extensions, pausing and resolving happen on the demand's
page; this page finds the work and shows what is late.
"""

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from crm.auth.permissions import COMMISSIONER, DEPARTMENT, STREET, roles_required
from crm.demands import labels as demand_labels
from crm.demands import queue
from crm.demands.labels import TASK_ROLES, TASK_STATES
from crm.extensions import db
from crm.workcal.services import current_calendar, today

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class TaskFilterForm(FlaskForm):
    """The queue's filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Number, title or firm"), validators=[Optional(), Length(max=100)])
    state = SelectField(_l("State"), default="open", validators=[Optional()])
    due = SelectField(_l("Due"), validators=[Optional()])
    role = SelectField(_l("Lead or co-handling"), validators=[Optional()])
    category_id = SelectField(_l("Category"), coerce=_int_or_none, validators=[Optional()])

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        everything = _l("All")
        self.state.choices = [
            ("open", _l("Open (pending or accepted)")),
            *TASK_STATES.items(),
            ("any", _l("Any state")),
        ]
        self.due.choices = [
            ("", _l("Any time")),
            ("overdue", _l("Overdue")),
            ("week", _l("This week")),
            *(
                (
                    str(n),
                    _l("Within %(n)s working days", n=n)
                    if n > 1
                    else _l("By the next working day"),
                )
                for n in queue.DUE_WITHIN
            ),
        ]
        self.role.choices = [("", everything), *TASK_ROLES.items()]
        self.category_id.choices = [(None, everything)] + [(c.id, c.name) for c in categories]

    def filters(self) -> queue.TaskFilter:
        """What the valid fields ask for; a field with a bad value is ignored."""
        self.validate()

        def ok(field, default=None):
            return default if field.errors or field.data in (None, "") else field.data

        return queue.TaskFilter(
            state=ok(self.state, "open"),
            due=ok(self.due, ""),
            role=ok(self.role, ""),
            category_id=ok(self.category_id),
            q=ok(self.q, ""),
        )


@bp.route("/")
@roles_required(DEPARTMENT, STREET, COMMISSIONER)
def index():
    form = TaskFilterForm(request.args, categories=queue.categories())
    day, calendar = today(), current_calendar()
    page = db.paginate(
        queue.task_query(current_user, form.filters(), today=day, calendar=calendar),
        per_page=request.args.get("per_page", type=int) or 25,
        max_per_page=100,
        error_out=False,
    )
    return render_template(
        "tasks/index.html",
        page=page,
        form=form,
        summary=queue.queue_summary(current_user, today=day),
        due={t.id: queue.due_status(t, today=day, calendar=calendar) for t in page.items},
        demand_labels=demand_labels,
    )
