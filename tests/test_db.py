"""dcpower.db.bulk_update_by_pk: each row gets its own values (numbers, None, text, times,
JSON, booleans), in batches, on PostgreSQL's VALUES path and on the bulk_update fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dcpower.db import bulk_update_by_pk
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
