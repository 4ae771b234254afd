"""/metrics: outlet, PDU, feed and rack gauges labelled by name, poll durations and errors,
power commands by action and result with their latency histogram, events by kind; the same
figures whichever process answers (they come from the database); names that promtool's
linter accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from inventory.models import Outlet
from power.models import PowerCommand
from power.services import power_command_request
from telemetry.choices import EventKind
from telemetry.models import PduStatus
from telemetry.services import event_record
from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("dcpower_")
    }


def value(scraped, name: str, **labels) -> float:
    return scraped[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def readings(rack, pdus, admin_user):
    """PDU-A up at 1.5 kW with web01 on its outlet 1 at 300 W; PDU-B down; finished commands
    that took 0.07 s, 0.3 s and 3 s; a drift and a PDU-down event."""
    pdu_a, pdu_b = pdus
    now = timezone.now()
    PduStatus.objects.create(
        pdu=pdu_a,
        up=True,
        power_w=1500.0,
        current_a=6.5,
        voltage_v=230.0,
        poll_duration_s=0.042,
        polls_total=10,
        poll_errors_total=1,
        last_success_at=now,
        readings_at=now,
    )
    PduStatus.objects.create(pdu=pdu_b, up=False, polls_total=4, poll_errors_total=4)
    host = factories.make_host(rack=rack, name="web01")
    outlet = pdu_a.outlets.get(number=1)
    factories.make_supply(host=host, outlet=outlet)
    Outlet.objects.filter(pk=outlet.pk).update(
        power_w=300.0, current_a=1.3, state="on", readings_at=now
    )
    for number, took_s, status in ((3, 0.07, "succeeded"), (4, 0.3, "succeeded"), (5, 3, "failed")):
        command = power_command_request(
            user=admin_user, action="on", outlet_ids=[pdu_b.outlets.get(number=number).pk]
        ).command
        PowerCommand.objects.filter(pk=command.pk).update(
            status=status, finished_at=command.created + timedelta(seconds=took_s)
        )
        command.outlets.update(active=False)
    power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk])  # pending
    event_record(EventKind.DRIFT, "drift", pdu=pdu_a)
    event_record(EventKind.PDU_DOWN, "down", pdu=pdu_b)
    return {"site": rack.site.name, "rack": rack.name, "feed_a": pdu_a.feed.name}


@pytest.mark.django_db
def test_metrics_carry_the_latest_readings_by_name(client, readings):
    m = scrape(client)  # no login: Prometheus scrapes it
    where = {"site": readings["site"], "rack": readings["rack"]}
    outlet = {**where, "pdu": "PDU-A", "outlet": "1", "host": "web01"}
    assert value(m, "dcpower_outlet_power_watts", **outlet) == 300.0
    assert value(m, "dcpower_outlet_current_amperes", **outlet) == 1.3
    assert value(m, "dcpower_outlet_on", **outlet) == 1.0
    assert value(m, "dcpower_pdu_up", **where, pdu="PDU-A") == 1.0
    assert value(m, "dcpower_pdu_up", **where, pdu="PDU-B") == 0.0
    assert value(m, "dcpower_pdu_power_watts", **where, pdu="PDU-A") == 1500.0
    assert value(m, "dcpower_pdu_voltage_volts", **where, pdu="PDU-A") == 230.0
    assert value(m, "dcpower_pdu_poll_duration_seconds", **where, pdu="PDU-A") == 0.042
    assert value(m, "dcpower_pdu_polls_total", **where, pdu="PDU-B") == 4
    assert value(m, "dcpower_pdu_poll_errors_total", **where, pdu="PDU-A") == 1
    assert value(m, "dcpower_rack_power_watts", **where) == 1500.0
    assert value(m, "dcpower_rack_capacity_watts", **where) == 5888
    assert value(m, "dcpower_rack_failover_overload", **where) == 0.0
    feed_a = {**where, "feed": readings["feed_a"], "side": "A"}
    assert value(m, "dcpower_feed_capacity_watts", **feed_a) == 5888
    assert value(m, "dcpower_feed_power_watts", **feed_a) == 1500.0
    assert value(m, "dcpower_events_total", kind="drift") == 1
    assert value(m, "dcpower_events_total", kind="pdu_down") == 1


@pytest.mark.django_db
def test_power_commands_are_counted_with_their_latency(client, readings):
    m = scrape(client)
    assert value(m, "dcpower_power_commands_total", action="on", status="succeeded") == 2
    assert value(m, "dcpower_power_commands_total", action="on", status="failed") == 1
    assert value(m, "dcpower_power_commands_in_progress", action="on", status="pending") == 1
    bucket = "dcpower_power_command_duration_seconds_bucket"
    assert value(m, bucket, action="on", le="0.05") == 0
    assert value(m, bucket, action="on", le="0.1") == 1
    assert value(m, bucket, action="on", le="0.5") == 2
    assert value(m, bucket, action="on", le="5.0") == 3
    assert value(m, bucket, action="on", le="+Inf") == 3
    assert value(m, "dcpower_power_command_duration_seconds_count", action="on") == 3
    assert value(m, "dcpower_power_command_duration_seconds_sum", action="on") == pytest.approx(
        3.37, abs=0.01
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.requires_service("postgres")
def test_every_process_answers_with_the_same_figures(client, readings):
    """A process that did none of the work (here a fresh interpreter on the same database)
    scrapes the same numbers as this one: nothing lives in one process's memory."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    script = (
        "import django; django.setup();"
        "import prometheus_client as p; from telemetry.metrics import DatabaseCollector;"
        "r = p.CollectorRegistry(); r.register(DatabaseCollector());"
        "print(p.generate_latest(r).decode())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "dcpower.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert samples(other.stdout) == scrape(client)
    assert len(samples(other.stdout)) > 30


@pytest.mark.django_db
@pytest.mark.requires_service("promtool")
def test_promtool_accepts_the_metric_names(client, readings, tmp_path):
    def is_ours(line: str) -> bool:  # "# HELP dcpower_... " or "dcpower_...{...} 1.0"
        name = line.split(" ")[2] if line.startswith("# ") else line
        return name.startswith("dcpower_")

    text = client.get("/metrics").content.decode()
    ours = "\n".join(line for line in text.splitlines() if is_ours(line))
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=ours + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""
