"""API tokens (dcpower.models.ApiToken): made, checked and revoked here.

A token reads ``dcp_<prefix>_<secret>``: the prefix finds the row, the whole token is
compared by its SHA-256 hash, in constant time. The plaintext exists only in the answer that
creates it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from dcpower.db import Beside, read_instances
from dcpower.models import ApiToken

PREFIX = "dcp_"
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class TokenRefused(Exception):
    """A token that does not let its holder in, and why (for the 401's message)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(
    *, user, name: str, expires_at=None, read_only=False, allowed_networks=()
) -> tuple[ApiToken, str]:
    """A new token and its plaintext, which is never stored nor shown again."""
    prefix = secrets.token_hex(6)
    plaintext = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=_hash(plaintext),
        expires_at=expires_at,
        read_only=read_only,
        allowed_networks=list(allowed_networks),
    )
    token.full_clean()
    token.save()
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_check(plaintext: str, client_address: str | None) -> ApiToken:
    """The token that ``plaintext`` is, if it may be used now from ``client_address``."""
    if not plaintext.startswith(PREFIX) or plaintext.count("_") < 2:
        raise TokenRefused("Invalid token.")
    prefix = plaintext[len(PREFIX) :].split("_", 1)[0]
    token = _token_with_user(prefix)
    if token is None or not hmac.compare_digest(token.key_hash, _hash(plaintext)):
        raise TokenRefused("Invalid token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused("This token was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("This token has expired.")
    if not token.user.is_active:
        raise TokenRefused("The token's user is inactive.")
    if token.allowed_networks and not _allowed(client_address, token.allowed_networks):
        raise TokenRefused("This token is not accepted from this address.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        with transaction.atomic():
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def _token_with_user(prefix: str) -> ApiToken | None:
    """The token with ``prefix``, its user at hand, as ``select_related("user")`` reads them:
    one statement written in SQL (ADR 0020), on the path of every request a token
    authenticates, where the ORM took several times the database's time to build it."""
    sql, user = _token_with_user_sql(connection.vendor)
    rows = read_instances(ApiToken, sql, [prefix])
    if not rows:
        return None
    token = rows[0]
    token.user = user.instance(token)
    return token


@functools.cache
def _token_with_user_sql(vendor: str) -> tuple[str, Beside]:
    """The statement of ``_token_with_user`` and its user's columns (``vendor`` keys the
    cache); names from the models."""
    qn = connection.ops.quote_name
    users = get_user_model()
    user = Beside.columns(users, "u", "user__")
    columns = ", ".join(f"t.{qn(f.column)}" for f in ApiToken._meta.concrete_fields)
    owner = ApiToken._meta.get_field("user").column
    sql = (
        f"SELECT {columns}, {user.select} FROM {qn(ApiToken._meta.db_table)} t "  # noqa: S608
        f"JOIN {qn(users._meta.db_table)} u ON u.{qn(users._meta.pk.column)} = t.{qn(owner)} "
        f"WHERE t.{qn(ApiToken._meta.get_field('prefix').column)} = %s"
    )
    return sql, user


def _allowed(address: str | None, networks: list[str]) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(n, strict=False) for n in networks)
