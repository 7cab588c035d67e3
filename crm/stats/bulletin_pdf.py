"""A bulletin as a PDF in the layout of an official document (公文格式): the office's red
header, the issue number, a red rule, the title, numbered sections, the office and the date
at the foot.

The HTML comes from ``templates/bulletins/document.html`` and the bulletin's content alone;
it is turned into a PDF by the service packages' renderer (``crm.policies.pdf``): WeasyPrint
in a process of its own, stopped after ``PDF_RENDER_TIMEOUT`` seconds, with an embedded CJK
font and nothing fetched but the application's static files.
"""

from flask import current_app

from crm.policies.pdf import chinese_date, render_html
from crm.stats.bulletins import RANKED, percent

TEMPLATE = "bulletins/document.html"


def document_html(content: dict) -> str:
    """The document's HTML, escaped; no request is needed, so the scheduled job can too."""
    template = current_app.jinja_env.get_template(TEMPLATE)
    return template.render(c=content, ranked=RANKED, percent=percent, chinese_date=chinese_date)


def render(content: dict) -> bytes:
    """The bulletin as a PDF; ``crm.policies.pdf.RenderError`` when it cannot be made."""
    return render_html(document_html(content))
