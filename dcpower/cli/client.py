"""The only module that speaks HTTP: an httpx client for dcpower's REST API.

It sends the credentials (``Token dcp_…`` or ``Bearer <access JWT>``), refreshes an expired
access token with the refresh token (before sending when its ``exp`` has passed, and once
more on a 401) and stores the new pair, and turns every failure into a ``CliError`` with its
exit status: the rest of the CLI never sees an httpx exception or a status code.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from dcpower.cli import config
from dcpower.cli.errors import (
    AuthFailed,
    BadRequest,
    CliError,
    Conflict,
    NetworkError,
    NotFound,
    PermissionDenied,
    RateLimited,
    Refused,
    ServerError,
    UsageError,
)

API = config.API_PREFIX
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
REFRESH_MARGIN_S = 20  # refresh an access token this close to its expiry
RETRY_STATUSES = {502, 503, 504}  # a proxy in front of dcpower, or a restart
RETRY_BACKOFF_S = (0.5, 1.5)
PAGE_LIMIT = 1000  # the API's largest page


class Client:
    """One server, one set of credentials; use as a context manager."""

    def __init__(self, credentials: config.Credentials) -> None:
        self.credentials = credentials
        self.request_id = f"cli-{uuid.uuid4().hex[:16]}"  # ties this run's requests together
        self._http = httpx.Client(
            base_url=credentials.url,
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            headers={
                "Accept": "application/json",
                "User-Agent": "dcpower-cli",
                "X-Request-ID": self.request_id,
            },
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self._http.close()

    # --- Requests --------------------------------------------------------------------------

    def get(self, path: str, params: dict | None = None, **options) -> Any:
        return _json_of(self.request("GET", path, params=params, **options))

    def post(self, path: str, body: dict, **options) -> Any:
        return _json_of(self.request("POST", path, json=body, **options))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: dict | None = None,
        headers: dict | None = None,
        timeout_s: float | None = None,
        retries: int = 0,
    ) -> httpx.Response:
        """Send with the credentials and answer the 2xx response, or raise its CliError.

        ``retries``: how often to send again after a broken connection or a 502/503/504; only
        for requests that are safe to repeat (reads, and power requests that carry an
        Idempotency-Key, which the server answers with the same command)."""
        for attempt in range(retries + 1):
            try:
                response = self._authenticated(method, path, params, json, headers, timeout_s)
            except NetworkError:
                if attempt == retries:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt == retries:
                    break
            time.sleep(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)])
        if response.is_success:
            return response
        raise error_for(response, credentials=self.credentials)

    def list_all(self, path: str, params: dict | None = None, *, limit: int | None = None) -> list:
        """Every object of a list endpoint (all pages), or the first ``limit``."""
        return list(self._iterate(path, dict(params or {}), limit))

    def _iterate(self, path: str, params: dict, limit: int | None) -> Iterator[dict]:
        offset, seen = 0, 0
        while True:
            page_limit = min(PAGE_LIMIT, limit - seen) if limit is not None else PAGE_LIMIT
            page = self.get(path, {**params, "limit": page_limit, "offset": offset})
            for item in page["results"]:
                yield item
                seen += 1
            offset += len(page["results"])
            if (
                not page["results"]
                or offset >= page["count"]
                or (limit is not None and seen >= limit)
            ):
                return

    # --- Authentication --------------------------------------------------------------------

    def _authenticated(self, method, path, params, body, headers, timeout_s) -> httpx.Response:
        credentials = self.credentials
        if credentials.kind == config.JWT and jwt_expires_soon(credentials.access):
            self.refresh()
        response = self._send(method, path, params, body, headers, timeout_s, auth=True)
        if response.status_code == 401 and credentials.kind == config.JWT:
            # The access token was refused although it looked valid (clock skew, a new
            # SECRET_KEY, a forged file): one refresh, one more try.
            self.refresh()
            response = self._send(method, path, params, body, headers, timeout_s, auth=True)
        return response

    def refresh(self) -> None:
        """Trade the refresh token for a new pair (the server replaces the refresh token
        too) and store it where it came from."""
        credentials = self.credentials
        if not credentials.refresh:
            raise AuthFailed("Your session has expired: run `dcpower login`.")
        response = self._send(
            "POST",
            f"{API}/auth/jwt/refresh/",
            None,
            {"refresh": credentials.refresh},
            None,
            None,
            auth=False,
        )
        if response.status_code in (400, 401):
            raise AuthFailed(f"Your session on {credentials.url} has expired: run `dcpower login`.")
        if not response.is_success:
            raise error_for(response, credentials=credentials)
        pair = _json_of(response)
        credentials.access = pair["access"]
        credentials.refresh = pair.get("refresh", credentials.refresh)
        if credentials.from_file:
            config.save(credentials)

    def _authorization(self) -> str:
        credentials = self.credentials
        if credentials.kind == config.TOKEN:
            return f"Token {credentials.token}"
        return f"Bearer {credentials.access}"

    def _send(self, method, path, params, body, headers, timeout_s, *, auth) -> httpx.Response:
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = self._authorization()
        timeout = (
            httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S) if timeout_s is not None else None
        )
        try:
            return self._http.request(
                method,
                path,
                params=params,
                json=body,
                headers=all_headers,
                **({"timeout": timeout} if timeout is not None else {}),
            )
        except httpx.HTTPError as exc:
            raise network_error(exc, self.credentials.url) from None


def login(url: str, username: str, password: str) -> config.Credentials:
    """A JWT pair for the user's name and password (POST /api/v1/auth/jwt/)."""
    credentials = config.Credentials(url=url, kind=config.JWT, username=username)
    with Client(credentials) as client:
        response = client._send(
            "POST",
            f"{API}/auth/jwt/",
            None,
            {"username": username, "password": password},
            None,
            None,
            auth=False,
        )
    if response.status_code in (400, 401):
        detail = _detail(_json_body(response)) or "wrong user name or password"
        raise AuthFailed(f"Login to {url} as {username!r} failed: {detail}")
    if not response.is_success:
        raise error_for(response, credentials=credentials)
    pair = _json_of(response)
    credentials.access, credentials.refresh = pair["access"], pair["refresh"]
    return credentials


def jwt_expires_soon(token: str, *, margin_s: float = REFRESH_MARGIN_S) -> bool:
    """Whether a JWT's ``exp`` claim is past or within ``margin_s`` (read, not verified:
    the server verifies; this only saves a round trip that would be refused). A token that
    cannot be read counts as expired."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) < time.time() + margin_s
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return True


# --- Errors ----------------------------------------------------------------------------------


def network_error(exc: httpx.HTTPError, url: str) -> CliError:
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return UsageError(f"Bad server URL {url!r}: {exc}")
    if _is_tls(exc):
        return NetworkError(f"TLS failure talking to {url}: {_reason(exc)}")
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkError(f"Timed out connecting to {url} (after {CONNECT_TIMEOUT_S:g} s).")
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"Timed out waiting for {url} to answer.")
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"Cannot connect to {url}: {_reason(exc)}")
    return NetworkError(f"Connection to {url} failed: {_reason(exc)}")


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSL" in str(exc) or "CERTIFICATE" in str(exc)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _json_of(response: httpx.Response) -> Any:
    """A 2xx answer's JSON; anything else (a proxy's HTML page) is the server's failure."""
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with something that is not JSON "
            f"({response.headers.get('Content-Type', 'no content type')})."
        ) from None


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data["detail"]
    return ""


def field_errors(data: Any) -> str:
    """``{"reason": ["This field is required."]}`` → ``reason: This field is required.``"""
    if isinstance(data, dict):
        parts = []
        for name, messages in data.items():
            text = " ".join(messages) if isinstance(messages, list) else str(messages)
            parts.append(text if name in ("detail", "non_field_errors") else f"{name}: {text}")
        return "; ".join(parts)
    if isinstance(data, list):
        return "; ".join(field_errors(item) for item in data if item)
    return str(data)


def describe_refusals(refusals: list[dict]) -> str:
    """The guardrails' explanation, and what would get past them."""
    messages = " ".join(refusal["message"] for refusal in refusals)
    if refusals and all(refusal.get("overridable") for refusal in refusals):
        return f"{messages} (Here: add --force, with a --reason.)"
    return f"{messages} This cannot be overridden with --force."


def error_for(response: httpx.Response, *, credentials: config.Credentials) -> CliError:
    status = response.status_code
    data = _json_body(response)
    detail = _detail(data)
    where = f"{response.request.method} {response.request.url.path}"
    if status == 400:
        return BadRequest(
            f"The server refused the request: {field_errors(data)}", data={"errors": data}
        )
    if status == 401:
        how = (
            f"check {config.ENV_TOKEN}"
            if credentials.kind == config.TOKEN and not credentials.from_file
            else "run `dcpower login`"
        )
        return AuthFailed(
            f"Authentication failed ({detail or 'not authenticated'}): {how}.",
            data={"detail": detail},
        )
    if status == 403:
        return PermissionDenied(
            "Permission denied (your roles do not allow this here, or not at this site): "
            f"{detail or where}"
        )
    if status == 404:
        return NotFound(f"Not found: {detail or where}")
    if status == 409 and isinstance(data, dict) and "refusals" in data:
        return Refused(
            f"Refused by the guardrails: {describe_refusals(data['refusals'])}",
            data={"refusals": data["refusals"], "blast_radius": data.get("blast_radius")},
        )
    if status == 409 and isinstance(data, dict) and data.get("command"):
        return Conflict(
            f"{detail} See `dcpower command show {data['command']}`.",
            data={"command": data["command"]},
        )
    if status == 409:
        return Conflict(f"Conflict: {detail or where}")
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        wait = f"try again in {retry_after} s" if retry_after else "try again later"
        return RateLimited(
            f"Too many requests: {wait}." + (f" ({detail})" if detail else ""),
            data={"retry_after": retry_after},
        )
    request_id = response.headers.get("X-Request-ID", "")
    return ServerError(
        f"The server answered {status} to {where}: {detail or response.reason_phrase}"
        + (f" (request id {request_id})" if request_id else "")
    )
