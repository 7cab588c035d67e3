"""Bulletins (通报): the filed ones for download, and the office's form to file or preview
one on demand.

Who: a bulletin is district-wide and issued by the office, so the office files and
previews them; the office and the district leaders (who follow the units' work) read and
download the filed ones. Streets, commissioners and departments receive bulletins through
the office's own channels, not here — the office decides whom to send a document to.

Filing on demand is for a period that has ended: a filed bulletin is never replaced, so
filing the current week would stop the scheduled job from filing the full one. A running
period can be previewed (downloaded without filing) instead.
"""

import io
from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import defer, selectinload
from wtforms import DateField, DateTimeLocalField, SelectField
from wtforms.validators import InputRequired, Optional, ValidationError

from crm.auth.permissions import LEADER, OFFICE, roles_required
from crm.extensions import db
from crm.policies.package_views import unavailable
from crm.spreadsheets import download as xlsx_download
from crm.stats import bulletins
from crm.stats.bulletin_xlsx import workbook_bytes
from crm.stats.models import MONTHLY, WEEKLY, Bulletin
from crm.timeutil import SHANGHAI, local_time, utcnow
from crm.workcal.services import today

bp = Blueprint("bulletins", __name__, url_prefix="/bulletins")

ISSUERS = (OFFICE,)
READERS = (OFFICE, LEADER)
PER_PAGE = 20
FIRST_YEAR, LAST_YEAR = 2000, 2100  # outside these a typed date is a typing error
KIND_LABELS = {WEEKLY: _l("Weekly"), MONTHLY: _l("Monthly")}


class BulletinForm(FlaskForm):
    """Which bulletin: its kind, a day within its period, and optionally the moment its
    figures are taken at (Beijing time; default now)."""

    kind = SelectField(_l("Kind"), choices=[], validators=[InputRequired()])
    day = DateField(_l("A day in the period"), validators=[InputRequired()])
    as_of = DateTimeLocalField(
        _l("Figures as of (Beijing time)"),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description=_l("Leave empty for now."),
    )
    fmt = SelectField(_l("Preview as"), choices=[], validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = list(KIND_LABELS.items())
        self.fmt.choices = [("pdf", "PDF"), ("xlsx", "Excel")]

    def validate_day(self, field):
        if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
            raise ValidationError(
                _l("Enter a date between %(a)s and %(b)s.", a=FIRST_YEAR, b=LAST_YEAR)
            )

    def validate_as_of(self, field):
        if field.data is None:
            return
        if field.data > local_time(utcnow()):
            raise ValidationError(_l("The figures cannot be taken in the future."))
        period = self.period()
        if period and field.data.date() <= period[1]:
            raise ValidationError(_l("Take the figures after the period has ended."))

    def period(self):
        """(start, end) of the chosen period, or None while kind or day is wrong."""
        if self.kind.data not in KIND_LABELS or self.day.data is None or self.day.errors:
            return None
        return bulletins.period_of(self.kind.data, self.day.data)

    def moment(self) -> datetime:
        """The as-of moment as naive UTC (now when none was given)."""
        if self.as_of.data is None:
            return utcnow()
        local = self.as_of.data.replace(tzinfo=SHANGHAI)
        return (local - local.utcoffset()).replace(tzinfo=None)


def _index(form: BulletinForm | None, status: int = 200):
    page = db.paginate(
        select(Bulletin)
        .options(
            defer(Bulletin.pdf),
            defer(Bulletin.xlsx),
            defer(Bulletin.content),
            selectinload(Bulletin.created_by),
        )
        .order_by(Bulletin.period_end.desc(), Bulletin.kind.desc(), Bulletin.id.desc()),
        per_page=PER_PAGE,
        error_out=False,
    )
    ids = [b.id for b in page.items]
    rendered = select(Bulletin.id).where(Bulletin.id.in_(ids), Bulletin.pdf.is_not(None))
    with_pdf = set(db.session.scalars(rendered)) if ids else set()
    return render_template(
        "bulletins/index.html",
        page=page,
        form=form,
        with_pdf=with_pdf,
        kind_labels=KIND_LABELS,
    ), status


def _blank_form() -> BulletinForm | None:
    if current_user.role not in ISSUERS:
        return None
    last_week = today() - timedelta(days=7)
    return BulletinForm(formdata=None, kind=WEEKLY, day=last_week)


@bp.route("/")
@roles_required(*READERS)
def index():
    return _index(_blank_form())


@bp.route("/generate", methods=["POST"])
@roles_required(*ISSUERS)
def generate():
    form = BulletinForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    start, end = form.period()
    if end >= today():
        form.day.errors.append(
            _l("This period has not ended yet: preview it instead, and file it once it is over.")
        )
        return _index(form, 422)
    existing = bulletins.filed(form.kind.data, start)
    bulletin = bulletins.file_bulletin(
        form.kind.data, start, end, form.moment(), actor=current_user
    )
    db.session.commit()
    if existing is not None:
        flash(_("That period's bulletin was filed already: it is listed here."), "info")
    elif bulletin.pdf is None:
        flash(_("Bulletin filed; its PDF could not be produced just now."), "warning")
    else:
        flash(_("Bulletin filed."), "success")
    return redirect(url_for("bulletins.index"))


def _pdf_response(pdf: bytes, name: str):
    response = send_file(
        io.BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _ascii_name(kind: str, year: int, issue: int, fmt: str) -> str:
    return f"bulletin-{kind}-{year}-{issue:02d}.{fmt}"


@bp.route("/<int:bulletin_id>.<any(pdf, xlsx):fmt>")
@roles_required(*READERS)
def download(bulletin_id: int, fmt: str):
    bulletin = db.get_or_404(Bulletin, bulletin_id)
    if fmt == "xlsx":
        return xlsx_download(
            io.BytesIO(bulletin.xlsx),
            f"{bulletin.title}.xlsx",
            _ascii_name(bulletin.kind, bulletin.year, bulletin.issue, "xlsx"),
        )
    if bulletin.pdf is None:
        # Filed while the renderer failed: made now from the same content, and kept.
        pdf = bulletins.render_pdf(bulletin.content)
        if pdf is None:
            return unavailable()
        bulletin.pdf = pdf
        db.session.commit()
    return _pdf_response(bulletin.pdf, f"{bulletin.title}.pdf")


@bp.route("/preview")
@roles_required(*ISSUERS)
def preview():
    """Any period's bulletin as of now (or a given moment), downloaded without filing."""
    form = BulletinForm(request.args, meta={"csrf": False})
    if not form.validate():
        return _index(form, 422)
    kind = form.kind.data
    start, end = form.period()
    content = bulletins.build_content(kind, start, end, form.moment())
    year, issue = content["year"], content["issue"]
    name = f"{content['title']}（预览）"
    if form.fmt.data == "xlsx":
        return xlsx_download(
            io.BytesIO(workbook_bytes(content)),
            f"{name}.xlsx",
            "preview-" + _ascii_name(kind, year, issue, "xlsx"),
        )
    pdf = bulletins.render_pdf(content)
    if pdf is None:
        return unavailable()
    return _pdf_response(pdf, f"{name}.pdf")
