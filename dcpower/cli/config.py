"""Where the CLI keeps the server's URL and the user's credentials.

One JSON file, ``credentials.json`` in the user's config directory (``typer.get_app_dir``:
``~/.config/dcpower`` on Linux), readable by its owner only (file 0600, directory 0700),
written atomically so that a refresh interrupted half-way never leaves half a file. It holds
either a JWT pair (``dcpower login``) or an API token (``dcpower login --token``).

Scripts set the environment instead: ``DCPOWER_URL`` and ``DCPOWER_TOKEN`` take precedence
over the file, and ``DCPOWER_CONFIG_DIR`` moves the file (the tests use it).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import typer

from dcpower.cli.errors import AuthFailed, UsageError

ENV_URL = "DCPOWER_URL"
ENV_TOKEN = "DCPOWER_TOKEN"  # noqa: S105 - the name of a variable, not a secret
ENV_CONFIG_DIR = "DCPOWER_CONFIG_DIR"
FILE_NAME = "credentials.json"
API_PREFIX = "/api/v1"

JWT = "jwt"
TOKEN = "token"  # noqa: S105 - a kind of credential, not a secret


@dataclass
class Credentials:
    """A server and how to authenticate to it. ``repr`` never shows a secret."""

    url: str
    kind: str  # JWT or TOKEN
    username: str = ""
    access: str = field(default="", repr=False)
    refresh: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    from_file: bool = field(default=False, repr=False, compare=False)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("from_file")
        return data


def config_dir() -> Path:
    return Path(os.environ.get(ENV_CONFIG_DIR) or typer.get_app_dir("dcpower"))


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


def normalize_url(url: str) -> str:
    """``https://dcpower.example/`` or ``…/api/v1/`` → ``https://dcpower.example``."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"Not an http(s) URL: {url!r} (e.g. https://dcpower.example).")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


def load() -> Credentials | None:
    path = credentials_path()
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuthFailed(
            f"Cannot read {path} ({exc}); run `dcpower login` to write it again."
        ) from None
    try:
        credentials = Credentials(**raw)
    except TypeError:
        raise AuthFailed(
            f"{path} is not a dcpower credentials file; run `dcpower login` to write it again."
        ) from None
    credentials.from_file = True
    return credentials


def save(credentials: Credentials) -> Path:
    """Write the file atomically, owner-only (0600 in a 0700 directory)."""
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / FILE_NAME
    # mkstemp creates the file 0600 before anything is written to it.
    handle, temporary = tempfile.mkstemp(prefix=".credentials-", dir=directory)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(credentials.to_json(), out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    credentials.from_file = True
    return path


def remove() -> Credentials | None:
    """Delete the stored credentials; what was stored, or None."""
    stored = load()
    credentials_path().unlink(missing_ok=True)
    return stored


def effective_url(explicit: str | None = None) -> str | None:
    """The server to talk to: an explicit ``--url``, else $DCPOWER_URL, else the stored one."""
    if explicit:
        return normalize_url(explicit)
    if os.environ.get(ENV_URL):
        return normalize_url(os.environ[ENV_URL])
    stored = load()
    return stored.url if stored else None


def effective_credentials() -> Credentials:
    """How to authenticate: $DCPOWER_TOKEN (an API token), else the stored credentials, for
    the effective URL only: credentials stored for one server are never sent to another."""
    url = effective_url()
    if url is None:
        raise AuthFailed(
            f"No dcpower server configured: run `dcpower login --url URL` or set {ENV_URL}."
        )
    if os.environ.get(ENV_TOKEN):
        return Credentials(url=url, kind=TOKEN, token=os.environ[ENV_TOKEN].strip())
    stored = load()
    if stored is None:
        raise AuthFailed(f"Not logged in to {url}: run `dcpower login`.")
    if stored.url != url:
        raise AuthFailed(
            f"Logged in to {stored.url}, not to {url} ({ENV_URL}): "
            f"run `dcpower login --url {url}`, or set {ENV_TOKEN}."
        )
    return stored
