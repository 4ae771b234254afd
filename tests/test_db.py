"""dcpower.db.bulk_update_by_pk: each row gets its own values (numbers, None, text, times,
JSON, booleans), in batches, on PostgreSQL's VALUES path and on the bulk_update fallback.
dcpower.db.update_rows: what filter().update() would write, to the rows it would choose.
dcpower.db.write_together: several writes, all or none, one statement on PostgreSQL."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dcpower import db
from dcpower.db import (
    Statement,
    bulk_update_by_pk,
    update_rows,
    update_statement,
    write_together,
)
from inventory.choices import OutletState
from inventory.models import Outlet
from telemetry.models import PduStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["native", "fallback"])
def test_each_row_gets_its_own_values(pdus, rack, monkeypatch, path, django_assert_max_num_queries):
    from tests import factories

    more = [factories.make_pdu(rack=rack, name=f"P{n}", outlet_count=1) for n in range(3)]
    now = timezone.now()
    statuses = [PduStatus.objects.create(pdu=p) for p in (*pdus, *more)]
    for n, status in enumerate(statuses):
        status.up = n % 2 == 0
        status.power_w = None if n == 1 else 100.5 * n
        status.last_error = "" if n % 2 == 0 else f'timeout {n}: it\'s "quoted"; DROP TABLE x --'
        status.last_poll_at = now - timedelta(seconds=n)
        status.phases = [{"phase": 1, "power_w": n}] if n else []
        status.polls_total = 2**40 + n
    if path == "fallback":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    with django_assert_max_num_queries(4 if path == "native" else 10):
        bulk_update_by_pk(
            PduStatus,
            statuses,
            ["up", "power_w", "last_error", "last_poll_at", "phases", "polls_total"],
            batch_size=2,
        )
    for n, status in enumerate(statuses):
        stored = PduStatus.objects.get(pk=status.pk)
        assert stored.up is (n % 2 == 0)
        assert stored.power_w == (None if n == 1 else 100.5 * n)
        assert stored.last_error == status.last_error
        assert stored.last_poll_at == now - timedelta(seconds=n)
        assert stored.phases == status.phases
        assert stored.polls_total == 2**40 + n
        assert stored.voltage_v is None  # a field not named is left alone


def test_nothing_to_write_costs_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk_update_by_pk(PduStatus, [], ["up"])


def test_update_rows_writes_what_update_would(pdus, django_assert_num_queries):
    outlets = list(pdus[0].outlets.order_by("number"))
    seen = timezone.now() - timedelta(minutes=3)
    values = {"state": OutletState.OFF, "state_seen_at": seen, "locked": True, "label": "it's"}
    with django_assert_num_queries(1):
        assert update_rows(Outlet, values, where="id", match=[o.pk for o in outlets[:3]]) == 3
    with django_assert_num_queries(1):
        assert update_rows(Outlet, {"state_seen_at": None}, where="id", match=outlets[3].pk) == 1
    # A subquery: the outlets numbered 5 and 6 of the first PDU.
    five_and_six = Outlet.objects.filter(pdu=pdus[0], number__in=[5, 6]).values("id")
    chosen = Statement(*five_and_six.query.sql_with_params())
    with django_assert_num_queries(1):
        assert update_rows(Outlet, {"label": "sub"}, where="id", match=chosen) == 2
    with django_assert_num_queries(0):
        assert update_rows(Outlet, {"label": "none"}, where="id", match=[]) == 0
    by_number = {o.number: o for o in Outlet.objects.filter(pdu=pdus[0])}
    for number in (1, 2, 3):
        outlet = by_number[number]
        assert (outlet.state, outlet.state_seen_at, outlet.locked, outlet.label) == (
            OutletState.OFF,
            seen,
            True,
            "it's",
        )
    assert by_number[4].state_seen_at is None
    assert [by_number[n].label for n in (5, 6)] == ["sub", "sub"]
    untouched = [o for n, o in by_number.items() if n > 6]
    assert untouched and all(o.label == "" and not o.locked for o in untouched)
    assert not Outlet.objects.filter(pdu=pdus[1], label__in=["it's", "sub"]).exists()


def test_update_rows_by_a_foreign_key(pdus):
    assert update_rows(Outlet, {"label": "A"}, where="pdu", match=pdus[0].pk) == 24
    assert set(Outlet.objects.filter(pdu=pdus[0]).values_list("label", flat=True)) == {"A"}
    assert not Outlet.objects.filter(pdu=pdus[1], label="A").exists()


@pytest.mark.parametrize("one_statement", [True, False])
def test_writes_together_take_effect_together(pdus, monkeypatch, one_statement):
    if one_statement and connection.vendor != "postgresql":
        pytest.skip("one statement is PostgreSQL's")
    monkeypatch.setattr(db, "writes_in_one_statement", lambda: one_statement)
    a, b = (pdu.outlets.get(number=1) for pdu in pdus)
    writes = [
        update_statement(Outlet, {"label": "a"}, where="id", match=a.pk),
        update_statement(Outlet, {"label": "none"}, where="id", match=[]),  # nothing: skipped
        update_statement(Outlet, {"state": OutletState.ON}, where="pdu", match=pdus[1].pk),
    ]
    with CaptureQueriesContext(connection) as queries:
        write_together(writes)
    sql = [q["sql"] for q in queries.captured_queries]
    if one_statement:
        assert len(sql) == 1 and sql[0].startswith("WITH")
    else:  # in a transaction (a savepoint here)
        assert [s.split()[0] for s in sql] == ["SAVEPOINT", "UPDATE", "UPDATE", "RELEASE"]
    assert Outlet.objects.get(pk=a.pk).label == "a"
    assert set(pdus[1].outlets.values_list("state", flat=True)) == {OutletState.ON}
    assert Outlet.objects.get(pk=b.pk).label == ""

    # One refused write (an outlet numbered 0) and none of them takes effect.
    refused = [
        update_statement(Outlet, {"label": "b"}, where="id", match=b.pk),
        update_statement(Outlet, {"number": 0}, where="id", match=a.pk),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        write_together(refused)
    assert Outlet.objects.get(pk=b.pk).label == ""


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


def _prepared(text: str) -> bool:
    """Whether this session (the test's connection) holds ``text`` as a prepared statement."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [text])
        return cursor.fetchone()[0] > 0


@postgresql_only
def test_statements_written_in_sql_are_prepared_once_run_often():
    """dcpower.db.cursor binds on the server, so psycopg prepares a statement once the
    connection has run it prepare_threshold times (ADR 0024); Django's own cursor, which
    binds on the client, never does."""
    threshold = connection.connection.prepare_threshold
    assert threshold == 5  # dcpower/settings.py
    ours, django_s = "SELECT %s::int + 1 AS ours", "SELECT %s::int + 2 AS djangos"
    for run in range(1, threshold + 2):
        with db.cursor() as cursor:
            cursor.execute(ours, [run])
            assert cursor.fetchone() == (run + 1,)
        with connection.cursor() as cursor:
            cursor.execute(django_s, [run])
            assert cursor.fetchone() == (run + 2,)
        # Run threshold times unprepared, then prepared (and planned no more).
        assert _prepared("SELECT $1::int + 1 AS ours") is (run > threshold), run
    assert not _prepared("SELECT $1::int + 2 AS djangos")
    assert not any(_prepared(f"SELECT {n}::int + 2 AS djangos") for n in range(1, 8))


@postgresql_only
def test_without_prepared_statements_the_cursor_is_djangos(monkeypatch):
    """DATABASE_PREPARED_STATEMENTS=0 (for a pooler that would mix up prepared statements)
    leaves the connection's prepare_threshold unset: nothing is prepared, and the statements
    are bound on the client as Django binds them."""
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    for run in range(8):
        with db.cursor() as cursor:
            cursor.execute("SELECT %s::int + 3 AS unprepared", [run])
            assert cursor.fetchone() == (run + 3,)
            assert type(cursor.cursor) is type(connection.cursor().cursor)
    assert not _prepared("SELECT $1::int + 3 AS unprepared")


@postgresql_only
def test_more_parameters_than_the_server_takes_are_bound_by_django(pdus):
    """A statement with more parameters than PostgreSQL's protocol carries (65,535) cannot be
    bound on the server: it is bound on the client, as Django binds, and still runs."""
    from inventory.models import PDU

    ids = [pdus[0].pk, *range(10**9, 10**9 + db.SERVER_BOUND_PARAMS_MAX)]
    qn = connection.ops.quote_name
    sql = (
        f"SELECT {qn('id')}, {qn('name')} FROM {qn(PDU._meta.db_table)} "  # noqa: S608
        f"WHERE {qn('id')} IN ({db.placeholders(len(ids))})"
    )
    assert [pdu.name for pdu in db.read_instances(PDU, sql, ids)] == [pdus[0].name]
    rename = Statement(
        f"UPDATE {qn(PDU._meta.db_table)} SET {qn('name')} = %s "  # noqa: S608
        f"WHERE {qn('id')} IN ({db.placeholders(len(ids))})",
        ["renamed", *ids],
    )
    assert db.execute(rename) == 1
    assert PDU.objects.get(pk=pdus[0].pk).name == "renamed"


def test_the_prepared_statements_setting_is_read_from_the_environment():
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import django; django.setup(); from django.conf import settings as s;"
        " print(s.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
    )
    url = "postgres://postgres@127.0.0.1:5432/none"
    found = {}
    for setting, extra in (("1", ""), ("0", ""), ("1", "?prepare_threshold=2")):
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=Path(__file__).resolve().parents[1],
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "dcpower.settings",
                "DATABASE_URL": url + extra,
                "DATABASE_PREPARED_STATEMENTS": setting,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        found[setting + extra] = result.stdout.strip()
    assert found == {"1": "5", "0": "None", "1?prepare_threshold=2": "2"}


def test_read_instances_reads_what_raw_reads(pdus):
    """Model columns converted as the ORM converts them (booleans, times, decrypted
    secrets), the columns not selected deferred, every other column set as it came."""
    from inventory.models import PDU

    pdu = pdus[0]
    pdu.snmp_write_community = "wr1te-secret"
    pdu.save()
    qn = connection.ops.quote_name
    table = qn(PDU._meta.db_table)
    for columns in ("*", f"{qn('id')}, {qn('name')}, {qn('snmp_write_community')}"):
        sql = (
            f"SELECT {columns}, 40 + 2 AS answer FROM {table} "  # noqa: S608 - names
            f"WHERE {qn('id')} IN (%s, %s) ORDER BY {qn('id')}"
        )
        params = [pdus[0].pk, pdus[1].pk]
        read, raw = db.read_instances(PDU, sql, params), list(PDU.objects.raw(sql, params))
        assert [p.pk for p in read] == [p.pk for p in raw] == sorted(params)
        for ours, djangos in zip(read, raw, strict=True):
            assert ours.get_deferred_fields() == djangos.get_deferred_fields()
            assert ours.answer == djangos.answer == 42
            for field in PDU._meta.concrete_fields:
                if field.attname in djangos.get_deferred_fields():
                    continue
                want, have = getattr(djangos, field.attname), getattr(ours, field.attname)
                assert (have, type(have)) == (want, type(want)), field.name
    assert db.read_instances(PDU, sql, [0, 0]) == []
    assert read[0].snmp_write_community == "wr1te-secret"
