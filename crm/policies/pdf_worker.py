"""The PDF renderer's own process: ``python -m crm.policies.pdf_worker``.

It imports WeasyPrint once and then renders one HTML document after another, read from
standard input and answered on standard output (see ``read_frame``/``write_frame``). It
imports nothing of the application but this module, so it holds no database connection
and no request, and the process that started it can kill it when a render runs too long:
WeasyPrint itself cannot be interrupted.

Whatever a document refers to goes through ``StaticOnlyFetcher``: files under the static
folder are served, anything else (``file:///etc/passwd``, ``http://…``, ``data:``) is
refused. Text a user typed is escaped by Jinja before it gets here: it is printed, not
fetched.
"""

import json
import mimetypes
import struct
import sys
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

OK, FAILED = b"0", b"1"
_LENGTH = struct.Struct(">I")


class StaticOnlyFetcher(URLFetcher):
    """Serves ``file:`` URLs inside ``root`` (the static folder) and refuses any other."""

    def __init__(self, root: str | Path):
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.root = Path(root).resolve()

    def path_of(self, url: str) -> Path:
        """The file ``url`` names, when it is inside the static folder; else refused."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise URLFetchingError(f"refused, not a static file: {url[:200]}")
        path = Path(unquote(parts.path)).resolve()  # resolves "..", and symlinks out
        if not path.is_relative_to(self.root) or not path.is_file():
            raise URLFetchingError(f"refused, outside the static folder: {url[:200]}")
        return path

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        path = self.path_of(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})


def write_pdf(html: str, static_root: str, fetcher: URLFetcher | None = None) -> bytes:
    """HTML to PDF, relative references resolved in (and confined to) the static folder."""
    from weasyprint import HTML

    root = Path(static_root).resolve()
    return HTML(
        string=html,
        base_url=root.as_uri() + "/",
        url_fetcher=fetcher or StaticOnlyFetcher(root),
    ).write_pdf()


# -- the pipe between the two processes: a status byte (replies only), a length, the bytes


def write_frame(stream: BinaryIO, payload: bytes, status: bytes = b"") -> None:
    stream.write(status + _LENGTH.pack(len(payload)) + payload)
    stream.flush()


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise EOFError("the other end closed the pipe")
    return data


def read_frame(stream: BinaryIO) -> bytes:
    (size,) = _LENGTH.unpack(read_exactly(stream, _LENGTH.size))
    return read_exactly(stream, size)


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Render until the parent closes the pipe."""
    while True:
        try:
            job = json.loads(read_frame(requests))
        except EOFError:
            return
        try:
            pdf = write_pdf(job["html"], job["static_root"])
        except Exception as exc:  # reported to the parent, which raises it there
            write_frame(replies, f"{type(exc).__name__}: {exc}".encode(), FAILED)
        else:
            write_frame(replies, pdf, OK)


def main() -> None:
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
