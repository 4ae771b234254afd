"""Telemetry in the admin: the PDU and rack lists show reachability and measured power (and
filter on them); events and poll statuses are read-only history."""

from __future__ import annotations

import pytest
from django.utils import timezone

from telemetry.choices import EventKind
from telemetry.models import PduStatus, RackStatus
from telemetry.services import event_record

pytestmark = pytest.mark.django_db


def test_the_pdu_list_shows_who_is_down_and_filters_on_it(admin_client, pdus):
    now = timezone.now()
    PduStatus.objects.create(
        pdu=pdus[0], up=True, last_poll_at=now, power_w=1500.0, readings_at=now
    )
    PduStatus.objects.create(
        pdu=pdus[1],
        up=False,
        down_since=now,
        last_error="no answer after 2 tries",
        last_error_at=now,
    )
    page = admin_client.get("/admin/inventory/pdu/").content.decode()
    assert "DOWN since" in page and "1.5 kW" in page
    down_only = admin_client.get("/admin/inventory/pdu/?telemetry__up__exact=0").content.decode()
    assert "PDU-B" in down_only and "PDU-A" not in down_only
    detail = admin_client.get(f"/admin/inventory/pdu/{pdus[1].pk}/change/").content.decode()
    assert "no answer after 2 tries" in detail


def test_the_rack_list_flags_a_rack_over_budget(admin_client, rack):
    RackStatus.objects.create(
        rack=rack,
        power_w=7000.0,
        capacity_w=5888,
        over_budget=True,
        failover_overload=True,
        updated_at=timezone.now(),
    )
    page = admin_client.get("/admin/inventory/rack/").content.decode()
    assert "OVER BUDGET" in page and "overload on failover" in page and "119 %" in page


def test_events_and_statuses_are_read_only(admin_client, pdus):
    event = event_record(EventKind.PDU_DOWN, "PDU-B does not answer", pdu=pdus[1])
    PduStatus.objects.create(pdu=pdus[1], up=False)
    page = admin_client.get("/admin/telemetry/event/").content.decode()
    assert "PDU-B does not answer" in page
    assert admin_client.get("/admin/telemetry/event/add/").status_code == 403
    assert admin_client.post(f"/admin/telemetry/event/{event.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/telemetry/pdustatus/").status_code == 200


def test_a_webhooks_secret_is_never_shown_and_kept_when_left_empty(admin_client):
    from telemetry.models import Webhook

    secret = "a-secret-of-24-characters"
    webhook = Webhook.objects.create(name="ops", endpoint="https://hooks.example/", secret=secret)
    page = admin_client.get(f"/admin/telemetry/webhook/{webhook.pk}/change/").content.decode()
    assert secret not in page
    response = admin_client.post(
        f"/admin/telemetry/webhook/{webhook.pk}/change/",
        {
            "name": "ops",
            "endpoint": "https://hooks.example/v2",
            "secret": "",
            "kinds": "[]",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    webhook.refresh_from_db()
    assert webhook.secret == secret and webhook.endpoint == "https://hooks.example/v2"


def test_the_outlet_list_shows_the_latest_readings(admin_client, pdus):
    from inventory.models import Outlet

    Outlet.objects.filter(pdu=pdus[0], number=2).update(power_w=321.5, readings_at=timezone.now())
    page = admin_client.get(f"/admin/inventory/outlet/?pdu__id__exact={pdus[0].pk}")
    assert page.status_code == 200
    assert "321.5" in page.content.decode()
