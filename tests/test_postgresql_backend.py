"""dcpower's PostgreSQL backend (dcpower/postgresql): a kept connection's health check looks at
the connection's socket on every request and task, and asks the server (SELECT 1) only when
it has not done so for ROUND_TRIP_CHECK_EVERY_S; a connection the server has closed is
replaced either way, before the request's first query."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.backends.postgresql import base as django_postgresql

from dcpower.postgresql import base as dcpower_postgresql

pytestmark = [pytest.mark.requires_service("postgres"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def round_trips(monkeypatch):
    """How many SELECT 1 health checks Django's backend made."""
    made = []
    original = django_postgresql.DatabaseWrapper.is_usable

    def counted(self):
        made.append(1)
        return original(self)

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", counted)
    return made


@pytest.fixture
def kept_connection(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's backend")
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()
    connection.ensure_connection()
    yield connection
    connection.close()


def a_request() -> int:
    """What a request (or a worker's task) does: Django's check between requests, then a
    query; returns the server process that answered."""
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_project_uses_dcpowers_backend_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's backend")
    assert settings.DATABASES["default"]["ENGINE"] == "dcpower.postgresql"
    assert isinstance(connections["default"], dcpower_postgresql.DatabaseWrapper)


def test_a_healthy_connection_asks_the_server_only_now_and_then(kept_connection, round_trips):
    pid = a_request()
    assert [a_request() for _ in range(5)] == [pid] * 5
    assert round_trips == []  # just connected: the socket was enough

    connection._round_trip_checked_at -= dcpower_postgresql.ROUND_TRIP_CHECK_EVERY_S
    assert a_request() == pid
    assert a_request() == pid
    assert len(round_trips) == 1  # one SELECT 1, then the socket again


def test_a_connection_the_server_closed_is_replaced_before_the_next_query(
    kept_connection, round_trips
):
    pid = a_request()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        # Waits (up to 5 s) until the backend has gone: its goodbye is on our socket.
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
    new_pid = a_request()  # no error: replaced before the query
    assert new_pid != pid
    assert round_trips == []


def test_a_connection_libpq_knows_is_broken_is_replaced(kept_connection, round_trips):
    pid = a_request()
    connection.connection.pgconn.finish()  # as after a failed exchange: status BAD
    assert connection.is_usable() is False
    assert a_request() != pid
