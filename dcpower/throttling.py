"""Rate limits: power commands per user (a script in a loop must not cycle a data center),
and failed logins per account (password guessing). Counted in the shared cache (Redis in
production), so the limits hold across web processes."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets

import redis
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from rest_framework.throttling import UserRateThrottle

from dcpower.redis_clients import redis_client

logger = logging.getLogger(__name__)

# A sliding log of the user's requests in the last window, as a sorted set scored by the
# Redis server's clock (µs), checked and appended to in one atomic step. Returns -1 when the
# request is allowed (and logged), else the µs until the oldest logged request leaves the
# window. One round trip, and no read-then-write race between web processes: DRF's own
# throttle reads the list from the cache and writes it back, so two processes can both
# admit the request that fills the limit, and it moves the whole list both ways each time.
_SLIDING_LOG = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  if oldest == nil then return window end
  return tonumber(oldest) + window - t
end
redis.call('ZADD', KEYS[1], t, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return -1
"""


class PowerCommandThrottle(UserRateThrottle):
    """POWER_RATE_LIMIT power command requests per user (default 30 a minute) in any sliding
    window of that length; a dry run counts too. Over it: 429 with Retry-After, nothing
    created.

    With the cache in Redis the log lives there and is kept by one script (``_SLIDING_LOG``);
    with any other cache (the embedded default: this process's memory) DRF's throttle keeps
    it. If Redis fails the request is allowed and a warning logged: a rate limit
    must not stop an engineer switching power while the broker's Redis is down (the command
    is recorded and queued again once it is back)."""

    scope = "power"

    def get_rate(self):
        return settings.POWER_RATE_LIMIT

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        script = _sliding_log_script()
        if script is None or self.rate is None:
            return super().allow_request(request, view)
        # Not DRF's key: a deployment upgraded from DRF's throttle holds a list there.
        key = cache.make_key(f"throttle-log:{self.get_cache_key(request, view)}")
        window_us = self.duration * 1_000_000
        member = secrets.token_hex(8)  # two requests in one µs are two entries
        try:
            wait_us = script(keys=[key], args=[window_us, self.num_requests, member])
        except (redis.RedisError, OSError) as exc:
            logger.warning("rate limit not checked: Redis failed (%s)", exc, exc_info=True)
            return True
        self._wait_s = None if wait_us < 0 else max(wait_us, 1) / 1_000_000
        return self._wait_s is None

    def wait(self):
        if hasattr(self, "_wait_s"):
            return self._wait_s
        return super().wait()


def _sliding_log_script():
    """The sliding-log script on the cache's Redis, or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    # Several servers: Django's cache writes to the first, and so do we.
    location = config["LOCATION"]
    servers = re.split("[;,]", location) if isinstance(location, str) else location
    return _script_for(servers[0])


@functools.cache
def _script_for(url: str):
    # register_script: EVALSHA, loading the script again after a Redis restart.
    return redis_client(url).register_script(_SLIDING_LOG)


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
