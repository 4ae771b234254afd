"""Rate limits: power command requests per user (429 with Retry-After, nothing created, reads
unaffected), and an account locked after repeated failed logins, even for the right
password, until its window has passed."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from power.models import PowerCommand
from tests import factories

pytestmark = pytest.mark.django_db


def test_power_requests_are_limited_per_user(api, pdus, settings, django_user_model, anon):
    settings.POWER_RATE_LIMIT = "2/min"
    outlets = [pdus[0].outlets.get(number=n) for n in (3, 4, 5)]
    for outlet in outlets[:2]:
        assert api.post(f"/api/v1/outlets/{outlet.pk}/power/on/", {}).status_code == 202
    refused = api.post(f"/api/v1/outlets/{outlets[2].pk}/power/on/", {})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    general = api.post("/api/v1/power/commands/", {"action": "on", "outlets": [outlets[2].pk]})
    assert general.status_code == 429
    assert PowerCommand.objects.count() == 2
    assert api.get("/api/v1/power/commands/").status_code == 200  # reading is not limited
    # Another user has their own allowance.
    other = django_user_model.objects.create_user("other", password="pw-other-12345")
    factories.grant(other, "operator")
    anon.force_authenticate(other)
    assert anon.post(f"/api/v1/outlets/{outlets[2].pk}/power/on/", {}).status_code == 202


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
