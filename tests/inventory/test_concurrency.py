"""Placement rules hold under concurrent writes: the rack row is locked while a host is
validated and saved, so two writers cannot both place a host in the same units.

These need PostgreSQL (real row locks and concurrent connections); CI requires it.
"""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, transaction
from rest_framework.test import APIClient

from inventory.models import Host, Rack
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.requires_service("postgres")]


def _in_thread(target, *args):
    """Run target in a thread with its own database connection, keeping its outcome."""
    outcome = {}

    def run():
        try:
            outcome["result"] = target(*args)
        except Exception as exc:  # the outcome is what the test inspects
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_validated_but_uncommitted_placement_blocks_an_overlapping_one():
    rack = factories.make_rack()
    first_validated = threading.Event()

    def place(name, hold_seconds):
        with transaction.atomic():
            host = Host(site_id=rack.site_id, rack_id=rack.pk, name=name, position_u=10)
            host.full_clean()
            if hold_seconds:
                first_validated.set()
                time.sleep(hold_seconds)  # the window in which an unlocked check would pass
            host.save()
        return host.pk

    first, first_outcome = _in_thread(place, "first", 1.0)
    assert first_validated.wait(10)
    second, second_outcome = _in_thread(place, "second", 0)
    first.join(20)
    second.join(20)

    assert "result" in first_outcome, first_outcome
    assert isinstance(second_outcome.get("error"), ValidationError)
    assert "overlaps host 'first'" in str(second_outcome["error"])
    assert list(Host.objects.values_list("name", flat=True)) == ["first"]


def test_concurrent_api_writers_place_exactly_one_host(django_user_model):
    rack = factories.make_rack()
    admin = django_user_model.objects.create_superuser("racer", "r@example.com", "pw-racer-123")
    writers = 8
    start = threading.Barrier(writers, timeout=20)

    def post(index):
        close_old_connections()
        client = APIClient()
        client.force_authenticate(admin)
        start.wait()
        return client.post(
            "/api/v1/hosts/",
            {
                "site": rack.site_id,
                "rack": rack.pk,
                "name": f"h{index}",
                "position_u": 20,
                "u_height": 2,
            },
            format="json",
        ).status_code

    threads = [_in_thread(post, i) for i in range(writers)]
    for thread, _ in threads:
        thread.join(30)
    statuses = sorted(outcome.get("result") for _, outcome in threads)
    assert statuses == [201] + [400] * (writers - 1)
    assert Host.objects.filter(rack=rack).count() == 1


def test_a_rack_cannot_shrink_under_a_host_placed_concurrently():
    rack = factories.make_rack(u_height=42)
    host_validated = threading.Event()

    def place_high_host():
        with transaction.atomic():
            host = Host(site_id=rack.site_id, rack_id=rack.pk, name="top", position_u=40)
            host.full_clean()
            host_validated.set()
            time.sleep(1.0)
            host.save()

    def shrink():
        with transaction.atomic():
            fresh = Rack.objects.get(pk=rack.pk)
            fresh.u_height = 30
            fresh.full_clean()
            fresh.save()

    placer, placer_outcome = _in_thread(place_high_host)
    assert host_validated.wait(10)
    shrinker, shrink_outcome = _in_thread(shrink)
    placer.join(20)
    shrinker.join(20)

    assert "error" not in placer_outcome, placer_outcome
    assert isinstance(shrink_outcome.get("error"), ValidationError)
    assert Rack.objects.get(pk=rack.pk).u_height == 42


def test_a_host_cannot_be_placed_above_a_height_shrunk_concurrently():
    rack = factories.make_rack(u_height=42)
    shrink_validated = threading.Event()

    def shrink():
        with transaction.atomic():
            fresh = Rack.objects.get(pk=rack.pk)
            fresh.u_height = 30
            fresh.full_clean()
            shrink_validated.set()
            time.sleep(1.0)
            fresh.save()

    def place_high_host():
        with transaction.atomic():
            # The rack as this writer loaded it before the shrink committed: 42U.
            stale_rack = Rack.objects.get(pk=rack.pk)
            host = Host(site_id=rack.site_id, rack=stale_rack, name="top", position_u=40)
            host.full_clean()
            host.save()

    shrinker, shrink_outcome = _in_thread(shrink)
    assert shrink_validated.wait(10)
    placer, placer_outcome = _in_thread(place_high_host)
    shrinker.join(20)
    placer.join(20)

    assert "error" not in shrink_outcome, shrink_outcome
    assert "30U tall" in str(placer_outcome.get("error"))
    assert not Host.objects.exists()
