"""Rate limits: power command requests per user (429 with Retry-After, nothing created, reads
unaffected), counted in this process's memory or atomically in Redis; and an account locked
after repeated failed logins, even for the right password, until its window has passed."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid

import pytest
import redis
from django.core.cache import cache
from rest_framework.test import APIRequestFactory, force_authenticate

from dcpower.throttling import PowerCommandThrottle
from power.models import PowerCommand
from tests import factories
from tests.services import redis_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(settings):
    """The cache in Redis, as in production, under a key prefix of this test's own."""
    prefix = f"dcpower-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url(),
            "KEY_PREFIX": prefix,
        }
    }
    yield redis.Redis.from_url(redis_url())
    client = redis.Redis.from_url(redis_url())
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.requires_service("redis"))]
)
def counted_in(request):
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def test_power_requests_are_limited_per_user(
    api, pdus, settings, django_user_model, anon, counted_in
):
    settings.POWER_RATE_LIMIT = "2/min"
    outlets = [pdus[0].outlets.get(number=n) for n in (3, 4, 5)]
    for outlet in outlets[:2]:
        assert api.post(f"/api/v1/outlets/{outlet.pk}/power/on/", {}).status_code == 202
    refused = api.post(f"/api/v1/outlets/{outlets[2].pk}/power/on/", {})
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    general = api.post("/api/v1/power/commands/", {"action": "on", "outlets": [outlets[2].pk]})
    assert general.status_code == 429
    assert PowerCommand.objects.count() == 2
    assert api.get("/api/v1/power/commands/").status_code == 200  # reading is not limited
    # Another user has their own allowance.
    other = django_user_model.objects.create_user("other", password="pw-other-12345")
    factories.grant(other, "operator")
    anon.force_authenticate(other)
    assert anon.post(f"/api/v1/outlets/{outlets[2].pk}/power/on/", {}).status_code == 202


def _throttle_request(user, method="POST"):
    request = getattr(APIRequestFactory(), method.lower())("/api/v1/power/commands/")
    force_authenticate(request, user)
    from rest_framework.request import Request

    wrapped = Request(request)
    wrapped.user = user
    return wrapped


@pytest.mark.requires_service("redis")
def test_in_redis_the_window_slides(redis_cache, admin_user, settings):
    settings.POWER_RATE_LIMIT = "2/s"
    # What DRF's throttle left under its key before an upgrade neither counts nor breaks it.
    cache.set(f"throttle_power_{admin_user.pk}", [time.time()] * 5, 60)

    def allowed():
        return PowerCommandThrottle().allow_request(_throttle_request(admin_user), None)

    assert allowed()
    time.sleep(0.5)
    assert allowed()
    refused = PowerCommandThrottle()
    assert not refused.allow_request(_throttle_request(admin_user), None)
    assert 0.3 < refused.wait() <= 0.5  # until the first request leaves the window
    time.sleep(refused.wait() + 0.05)
    assert allowed()  # the first left the window; the second is still in it
    assert not allowed()
    # Reads are never counted.
    assert PowerCommandThrottle().allow_request(_throttle_request(admin_user, "GET"), None)


@pytest.mark.requires_service("redis")
def test_in_redis_concurrent_requests_never_exceed_the_limit(redis_cache, admin_user, settings):
    """Check and count are one step: of 24 simultaneous requests exactly the limit pass (a
    read-then-write counter lets two processes both take the last place)."""
    settings.POWER_RATE_LIMIT = "5/min"
    start = threading.Barrier(24)
    allowed = []

    def one():
        request = _throttle_request(admin_user)
        start.wait(timeout=10)
        allowed.append(PowerCommandThrottle().allow_request(request, None))

    threads = [threading.Thread(target=one) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(allowed) == [False] * 19 + [True] * 5
    key = cache.make_key(f"throttle-log:throttle_power_{admin_user.pk}")
    assert redis_cache.zcard(key) == 5  # refused requests are not logged
    assert 0 < redis_cache.pttl(key) <= 60_000  # nor kept longer than the window


def test_an_unreachable_redis_does_not_stop_power_requests(api, pdus, settings, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    settings.POWER_RATE_LIMIT = "1/min"
    outlet = pdus[0].outlets.get(number=3)
    with caplog.at_level(logging.WARNING, logger="dcpower.throttling"):
        answer = api.post(f"/api/v1/outlets/{outlet.pk}/power/on/", {})
    assert answer.status_code == 202
    assert "rate limit not checked" in caplog.text


def test_an_account_is_locked_after_repeated_failed_logins(client, django_user_model, settings):
    settings.LOGIN_FAILURES_MAX = 3
    django_user_model.objects.create_user("alice", password="right-password-123")
    for _ in range(3):
        assert not client.login(username="alice", password="wrong")
    assert not client.login(username="alice", password="right-password-123")  # locked
    page = client.post(
        "/admin/login/", {"username": "alice", "password": "right-password-123", "next": "/admin/"}
    )
    assert page.status_code == 200 and "_auth_user_id" not in client.session
    cache.clear()  # the window has passed
    assert client.login(username="alice", password="right-password-123")


def test_failures_of_one_account_do_not_lock_another(client, django_user_model, settings):
    settings.LOGIN_FAILURES_MAX = 2
    django_user_model.objects.create_user("bob", password="bob-password-123")
    for _ in range(2):
        client.login(username="mallory", password="guess")
    assert client.login(username="bob", password="bob-password-123")


def test_any_user_name_is_counted_safely(client, settings):
    """User names are whatever a client sends; the counter's cache key must not be."""
    settings.LOGIN_FAILURES_MAX = 2
    strange = "\U0007d85d|\x0c%\u00a5 \u00f2" + "x" * 300
    for _ in range(3):
        assert not client.login(username=strange, password="guess")
