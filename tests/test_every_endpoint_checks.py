"""Every API operation and every admin page checks who is asking: anonymous callers get 401
(the admin: its login page), a user with no role 403 (the admin: 403 too), and nothing is
changed. The lists come from the schema and the admin's registry, so a new endpoint or admin
page is checked without being listed here."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import Site

pytestmark = pytest.mark.django_db

# Open by design: logging in, and the schema and its documentation pages.
OPEN = {"/api/v1/auth/jwt/", "/api/v1/auth/jwt/refresh/", "/api/v1/schema/", "/api/v1/docs/"}


def _operations():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    for path, methods in schema["paths"].items():
        if path in OPEN:
            continue
        for method in methods:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, re.sub(r"\{[^}]+\}", "1", path)


OPERATIONS = sorted(set(_operations()))


@pytest.fixture
def no_role_client(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("nobody"))
    return client


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_anonymous_callers_get_401(method, path, site):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401, (method, path, response.status_code)
    assert list(Site.objects.all()) == [site]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_user_with_no_role_gets_403(method, path, site, no_role_client):
    response = getattr(no_role_client, method)(path, {}, format="json")
    # A user's own API tokens are theirs to list and make (docs/security.md#api-tokens).
    if path.startswith("/api/v1/tokens/"):
        assert response.status_code != 401
        return
    assert response.status_code == 403, (method, path, response.status_code)
    assert list(Site.objects.all()) == [site]


def _admin_pages():
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        yield reverse(f"{prefix}_changelist")
        yield reverse(f"{prefix}_add")


ADMIN_PAGES = sorted(_admin_pages())


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_send_anonymous_callers_to_log_in(page, client):
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_refuse_staff_with_no_role(page, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert client.get(page).status_code == 403
