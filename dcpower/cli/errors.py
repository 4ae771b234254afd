"""Exit statuses and the errors that end a command with one of them.

Every failure the CLI expects (the server's 4xx and 5xx, the network, a refusal, a usage
mistake) is a ``CliError``: the app prints its one-line message to stderr (and, with
``--json``, its JSON form to stdout) and exits with its status. No traceback.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The documented exit statuses (docs/cli.md#exit-statuses)."""

    OK = 0
    OUTLETS_FAILED = 1  # the command ran and not every outlet was verified to succeed
    USAGE = 2  # bad arguments or options, or the server refused the input (400)
    REFUSED = 3  # a guardrail refused the action (protected host, last live supply, locked)
    AUTH = 4  # not logged in, bad or expired credentials (401)
    PERMISSION = 5  # the user's roles do not allow it at that site (403)
    NOT_FOUND = 6  # no such host, rack, PDU, outlet, site or command (404)
    NETWORK = 7  # connection refused, timeout, TLS failure
    CONFLICT = 8  # an outlet is held by another running command, or another 409
    RATE_LIMITED = 9  # too many power requests (429)
    SERVER = 10  # the server failed (5xx) or answered something unexpected
    ABORTED = 11  # the confirmation was declined: nothing was done
    UNFINISHED = 12  # stopped following before the command finished; it goes on
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """An expected failure: a one-line message and an exit status."""

    exit_code: ExitCode = ExitCode.SERVER
    kind = "error"

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data or {}  # extra machine-readable detail for --json

    def as_json(self) -> dict[str, Any]:
        return {
            "error": {
                "kind": self.kind,
                "exit_code": int(self.exit_code),
                "message": self.message,
                **self.data,
            }
        }


class UsageError(CliError):
    exit_code, kind = ExitCode.USAGE, "usage"


class BadRequest(UsageError):
    kind = "bad_request"


class Refused(CliError):
    exit_code, kind = ExitCode.REFUSED, "refused"


class AuthFailed(CliError):
    exit_code, kind = ExitCode.AUTH, "authentication"


class PermissionDenied(CliError):
    exit_code, kind = ExitCode.PERMISSION, "permission"


class NotFound(CliError):
    exit_code, kind = ExitCode.NOT_FOUND, "not_found"


class NetworkError(CliError):
    exit_code, kind = ExitCode.NETWORK, "network"


class Conflict(CliError):
    exit_code, kind = ExitCode.CONFLICT, "conflict"


class RateLimited(CliError):
    exit_code, kind = ExitCode.RATE_LIMITED, "rate_limited"


class ServerError(CliError):
    exit_code, kind = ExitCode.SERVER, "server"


class Aborted(CliError):
    exit_code, kind = ExitCode.ABORTED, "aborted"


class Unfinished(CliError):
    exit_code, kind = ExitCode.UNFINISHED, "unfinished"


class Interrupted(CliError):
    exit_code, kind = ExitCode.INTERRUPTED, "interrupted"
