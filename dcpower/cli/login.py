"""``dcpower login`` and ``logout``: get credentials, check them, store them owner-only."""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

import typer

from dcpower.cli import client as api
from dcpower.cli import config
from dcpower.cli.errors import AuthFailed, PermissionDenied, UsageError
from dcpower.cli.render import Output


def login(
    out: Output,
    *,
    url: str | None,
    username: str | None,
    token: bool,
    stdin: bool,
) -> None:
    server = config.effective_url(url)
    if server is None:
        raise UsageError(
            f"Which server? `dcpower login --url https://…` (or set {config.ENV_URL})."
        )
    if out.json and not stdin:
        raise UsageError("--json prints no prompt: give the secret on stdin with --stdin.")
    if out.json and not token and not username:
        raise UsageError("--json prints no prompt: give --username.")
    if not _is_private(server):
        out.note(f"Warning: {server} is plain HTTP: secrets cross the network unencrypted.")
    if token:
        credentials = config.Credentials(
            url=server, kind=config.TOKEN, token=_secret("API token", stdin=stdin)
        )
        _check_token(out, credentials)
    else:
        username = username or typer.prompt("User name")
        credentials = api.login(server, username, _secret("Password", stdin=stdin))
    path = config.save(credentials)
    who = f" as {credentials.username}" if credentials.username else " with an API token"
    if out.json:
        out.emit_json(
            {
                "url": server,
                "kind": credentials.kind,
                "username": credentials.username,
                "credentials_file": str(path),
            }
        )
    else:
        out.note(f"Logged in to {server}{who}; credentials in {path} (owner only).", style="")
    if os.environ.get(config.ENV_TOKEN):
        out.note(f"Note: {config.ENV_TOKEN} is set and takes precedence over these credentials.")


def logout(out: Output) -> None:
    path = config.credentials_path()
    stored = config.remove()
    if out.json:
        out.emit_json({"logged_out": stored is not None, "url": stored.url if stored else None})
    elif stored is None:
        out.note(f"Not logged in (no {path}).", style="")
    else:
        out.note(f"Logged out of {stored.url}: removed {path}.", style="")
        if stored.kind == config.TOKEN:
            out.note(
                "The API token itself stays valid until it expires or is revoked "
                "(POST /api/v1/tokens/{id}/revoke/)."
            )


def _secret(prompt: str, *, stdin: bool) -> str:
    if stdin:
        secret = typer.get_text_stream("stdin").readline().strip()
    else:
        secret = typer.prompt(prompt, hide_input=True).strip()
    if not secret:
        raise UsageError(f"No {prompt.lower()} given.")
    return secret


def _check_token(out: Output, credentials: config.Credentials) -> None:
    """Refuse to store a token the server refuses."""
    with api.Client(credentials) as client:
        try:
            client.get(f"{api.API}/sites/", {"limit": 1})
        except AuthFailed as exc:
            detail = exc.data.get("detail") or "refused"
            raise AuthFailed(f"The server refused the API token: {detail}") from None
        except PermissionDenied:
            out.note("Warning: the token works, but its user has no role: it can read nothing.")


def _is_private(url: str) -> bool:
    """HTTPS, or plain HTTP to a loopback address or localhost (nothing crosses a network)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
