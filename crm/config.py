"""Configuration read from the environment and the instance folder.

Nothing secret is written in code: the secret key comes from ``SECRET_KEY`` or is
generated once into ``instance/secret_key`` and reused by every later process.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    # O_EXCL: when two processes start at once, one writes and both read the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'crm.sqlite3'}"
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(instance_path: Path) -> dict:
    instance_path.mkdir(parents=True, exist_ok=True)
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "UPLOAD_FOLDER": str(instance_path / "uploads"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        "ATTACHMENT_MAX_MB": float(os.environ.get("ATTACHMENT_MAX_MB", "10")),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh_CN", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        # How many reverse proxies stand in front (X-Forwarded-For is trusted that deep), so
        # the audit log records the client's address rather than the proxy's.
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        # The server-side session record is what enforces these; see crm.auth.sessions.
        "SESSION_IDLE_LIMIT": timedelta(minutes=30),
        "SESSION_ABSOLUTE_LIMIT": timedelta(hours=12),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCKOUT": timedelta(minutes=30),
        "FIRMS_PER_PAGE": 25,
        "PASSWORD_HASH_METHOD": "scrypt",
        # Notifications by email; without MAIL_SERVER they are written to the log.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "0") == "1",
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "crm@localhost"),
        # How often `crm schedule-sweep` queues the escalation sweep (with REDIS_URL).
        "SWEEP_INTERVAL_SECONDS": int(os.environ.get("SWEEP_INTERVAL_SECONDS", "300")),
        # What a service package tells the firm about the office and how to reach it.
        "OFFICE_NAME": os.environ.get("OFFICE_NAME", "区投资促进办公室"),
        "HOTLINE": os.environ.get("HOTLINE", "12345"),
        # The portal's address as firms type it; printed on packages (jobs have no request).
        "PORTAL_URL": os.environ.get("PORTAL_URL", ""),
        # A package PDF that takes longer than this to render is abandoned.
        "PDF_RENDER_TIMEOUT": float(os.environ.get("PDF_RENDER_TIMEOUT", "30")),
    }
