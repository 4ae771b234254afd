"""API tokens: shown once at creation, stored only as a hash, with an expiry, a read-only flag
and allowed client networks; revocable; each refusal a 401 (or 403 for a read-only token's
write) that changes nothing."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from dcpower.models import ApiToken
from dcpower.tokens import api_token_create, api_token_revoke
from inventory.models import Site

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_with(token: str, address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_token_is_stored_only_as_its_hash(admin_user):
    token, plaintext = api_token_create(user=admin_user, name="sync")
    assert plaintext.startswith(f"dcp_{token.prefix}_") and len(plaintext) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in str(ApiToken.objects.filter(pk=token.pk).values().first())


def test_a_valid_token_authenticates_and_records_its_use(admin_user):
    token, plaintext = api_token_create(user=admin_user, name="sync")
    assert client_with(plaintext).get(f"{API}/sites/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"revoked_at": timezone.now()}, "revoked"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired"),
    ],
)
def test_revoked_and_expired_tokens_are_refused(admin_user, change, message):
    token, plaintext = api_token_create(user=admin_user, name="old")
    ApiToken.objects.filter(pk=token.pk).update(**change)
    response = client_with(plaintext).get(f"{API}/sites/")
    assert response.status_code == 401 and message in response.data["detail"]


def test_a_wrong_or_tampered_token_is_refused(admin_user):
    _, plaintext = api_token_create(user=admin_user, name="x")
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    for bad in (tampered, "dcp_nope_nope", "abc"):
        response = client_with(bad).get(f"{API}/sites/")
        assert response.status_code == 401 and response.data["detail"] == "Invalid token."


def test_allowed_networks_are_enforced(admin_user):
    _, plaintext = api_token_create(
        user=admin_user, name="ops-net", allowed_networks=["10.20.0.0/16", "2001:db8::/32"]
    )
    assert client_with(plaintext, "10.20.3.4").get(f"{API}/sites/").status_code == 200
    assert client_with(plaintext, "2001:db8::7").get(f"{API}/sites/").status_code == 200
    refused = client_with(plaintext, "10.21.0.1").get(f"{API}/sites/")
    assert refused.status_code == 401 and "address" in refused.data["detail"]


def test_a_read_only_token_reads_and_cannot_write(admin_user):
    _, plaintext = api_token_create(user=admin_user, name="dash", read_only=True)
    client = client_with(plaintext)
    assert client.get(f"{API}/sites/").status_code == 200
    refused = client.post(f"{API}/sites/", {"name": "X", "slug": "x"}, format="json")
    assert refused.status_code == 403 and "read-only" in refused.data["detail"]
    assert not Site.objects.filter(slug="x").exists()
    assert client.post(f"{API}/tokens/", {"name": "more"}, format="json").status_code == 403


def test_users_manage_their_own_tokens_through_the_api(api, django_user_model):
    created = api.post(
        f"{API}/tokens/",
        {"name": "ci", "read_only": True, "allowed_networks": ["192.0.2.0/24"]},
        format="json",
    )
    assert created.status_code == 201, created.data
    plaintext = created.data["token"]
    assert plaintext.startswith("dcp_") and created.data["read_only"] is True
    listed = api.get(f"{API}/tokens/").data
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    assert "key_hash" not in listed[0]
    revoked = api.post(f"{API}/tokens/{created.data['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.data["revoked_at"]
    assert client_with(plaintext, "192.0.2.9").get(f"{API}/sites/").status_code == 401
    # Someone else's tokens are not even visible.
    other = django_user_model.objects.create_user("other", password="pw-other-12345")
    theirs, _ = api_token_create(user=other, name="theirs")
    assert api.get(f"{API}/tokens/{theirs.pk}/").status_code == 404
    assert api.post(f"{API}/tokens/{theirs.pk}/revoke/").status_code == 404
    bad = api.post(f"{API}/tokens/", {"name": "n", "allowed_networks": ["lan"]}, format="json")
    assert bad.status_code == 400 and "allowed_networks" in bad.data
    unknown = api.post(f"{API}/tokens/", {"name": "n", "key_hash": "x"}, format="json")
    assert unknown.status_code == 400 and "key_hash" in unknown.data


def test_the_command_prints_a_token_once(admin_user):
    out = io.StringIO()
    call_command(
        "create_api_token",
        admin_user.username,
        "--name",
        "cron",
        "--expires-days",
        "30",
        stdout=out,
    )
    plaintext = out.getvalue().strip()
    token = ApiToken.objects.get(name="cron")
    assert plaintext.startswith(f"dcp_{token.prefix}_")
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert client_with(plaintext).get(f"{API}/sites/").status_code == 200
    api_token_revoke(token=token)
    assert client_with(plaintext).get(f"{API}/sites/").status_code == 401


def test_a_token_is_read_with_its_user_in_one_statement_as_the_orm_reads_them(
    admin_user, django_assert_num_queries
):
    """dcpower.tokens reads the token and its user in one statement written in SQL: the same
    values, of the same types, as select_related("user") reads."""
    from dcpower.tokens import api_token_check

    token, plaintext = api_token_create(
        user=admin_user,
        name="sync",
        expires_at=timezone.now() + timedelta(days=1),
        allowed_networks=["127.0.0.0/8"],
    )
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())  # no write now
    with django_assert_num_queries(1):
        checked = api_token_check(plaintext, "127.0.0.1")
    expected = ApiToken.objects.select_related("user").get(pk=token.pk)
    for obj, reference in ((checked, expected), (checked.user, expected.user)):
        for field in type(reference)._meta.concrete_fields:
            got, wanted = getattr(obj, field.attname), getattr(reference, field.attname)
            assert (got, type(got)) == (wanted, type(wanted)), field.name
        assert obj._state.adding is False and obj._state.db == "default"


def test_an_inactive_users_token_is_refused(admin_user):
    _, plaintext = api_token_create(user=admin_user, name="gone")
    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])
    response = client_with(plaintext).get(f"{API}/sites/")
    assert response.status_code == 401 and "inactive" in response.data["detail"]
