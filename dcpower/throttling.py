"""Rate limits: power commands per user (a script in a loop must not cycle a data center),
and failed logins per account (password guessing). Counted in the shared cache (Redis in
production), so the limits hold across web processes."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class PowerCommandThrottle(UserRateThrottle):
    """POWER_RATE_LIMIT power command requests per user (default 30 a minute); a dry run
    counts too. Over it: 429 with Retry-After, nothing created."""

    scope = "power"

    def get_rate(self):
        return settings.POWER_RATE_LIMIT

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


def _failures_key(username: str) -> str:
    # Hashed: a user name is whatever a client sends, and a cache key must be plain
    # (the schema fuzzer sent control characters, which memcached-style keys refuse).
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return f"login-failures:{digest}"


def login_locked(username: str | None) -> bool:
    """An account that failed LOGIN_FAILURES_MAX times within LOGIN_LOCKOUT_S is refused,
    even with the right password, until the window has passed."""
    if not username:
        return False
    return cache.get(_failures_key(username), 0) >= settings.LOGIN_FAILURES_MAX


@receiver(user_login_failed, dispatch_uid="dcpower.count_login_failure")
def count_login_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if not username:
        return
    key = _failures_key(username)
    cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_S)
    failures = cache.incr(key)
    if failures == settings.LOGIN_FAILURES_MAX:
        address = request.META.get("REMOTE_ADDR") if request is not None else None
        logger.warning(
            "login for %r locked after %s failures (from %s)", username, failures, address
        )
