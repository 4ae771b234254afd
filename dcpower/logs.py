"""Log lines: what they are about, JSON when asked, and never a secret.

- **Context.** Besides the request id (dcpower/request_id.py), every record carries the user
  the request authenticated as (bound where authentication succeeds: the session by
  ``LogContextMiddleware``, API tokens and JWTs by dcpower/api/authentication.py, since the API
  authenticates inside the view), the power command a worker is executing (power/tasks.py)
  and, in a Celery worker, the worker's name.
- **LOG_FORMAT=json.** ``JsonFormatter`` writes one object a line: ``time`` (UTC, ms),
  ``level``, ``logger``, ``message``, ``request_id``, ``user``, ``command_id``, ``process``,
  ``pid``, ``worker``, ``exception`` (the traceback) and every JSON-like ``extra`` field.
- **No secrets.** ``RedactSecretsFilter``, on every handler, masks API tokens, JWTs,
  Authorization header values, Fernet ciphertext and ``name=value`` pairs with a secret's
  name in the message, the traceback and string extras, and the whole value of every extra
  (or key within one) named like a secret.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import re
from datetime import UTC, datetime

from django.utils.log import log_response

_user: contextvars.ContextVar[str] = contextvars.ContextVar("log_user", default="")
_command_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "log_command_id", default=None
)
# The Celery worker's node name: one per process, set before its pool forks (never changes).
_worker_name = ""


def bind_log_user(user) -> contextvars.Token:
    """Make ``user`` (authenticated, or not: then nobody) the one log lines name."""
    authenticated = user is not None and user.is_authenticated
    return _user.set(user.get_username() if authenticated else "")


def bind_command_id(command_id: int) -> contextvars.Token:
    """Log lines written until the token is reset are about this power command."""
    return _command_id.set(command_id)


def set_worker_name(name: str) -> None:
    global _worker_name
    _worker_name = name


class LogContextMiddleware:
    """Binds the session's user for the request's log lines (the API rebinds its token's or
    JWT's), and logs the request's 4xx/5xx answer while the request id and user are bound:
    Django would log it only after every middleware has returned, without them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = bind_log_user(getattr(request, "user", None))
        try:
            response = self.get_response(request)
            if response.status_code >= 400:
                # Marks the response logged: Django's own call then does nothing.
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
            return response
        finally:
            _user.reset(token)  # also undoes what the API bound inside the view


class LogContextFilter(logging.Filter):
    """Adds ``user``, ``command_id`` and ``worker`` to every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.user = _user.get() or None
        record.command_id = _command_id.get()
        record.worker = _worker_name or None
        return True


# --- Secrets ----------------------------------------------------------------------------------

MASK = "***"
# Names whose values are secrets: in extras (any key containing one) and in "name=value" or
# '"name": "value"' text (a name ending in one).
_SECRET_WORDS = (
    r"password|passwd|passphrase|secret|credential|community|token|key|authorization|cookie"  # noqa: S105 - names, not secrets
)
_SECRET_NAME = re.compile(_SECRET_WORDS, re.IGNORECASE)
_TEXT_RULES: list[tuple[re.Pattern[str], str]] = [
    # An Authorization header's value, scheme included: "Authorization: Bearer …",
    # "'HTTP_AUTHORIZATION': 'Token …'".
    (
        re.compile(
            r"""(authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|token|basic|jwt)\s+)?[^\s"',;}]+""",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
    # An API token (dcpower/tokens.py): its public prefix is kept, it names the token.
    (re.compile(r"(?<![\w-])dcp_([0-9a-f]{12})_[\w-]+"), rf"dcp_\1_{MASK}"),
    (re.compile(r"(?<![\w-])dcp_(?![0-9a-f]{12}_\*)[\w-]+"), f"dcp_{MASK}"),
    # A JWT (header.payload.signature, base64url; the header always starts with '{"').
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), MASK),
    # Fernet ciphertext: stored credentials (dcpower/crypto.py) and bare tokens.
    (re.compile(r"fernet:[\w=-]+"), f"fernet:{MASK}"),
    (re.compile(r"\bgAAAAA[\w=-]{20,}"), MASK),
    # name=value, name: value, "name": "value" for a name that ends in a secret's word.
    (
        re.compile(
            rf"""(\b[\w-]*(?:{_SECRET_WORDS})\b["']?\s*[:=]\s*["']?)(?!\*\*\*)[^\s"',;&}}]+""",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
]
# A LogRecord's own attributes: everything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "user", "command_id", "worker", "_secrets_redacted"}


def redact_text(text: str) -> str:
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value, name: str = ""):
    """``value`` with secrets masked: all of it under a secret's name, else within it."""
    if name and _SECRET_NAME.search(name):
        return MASK if value not in (None, "") else value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in a record's message, traceback and extras, once (the record is then
    marked: every handler has this filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True  # a bad format string: the handler's formatter reports it
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _RECORD_ATTRIBUTES:
                setattr(record, name, redact_value(value, name))
        record._secrets_redacted = True
        return True


# --- JSON -------------------------------------------------------------------------------------

_JSON_TYPES = (str, int, float, bool, type(None), list, tuple, dict)


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Extras that are not JSON-like (Django's request object,
    runserver's socket) are left out rather than written as their repr."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        request_id = getattr(record, "request_id", None)
        document = {
            "time": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id if request_id not in (None, "", "-") else None,
            "user": getattr(record, "user", None),
            "command_id": getattr(record, "command_id", None),
            "process": record.processName,
            "pid": record.process,
            "worker": getattr(record, "worker", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        for name, value in record.__dict__.items():
            extra = name not in _RECORD_ATTRIBUTES and name not in document
            if extra and isinstance(value, _JSON_TYPES):
                document[name] = value
        return json.dumps(document, default=str, ensure_ascii=False)


# --- Celery -----------------------------------------------------------------------------------


def configure_celery_logging(*, loglevel=None, logfile: str | None = None) -> None:
    """Workers and beat log through settings.LOGGING (format, context, masking) instead of
    Celery's own handler, which would replace it. The worker's ``-l`` sets the level and
    ``-f`` the file, as they do with Celery's handler."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    root = logging.getLogger()
    if loglevel:
        root.setLevel(loglevel)
    if logfile:
        for console in [h for h in root.handlers if h.name == "console"]:
            to_file = logging.FileHandler(logfile)
            to_file.setFormatter(console.formatter)
            for log_filter in console.filters:
                to_file.addFilter(log_filter)
            root.removeHandler(console)
            root.addHandler(to_file)
