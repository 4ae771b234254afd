"""The OpenAPI schema fuzzed with schemathesis: every operation, with generated valid and
invalid input, as each role (dcpower/access.py), with a site-scoped one among them, and as
nobody: never a server error, never a status code, a content type, a header or a body that
the schema does not document.

What it found and we fixed: two 500s (a webhook list with any query parameter, a date filter
with a time zone offset the database cannot hold), HTML 404 pages for API URLs that no view
matches (now JSON), and bulk creates' list of per-item errors undocumented."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dcpower.tokens import api_token_create
from dcpower.wsgi import application
from tests import factories

pytestmark = pytest.mark.django_db


@schemathesis.check
def not_an_undocumented_server_error(ctx, response, case):
    """Never a server error, but for a live read's documented 502 (the PDU did not answer)
    and 504 (no worker of the site answered): the fuzzed PDUs are not real, and whether a
    generated id names one depends on the database's sequences (SQLite's start at 1 in
    every test, PostgreSQL's do not)."""
    if case.operation.path.endswith("/live/") and response.status_code in (502, 504):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_an_undocumented_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Who calls: a superuser, each role granted everywhere, a technician granted at one site
# only (so that site scoping's 403s are fuzzed too), and no credentials at all.
CALLERS = [
    "superuser",
    "admin",
    "viewer",
    "technician",
    "operator",
    "automation",
    "technician-at-one-site",
    "anonymous",
]


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    generated = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    return json.loads(json.dumps(generated, default=str))


# As the superuser, every phase: the coverage phase's deterministic cases (boundaries, each
# enum value, each kind of wrong type: hundreds per operation) and random fuzzing.
thorough = schemathesis.openapi.from_dict(_schema())
# As every other caller, random fuzzing only: what differs between callers is which answers
# they get (403s, site scoping), not which inputs reach the validators.
by_role = schemathesis.openapi.from_dict(_schema())
by_role.config.phases.coverage.enabled = False


@pytest.fixture(autouse=True)
def _live_reads_give_up_quickly(settings):
    settings.POWER_LIVE_READ_TIMEOUT_S = 0.2  # no worker answers here


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Called as a WSGI app, Django closes its database connection after each request (the
    test's transaction with it): as django.test.Client does, keep it open."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _headers(caller: str, admin_user) -> dict:
    if caller == "anonymous":
        return {}
    if caller == "superuser":
        user = admin_user
    else:
        user = get_user_model().objects.create_user(caller, password="pw-fuzz-123")
        if caller == "technician-at-one-site":
            factories.grant(user, "technician", factories.make_site(slug="elsewhere"))
        else:
            factories.grant(user, caller)
    return {"Authorization": f"Token {api_token_create(user=user, name='fuzz')[1]}"}


@pytest.fixture
def superuser_headers(admin_user, pdus) -> dict:
    return _headers("superuser", admin_user)


@pytest.fixture(params=[caller for caller in CALLERS if caller != "superuser"])
def role_headers(request, admin_user, pdus) -> dict:
    return _headers(request.param, admin_user)


@thorough.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented(case, superuser_headers):
    _call_and_validate(case, superuser_headers)


@by_role.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented_by_role(case, role_headers):
    _call_and_validate(case, role_headers)


def _call_and_validate(case, headers: dict) -> None:
    # Each call in a savepoint rolled back after it: examples do not see each other's
    # writes, and a database error answered as a 400 (DataError) cannot leave the test's
    # transaction aborted for the next example (outside tests each request has its own).
    savepoint = transaction.savepoint()
    try:
        case.call_and_validate(headers=headers, app=application, checks=CHECKS)
    finally:
        transaction.savepoint_rollback(savepoint)
