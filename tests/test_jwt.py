"""JWT for interactive clients: a username and password give a short-lived access token and
a refresh token; the access token authenticates (roles apply as to any login); a refresh
gives a new pair and the old refresh token is replaced; bad credentials, a locked account or
a forged token get 401."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def viewer(django_user_model):
    person = django_user_model.objects.create_user("vera", password="vera-password-123")
    factories.grant(person, "viewer")
    return person


def obtain(username: str, password: str):
    return APIClient().post(
        f"{API}/auth/jwt/", {"username": username, "password": password}, format="json"
    )


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_login_gives_tokens_that_authenticate_with_the_users_roles(viewer, site):
    response = obtain("vera", "vera-password-123")
    assert response.status_code == 200
    access, refresh = response.data["access"], response.data["refresh"]
    assert bearer(access).get(f"{API}/sites/").status_code == 200
    refused = bearer(access).post(f"{API}/sites/", {"name": "X", "slug": "x"}, format="json")
    assert refused.status_code == 403  # a viewer, however logged in
    renewed = APIClient().post(f"{API}/auth/jwt/refresh/", {"refresh": refresh}, format="json")
    assert renewed.status_code == 200 and renewed.data["refresh"] != refresh
    assert bearer(renewed.data["access"]).get(f"{API}/sites/").status_code == 200


def test_bad_credentials_and_forged_tokens_get_401(viewer):
    assert obtain("vera", "wrong").status_code == 401
    assert obtain("nobody", "x").status_code == 401
    assert bearer("not.a.jwt").get(f"{API}/sites/").status_code == 401
    access = obtain("vera", "vera-password-123").data["access"]
    forged = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    assert bearer(forged).get(f"{API}/sites/").status_code == 401


def test_a_locked_account_gets_no_tokens(viewer, settings):
    settings.LOGIN_FAILURES_MAX = 2
    for _ in range(2):
        assert obtain("vera", "wrong").status_code == 401
    assert obtain("vera", "vera-password-123").status_code == 401


def test_the_schema_documents_jwt(api):
    schema = api.get(f"{API}/schema/?format=json").json()
    assert "post" in schema["paths"][f"{API}/auth/jwt/"]
    assert "jwtAuth" in schema["components"]["securitySchemes"]
