"""Power commands end to end: the REST API persists a command and queues it on its site's
queue in Redis; a real Celery worker process (not eager mode) takes it, switches simulated PDUs
over SNMP and writes the outcome to PostgreSQL, where the API reads it back.

Also: a stuck relay is reported with its cause, and a worker killed (SIGKILL) in the middle of
a cycle leaves its unacknowledged message to Redis, which hands it to the next worker; that
worker resumes from the recorded step and sends only the missing "on".

The worker runs in its own process, so the test database is used with real commits
(``transaction=True``) and the worker is pointed at it. The broker is a Redis database of its
own (E2E_REDIS_DB), emptied before and after each test.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from inventory.models import Outlet
from power import services
from power.choices import CommandStatus, OutletOutcome, OutletStep
from power.models import PowerCommand, PowerCommandOutlet
from tests.simulated_dc import received, relay_on
from tests.workers import VISIBILITY_TIMEOUT_S

pytestmark = [
    pytest.mark.requires_service("postgres", "redis"),
    pytest.mark.django_db(transaction=True),
]

FINISHED = {
    CommandStatus.SUCCEEDED,
    CommandStatus.FAILED,
    CommandStatus.PARTIALLY_FAILED,
    CommandStatus.CANCELLED,
}


# --- The simulated PDUs --------------------------------------------------------------


# --- Helpers -----------------------------------------------------------------------------


def request_power(api, dc, action: str) -> int:
    response = api.post(
        f"/api/v1/hosts/{dc['web'].pk}/power/{action}/",
        {"reason": "end-to-end test"},
        format="json",
    )
    # Accepted; the worker may already have taken it when the answer is read back.
    assert response.status_code == 202, response.data
    return response.data["id"]


def wait_until(predicate, *, timeout_s: float, what, workers=(), interval_s: float = 0.05):
    """Poll ``predicate`` until it returns something true; fail after ``timeout_s`` with
    ``what`` (a string, or a callable giving one) and the workers' logs."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.name}\n{w.output()}" for w in workers)
            described = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout_s} s waiting for {described}\n{logs}")
        time.sleep(interval_s)


def wait_finished(api, command_id: int, *, timeout_s: float, workers=()) -> dict:
    """Poll the command's detail in the API until it is no longer pending or running."""
    last: dict = {}

    def finished():
        response = api.get(f"/api/v1/power/commands/{command_id}/")
        assert response.status_code == 200
        last.update(response.data)
        return response.data if response.data["status"] in FINISHED else None

    return wait_until(
        finished,
        timeout_s=timeout_s,
        what=lambda: f"command {command_id} to finish (last seen: {last})",
        workers=workers,
    )


def by_pdu(command: dict) -> dict[str, dict]:
    return {row["outlet"]["name"].split(":")[0]: row for row in command["results"]}


# --- Tests -------------------------------------------------------------------------------


def test_a_host_cycle_is_carried_out_by_a_real_worker(api, fleet, dc, start_worker):
    worker = start_worker(dc["site"])
    before = received(fleet)
    command_id = request_power(api, dc, "cycle")
    command = wait_finished(api, command_id, timeout_s=20, workers=[worker])
    assert command["status"] == CommandStatus.SUCCEEDED, command
    assert command["started_at"] and command["finished_at"]
    rows = by_pdu(command)
    assert set(rows) == {"A", "B"}
    for row in rows.values():
        assert row["outcome"] == OutletOutcome.SUCCEEDED, row
        assert (row["state_before"], row["state_after"]) == ("on", "on"), row
        assert row["step"] == OutletStep.DONE and row["error"] == ""
        assert row["attempts"] == 2  # the off half and the on half, once each
    # The simulators' ground truth: both supplies are on again, after exactly an off and an
    # on each (never the vendor's reboot, nothing repeated).
    assert relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)
    after = received(fleet)
    assert {name: after[name] - before[name] for name in after} == {"A": 2, "B": 2}
    wait_until(
        lambda: f"power command {command_id} finished: succeeded" in worker.output(),
        timeout_s=10,
        what="the worker's log line",
        workers=[worker],
    )
    assert not PowerCommandOutlet.objects.filter(active=True).exists()


def test_a_stuck_relay_is_reported_with_its_cause(api, fleet, dc, start_worker):
    worker = start_worker(dc["site"])
    fleet.inject("B", stuck_outlets=[1])  # accepts the command, and the relay never moves
    command_id = request_power(api, dc, "off")
    command = wait_finished(api, command_id, timeout_s=20, workers=[worker])
    assert command["status"] == CommandStatus.PARTIALLY_FAILED, command
    rows = by_pdu(command)
    assert rows["A"]["outcome"] == OutletOutcome.SUCCEEDED
    assert rows["A"]["state_after"] == "off"
    assert rows["B"]["outcome"] == OutletOutcome.FAILED
    assert rows["B"]["state_after"] == "on"
    assert "not off after 1.5 s (device says on)" in rows["B"]["error"]
    assert not relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)
    assert Outlet.objects.get(pdu__name="B", number=1).state == "on"  # what the device said


def test_a_killed_workers_command_is_redelivered_and_resumed(api, fleet, dc, start_worker):
    # A long off period, so that the worker is surely killed while the outlets are off.
    first = start_worker(dc["site"], POWER_CYCLE_OFF_PERIOD_S="30")
    before = received(fleet)
    command_id = request_power(api, dc, "cycle")
    rows = PowerCommandOutlet.objects.filter(command_id=command_id)
    wait_until(
        lambda: set(rows.values_list("step", flat=True)) == {OutletStep.OFF_VERIFIED},
        timeout_s=15,
        what="both outlets verified off",
        workers=[first],
    )
    os.kill(first.process.pid, signal.SIGKILL)
    assert first.process.wait(10) == -signal.SIGKILL
    at_kill = received(fleet)
    assert {name: at_kill[name] - before[name] for name in at_kill} == {"A": 1, "B": 1}
    assert not relay_on(fleet, "A", 1) and not relay_on(fleet, "B", 1)  # left dark
    stuck = PowerCommand.objects.get(pk=command_id)
    assert stuck.status == CommandStatus.RUNNING and stuck.claimed_by

    # The message was never acknowledged: Redis hands it to the next worker once the
    # visibility timeout has passed, with the same task id, and the executor resumes.
    second = start_worker(dc["site"])
    command = wait_finished(
        api, command_id, timeout_s=VISIBILITY_TIMEOUT_S + 20, workers=[first, second]
    )
    assert command["status"] == CommandStatus.SUCCEEDED, command
    assert relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)
    after = received(fleet)
    # Only the missing "on" was sent after the kill: nothing was switched off twice.
    assert {name: after[name] - at_kill[name] for name in after} == {"A": 1, "B": 1}
    for row in by_pdu(command).values():
        assert row["outcome"] == OutletOutcome.SUCCEEDED and row["state_after"] == "on", row
    # Logged after the commit that the API has already shown: wait for it (bounded).
    wait_until(
        lambda: f"power command {command_id} finished: succeeded" in second.output(),
        timeout_s=10,
        what="the worker's log line",
        workers=[second],
    )
    assert PowerCommand.objects.get(pk=command_id).claimed_by == stuck.claimed_by


def test_a_waiting_request_is_answered_with_the_verified_outcome(
    api, fleet, dc, start_worker, settings, monkeypatch, broker
):
    from power import completion

    worker = start_worker(dc["site"])
    settings.EVENTS_REDIS_URL = broker  # the workers announce on the broker's Redis
    # The database is read again only every 30 s: the 201 below can only come from the
    # worker's announcement, not from a recheck.
    monkeypatch.setattr(completion, "RECHECK_S", 30.0)
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    # (An execute wrapper, not CaptureQueriesContext: each request resets the queries log.)
    with connection.execute_wrapper(record):
        response = api.post(
            f"/api/v1/hosts/{dc['web'].pk}/power/cycle/",
            {"reason": "end-to-end test"},
            format="json",
            headers={"Prefer": "wait=20"},
        )
    assert response.status_code == 201, (response.data, worker.output())
    assert response.headers["Preference-Applied"] == "wait=20"
    assert response.headers["Location"] == response.data["url"]
    assert response.data["status"] == CommandStatus.SUCCEEDED
    assert {(r["outcome"], r["state_after"]) for r in response.data["results"]} == {
        (OutletOutcome.SUCCEEDED, "on")
    }
    assert relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)
    # Answered from the outcome the worker announced, the same as a read of the command
    # afterwards shows; the request read nothing of it back but its status, while waiting.
    assert response.json() == api.get(response.data["url"]).json()
    read_back = [s for s in statements if s.startswith("SELECT") and "power_powercommand" in s]
    assert read_back and all(
        sql.startswith('SELECT "power_powercommand"."status"') for sql in read_back
    ), read_back

    # The same wait on a read: one GET answers when the command has finished.
    command_id = request_power(api, dc, "off")
    response = api.get(f"/api/v1/power/commands/{command_id}/", {"wait": 20})
    assert response.status_code == 200
    assert response.data["status"] == CommandStatus.SUCCEEDED, (response.data, worker.output())
    assert not relay_on(fleet, "A", 1) and not relay_on(fleet, "B", 1)


# --- Telemetry through a real worker ------------------------------------------------------


def test_a_real_worker_polls_its_sites_pdus_on_schedule(fleet, dc, start_worker):
    from telemetry.models import PduStatus
    from telemetry.services import schedule_due_polls, telemetry_queue

    site = dc["site"]
    worker = start_worker(site, queues=[telemetry_queue(site.pk)])
    fleet.switch("B", 3, False)  # the device's truth differs from the inventory's "on"
    due = schedule_due_polls()
    assert due == {site.pk: sorted(p.pk for p in dc["pdus"].values())}
    wait_until(
        lambda: PduStatus.objects.filter(up=True).count() == 2,
        timeout_s=20,
        what="both PDUs polled by the worker",
        workers=[worker],
    )
    assert Outlet.objects.get(pdu__name="B", number=3).state == "off"
    assert Outlet.objects.get(pdu__name="A", number=3).power_w is not None
    assert schedule_due_polls() == {}  # just polled: nothing due


def test_a_finished_command_has_its_pdus_polled_again(api, fleet, dc, start_worker):
    from telemetry.choices import EventKind
    from telemetry.models import Event, PduStatus
    from telemetry.services import telemetry_queue

    site = dc["site"]
    worker = start_worker(site, queues=[services.site_queue(site.pk), telemetry_queue(site.pk)])
    command_id = request_power(api, dc, "off")
    command = wait_finished(api, command_id, timeout_s=20, workers=[worker])
    assert command["status"] == CommandStatus.SUCCEEDED
    wait_until(
        lambda: PduStatus.objects.filter(up=True, last_poll_at__isnull=False).count() == 2,
        timeout_s=20,
        what="the command's PDUs polled again",
        workers=[worker],
    )
    (event,) = Event.objects.filter(kind=EventKind.COMMAND_FINISHED)
    assert event.command_id == command_id and event.data["status"] == "succeeded"
    assert not Event.objects.filter(kind=EventKind.DRIFT).exists()  # dcpower switched them
