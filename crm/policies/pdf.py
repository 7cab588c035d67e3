"""A service package as a PDF (DESIGN §7, §10): WeasyPrint, an embedded CJK font, and
nothing fetched but the application's own static files.

The HTML is built here, with Jinja, from the package's snapshot; WeasyPrint turns it into
a PDF in a process of its own (``crm.policies.pdf_worker``), started once and kept for
the next render. WeasyPrint cannot be interrupted inside a thread, so a render that runs
past ``PDF_RENDER_TIMEOUT`` seconds is stopped by killing that process; the next render
starts a new one. The worker is started with ``python -m`` rather than forked or spawned
by multiprocessing, which would run the caller's ``__main__`` again in the child.

Text a user typed — a firm's name, a policy's benefits — reaches WeasyPrint escaped, as
text: it is printed, never fetched. What the template refers to goes through
``pdf_worker.StaticOnlyFetcher``, which serves the static folder and refuses the rest.
"""

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from datetime import date, datetime

from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from crm import ROOT
from crm.extensions import db
from crm.policies import pdf_worker
from crm.policies.models import PackageDocument, ServicePackage
from crm.timeutil import local_time, utcnow

TEMPLATE = "packages/pdf.html"


class RenderError(RuntimeError):
    """WeasyPrint failed, or its process died; the message says how."""


class RenderTimeout(RenderError):
    """The PDF took longer than ``PDF_RENDER_TIMEOUT`` seconds; its renderer was stopped."""


class _Worker:
    """The rendering process of this process: one render at a time, killed on a timeout."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._owner = 0  # the pid that started it: a forked copy of us starts its own
        self._lock = threading.Lock()
        atexit.register(self.stop)

    def _running(self) -> subprocess.Popen:
        process = self._process
        if process is None or process.poll() is not None or self._owner != os.getpid():
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", pdf_worker.__name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            self._process, self._owner = process, os.getpid()
        return process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or self._owner != os.getpid():
            return
        process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()

    def render(self, html: str, static_root: str, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=timeout):
            raise RenderTimeout(f"the PDF renderer stayed busy for {timeout:g} s")
        try:
            process = self._running()
            job = json.dumps({"html": html, "static_root": static_root}).encode()
            try:
                pdf_worker.write_frame(process.stdin, job)
                status, payload = _reply(process.stdout.fileno(), deadline)
            except TimeoutError:
                self.stop()
                raise RenderTimeout(f"the PDF was not rendered within {timeout:g} s") from None
            except (EOFError, BrokenPipeError) as exc:
                self.stop()
                raise RenderError(f"the PDF renderer stopped: {exc}") from None
        finally:
            self._lock.release()
        if status != pdf_worker.OK:
            raise RenderError(payload.decode(errors="replace"))
        return payload


def _reply(fd: int, deadline: float) -> tuple[bytes, bytes]:
    """Read one reply frame from ``fd``, giving up (TimeoutError) at ``deadline``."""
    buffer = b""
    wanted = 1 + 4
    while len(buffer) < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(fd, max(wanted - len(buffer), 65536))
        if not chunk:
            raise EOFError("the PDF renderer closed its output")
        buffer += chunk
        if len(buffer) >= 5 and wanted == 5:
            wanted = 5 + int.from_bytes(buffer[1:5], "big")
    return buffer[:1], buffer[5:wanted]


_worker = _Worker()


def render_html(html: str, *, timeout: float | None = None) -> bytes:
    """Render ``html`` within ``timeout`` seconds (default ``PDF_RENDER_TIMEOUT``)."""
    if timeout is None:
        timeout = current_app.config["PDF_RENDER_TIMEOUT"]
    return _worker.render(html, str(current_app.static_folder), timeout)


def chinese_date(value: str | date | None) -> str:
    """2026-03-01 as 2026年3月1日, the way a formal document writes a date."""
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日"


def issued_day(issued_at: str) -> str:
    """The snapshot's UTC issue time as the day in Shanghai."""
    return chinese_date(local_time(datetime.fromisoformat(issued_at)).date())


def package_html(snapshot: dict) -> str:
    """The document's HTML, escaped as every .html template is. Straight from the Jinja
    environment: no request or context processor is needed, so a background job can too."""
    template = current_app.jinja_env.get_template(TEMPLATE)
    return template.render(p=snapshot, chinese_date=chinese_date, issued_day=issued_day)


def render_snapshot(snapshot: dict) -> bytes:
    """The package as issued, as a PDF. Needs an application context."""
    return render_html(package_html(snapshot))


def document_for(package: ServicePackage) -> PackageDocument:
    """The package's PDF: rendered from its snapshot and stored the first time it is asked
    for, read back every time after. Two first requests at once store one of the two."""
    document = db.session.get(PackageDocument, package.id)
    if document is not None:
        return document
    started = time.monotonic()
    pdf = render_snapshot(package.snapshot)
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(
        dialect.insert(PackageDocument)
        .values(
            package_id=package.id,
            pdf=pdf,
            rendered_at=utcnow(),
            render_ms=round((time.monotonic() - started) * 1000),
        )
        .on_conflict_do_nothing(index_elements=["package_id"])
    )
    return db.session.get(PackageDocument, package.id)
