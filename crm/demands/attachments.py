"""Files attached to demands: checked by content, stored outside the web root under
generated names, served only as downloads.

A file's type is judged by its first bytes, never by its name or the browser's claim: an
executable renamed ``.pdf`` or a page of HTML or SVG (which a browser would run) is refused.
The uploader's file name is kept as metadata only, for the download's name.
"""

import hashlib
import io
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from crm.auth.models import User
from crm.demands import states
from crm.demands.models import Attachment, Demand, DemandEvent
from crm.extensions import db

DEFAULT_MAX_MB = 10
MAX_FILES = 10
_CHUNK = 64 * 1024
# Markup a browser would render or run if it ever opened the file inline.
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|object|embed|\?xml)", re.I)
_OOXML_PARTS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
_OOXML_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


class AttachmentError(Exception):
    """A file that may not be attached; ``status`` is 413 for one that is too large."""

    def __init__(self, message, status: int = 422):
        super().__init__(str(message))
        self.message = str(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """A checked file, held in memory until it is stored."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def max_mb() -> float:
    return float(current_app.config.get("ATTACHMENT_MAX_MB", DEFAULT_MAX_MB))


def max_bytes() -> int:
    return int(max_mb() * 1024 * 1024)


def storage_dir() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "attachments"


def path_of(attachment: Attachment) -> Path:
    return storage_dir() / attachment.stored_name


# -- checking ---------------------------------------------------------------------------


def check_uploads(files: list[FileStorage]) -> list[Upload]:
    """Read and check every chosen file; ``AttachmentError`` for the first one refused.

    Empty file inputs (nothing chosen) are skipped.
    """
    chosen = [f for f in files if f is not None and f.filename]
    if len(chosen) > MAX_FILES:
        raise AttachmentError(_l("Attach at most %(n)s files at a time.", n=MAX_FILES))
    return [check_upload(f) for f in chosen]


def check_upload(storage: FileStorage) -> Upload:
    name = clean_filename(storage.filename or "")
    data = _read_limited(storage, name)
    if not data:
        raise AttachmentError(_l("%(name)s is empty.", name=name))
    content_type = sniff(data)
    if content_type is None:
        raise AttachmentError(
            _l(
                "%(name)s is not a file type we accept. Attach PDF, images (PNG, JPEG, GIF), "
                "Word, Excel or PowerPoint documents, or plain text.",
                name=name,
            )
        )
    return Upload(filename=name, content_type=content_type, data=data)


def _read_limited(storage: FileStorage, name: str) -> bytes:
    limit = max_bytes()
    buffer = io.BytesIO()
    while chunk := storage.stream.read(_CHUNK):
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise AttachmentError(
                _l("%(name)s is larger than %(mb)s MB.", name=name, mb=f"{max_mb():g}"),
                status=413,
            )
    return buffer.getvalue()


def sniff(data: bytes) -> str | None:
    """The content type ``data`` really is, among those accepted; None for anything else."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # OLE2 compound file: legacy .doc, .xls and .ppt.
        return "application/x-ole-storage"
    if head.startswith(b"PK\x03\x04"):
        return _ooxml_type(data)
    return _text_type(data)


def _ooxml_type(data: bytes) -> str | None:
    """A ZIP is accepted only as an Office Open XML document, not as any archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, kind in _OOXML_PARTS.items():
        if any(n.startswith(prefix) for n in names):
            return _OOXML_TYPES[kind]
    return None


def _text_type(data: bytes) -> str | None:
    """Plain text in UTF-8 or GB 18030: no NUL or other control bytes, and no markup."""
    if b"\x00" in data or any(b < 0x20 and b not in b"\t\n\r\x0c" for b in data[:65536]):
        return None
    if _MARKUP.search(data[:4096]):
        return None
    for encoding, charset in (("utf-8-sig", "utf-8"), ("gb18030", "gb18030")):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return f"text/plain; charset={charset}"
    return None


def clean_filename(name: str) -> str:
    """The uploader's name without folders, control characters or quotes, for display."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '"<>|*?:')
    name = name.strip(" .")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 190 - len(ext)] + dot + ext) if dot and len(ext) <= 8 else name[:200]
    return name or "attachment"


# -- storing ----------------------------------------------------------------------------


def write_file(folder: Path, upload: Upload) -> str:
    """Write a checked file into ``folder`` under a new random name; that name."""
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16)
    # "x": never overwrite, however unlikely a collision of 128 random bits is.
    with open(folder / stored_name, "xb") as fh:
        fh.write(upload.data)
    return stored_name


def store(
    demand: Demand,
    uploads: list[Upload],
    *,
    actor: User,
    internal: bool = False,
    event: DemandEvent | None = None,
) -> list[Attachment]:
    """Write the files under generated names and add their rows to the session.

    The caller commits; if that fails it calls ``discard`` so no orphan file stays behind.
    """
    folder = storage_dir()
    rows = []
    for upload in uploads:
        stored_name = write_file(folder, upload)
        row = Attachment(
            demand=demand,
            event_id=event.id if event is not None else None,
            filename=upload.filename,
            stored_name=stored_name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
            uploaded_by_id=actor.id,
            internal=internal,
        )
        db.session.add(row)
        rows.append(row)
    return rows


def discard(rows: list[Attachment]) -> None:
    """Remove the files of rows whose transaction did not commit."""
    for row in rows:
        path_of(row).unlink(missing_ok=True)


def add_attachments(
    demand: Demand, uploads: list[Upload], *, actor: User, internal: bool = False
) -> list[Attachment]:
    """Attach files to an existing demand, with a line on its timeline.

    Staff who may write notes on the demand may attach files to it, in the same states;
    the firm may attach files to its own demand while it may write to its handlers, and
    what it sends is never internal.
    """
    from crm.demands.services import DemandError

    firm = actor.role == states.FIRM
    try:
        states.check("message" if firm else "note", demand.state, actor.role)
    except states.TransitionError as exc:
        raise DemandError(_l("Your role may not attach files to this demand."), "files") from exc
    if firm and actor.firm_id != demand.firm_id:
        raise DemandError(_l("This demand is not one of yours."), "files", code="role")
    internal = internal and not firm
    if not uploads:
        raise DemandError(_l("Choose at least one file."), "files")
    event = DemandEvent(
        demand=demand,
        kind="attachment_added",
        actor_id=actor.id,
        internal=internal,
        data={"files": [u.filename for u in uploads]},
    )
    db.session.add(event)
    db.session.flush()
    return store(demand, uploads, actor=actor, internal=internal, event=event)
