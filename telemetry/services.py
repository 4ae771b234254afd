"""Recording what polls found, and deciding what to poll.

- ``record_poll``: each PDU's status (up or down, its totals, poll counters), every outlet's
  latest state and readings, drift events for outlets whose state changed behind dcpower's
  back, PDU down/up events (logged once when a failure starts, once on recovery), and the
  racks' measured power against their budget (an event when one goes over).
- ``schedule_due_polls``: queue a poll for every PDU whose interval has passed, on its site's
  telemetry queue (only the site's own workers reach its PDUs).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dcpower.db import bulk_update_by_pk
from inventory.choices import OutletState
from inventory.models import PDU, Outlet, Rack
from power.drivers.base import OutletState as DeviceState
from power.models import PowerCommandOutlet
from telemetry.choices import EventKind
from telemetry.models import Event, PduStatus, RackStatus
from telemetry.selectors import rack_measure, rack_measure_prefetch

logger = logging.getLogger(__name__)

# States that say something definite: drift is judged only between two of these.
SETTLED = {OutletState.ON, OutletState.OFF}
POLL_BATCH = 250  # PDUs per poll task: one task polls them concurrently in one event loop


def telemetry_queue(site_id: int) -> str:
    return f"telemetry.site.{site_id}"


def event_record(kind: str, message: str, **fields) -> Event:
    """Record an event and, once it is committed, hand it to every webhook that wants it."""
    event = Event.objects.create(kind=kind, message=message, **fields)
    logger.info("event %s: %s", kind, message)
    transaction.on_commit(lambda: events_dispatch(event))
    return event


def events_dispatch(event: Event) -> None:
    from telemetry.tasks import deliver_event_to_webhook
    from telemetry.webhooks import webhooks_for

    for webhook in webhooks_for(event):
        deliver_event_to_webhook.apply_async(args=[webhook.pk, event.pk])


# --- Recording a poll round ---------------------------------------------------------------


def record_poll(pdus: list[PDU], outcomes) -> None:
    by_id = {pdu.pk: pdu for pdu in pdus}
    with transaction.atomic():
        statuses = _statuses_for(list(by_id))
        for outcome in outcomes:
            _record_status(by_id[outcome.pdu_id], statuses[outcome.pdu_id], outcome)
        bulk_update_by_pk(PduStatus, statuses.values(), STATUS_FIELDS)
        _record_outlets(by_id, [o for o in outcomes if o.ok])
    racks_update({pdu.rack_id for pdu in pdus})


STATUS_FIELDS = [
    "up",
    "down_since",
    "last_poll_at",
    "last_success_at",
    "last_error",
    "last_error_at",
    "poll_duration_s",
    "polls_total",
    "poll_errors_total",
    "poll_queued_at",
    "voltage_v",
    "current_a",
    "power_w",
    "energy_kwh",
    "phases",
    "readings_at",
]


def _statuses_for(pdu_ids: list[int]) -> dict[int, PduStatus]:
    PduStatus.objects.bulk_create(
        [PduStatus(pdu_id=pdu_id) for pdu_id in pdu_ids], ignore_conflicts=True
    )
    return {s.pdu_id: s for s in PduStatus.objects.select_for_update().filter(pdu_id__in=pdu_ids)}


def _record_status(pdu: PDU, status: PduStatus, outcome) -> None:
    now = timezone.now()
    was_up = status.up
    status.last_poll_at = now
    status.poll_duration_s = outcome.duration_s
    status.polls_total += 1  # the row is locked (select_for_update) until the commit
    status.poll_queued_at = None
    if outcome.ok:
        totals = outcome.readings.totals
        status.up = True
        status.down_since = None
        status.last_success_at = now
        status.voltage_v, status.current_a = totals.voltage_v, totals.current_a
        status.power_w, status.energy_kwh = totals.power_w, totals.energy_kwh
        status.phases = [dataclasses.asdict(phase) for phase in totals.phases]
        status.readings_at = outcome.started_at
        if was_up is False:
            event_record(
                EventKind.PDU_UP,
                f"PDU {pdu.name} in {pdu.rack} answers again.",
                site_id=pdu.rack.site_id,
                rack_id=pdu.rack_id,
                pdu=pdu,
                data={"error_was": status.last_error},
            )
        return
    status.up = False
    status.last_error = outcome.error
    status.last_error_at = now
    status.poll_errors_total += 1
    if was_up is not False:  # logged and recorded once, when the failure starts
        status.down_since = now
        logger.warning("PDU %s (%s) is down: %s", pdu.name, pdu.pk, outcome.error)
        event_record(
            EventKind.PDU_DOWN,
            f"PDU {pdu.name} in {pdu.rack} does not answer: {outcome.error}",
            site_id=pdu.rack.site_id,
            rack_id=pdu.rack_id,
            pdu=pdu,
            data={"error": outcome.error},
        )


def _record_outlets(by_id: dict[int, PDU], outcomes) -> None:
    """Write each outlet's readings; its state too, unless fresher news came meanwhile (a
    power command verified it after the read began) or a command is switching it now. A
    settled state that differs from the last known one, with no command to explain it, is
    drift."""
    if not outcomes:
        return
    outlets = {
        (o.pdu_id, o.number): o
        for o in Outlet.objects.filter(pdu_id__in=[o.pdu_id for o in outcomes])
    }
    busy = set(
        PowerCommandOutlet.objects.filter(
            active=True, outlet_id__in=[o.pk for o in outlets.values()]
        ).values_list("outlet_id", flat=True)
    )
    changed, drifted = [], []
    for outcome in outcomes:
        for reading in outcome.readings.outlets:
            outlet = outlets.get((outcome.pdu_id, reading.number))
            if outlet is None:
                continue  # the device has more outlets than the inventory knows
            outlet.current_a, outlet.power_w = reading.current_a, reading.power_w
            outlet.energy_kwh, outlet.readings_at = reading.energy_kwh, outcome.started_at
            fresher = outlet.state_seen_at is not None and outlet.state_seen_at > outcome.started_at
            if not fresher and outlet.pk not in busy:
                seen = OutletState(DeviceState(reading.state).value)
                if outlet.state in SETTLED and seen in SETTLED and seen != outlet.state:
                    drifted.append((outlet, outlet.state, seen))
                outlet.state, outlet.state_seen_at = seen, outcome.started_at
            changed.append(outlet)
    bulk_update_by_pk(
        Outlet,
        changed,
        ["state", "state_seen_at", "current_a", "power_w", "energy_kwh", "readings_at"],
    )
    for outlet, before, seen in drifted:
        pdu = by_id[outlet.pdu_id]
        event_record(
            EventKind.DRIFT,
            f"Outlet {pdu.name}:{outlet.number} is {seen}, was {before}, and no dcpower "
            "command switched it.",
            site_id=pdu.rack.site_id,
            rack_id=pdu.rack_id,
            pdu=pdu,
            outlet=outlet,
            data={"before": before, "seen": seen},
        )


def racks_update(rack_ids) -> list[RackStatus]:
    """Recompute the racks' measured power against their budget; an event when one goes
    over (not again while it stays over)."""
    now = timezone.now()
    racks = list(rack_measure_prefetch(Rack.objects.filter(pk__in=rack_ids).select_related("site")))
    RackStatus.objects.bulk_create(
        [RackStatus(rack_id=rack.pk) for rack in racks], ignore_conflicts=True
    )
    statuses = {s.rack_id: s for s in RackStatus.objects.filter(rack_id__in=[r.pk for r in racks])}
    for rack in racks:
        measure = rack_measure(rack)
        status = statuses[rack.pk]
        if measure.over_budget and not status.over_budget:
            event_record(
                EventKind.RACK_OVER_BUDGET,
                f"Rack {rack} draws {measure.power_w:.0f} W, over its redundant capacity of "
                f"{measure.capacity_w} W.",
                site_id=rack.site_id,
                rack=rack,
                data={"power_w": measure.power_w, "capacity_w": measure.capacity_w},
            )
        status.power_w = measure.power_w
        status.capacity_w = measure.capacity_w
        status.over_budget = measure.over_budget
        status.failover_overload = measure.failover_overload
        status.updated_at = now
    bulk_update_by_pk(
        RackStatus,
        statuses.values(),
        ["power_w", "capacity_w", "over_budget", "failover_overload", "updated_at"],
    )
    return list(statuses.values())


# --- Scheduling -----------------------------------------------------------------------------


def poll_interval_s(pdu: PDU) -> int:
    default = settings.TELEMETRY_POLL_INTERVAL_S
    return pdu.poll_interval_s or pdu.rack.site.poll_interval_s or default


def pdus_due(now=None) -> dict[int, list[int]]:
    """PDU ids due for a poll, by site: never polled, or polled longer ago than their interval,
    and not already queued (a queued poll older than its interval, or a minute, was lost)."""
    now = now or timezone.now()
    due: dict[int, list[int]] = defaultdict(list)
    for pdu in PDU.objects.select_related("rack__site", "telemetry").order_by("pk"):
        interval = timedelta(seconds=poll_interval_s(pdu))
        status = getattr(pdu, "telemetry", None)
        if status is not None:
            if status.last_poll_at is not None and status.last_poll_at + interval > now:
                continue
            lost_after = max(interval, timedelta(seconds=60))
            if status.poll_queued_at is not None and status.poll_queued_at + lost_after > now:
                continue
        due[pdu.rack.site_id].append(pdu.pk)
    return due


def schedule_due_polls() -> dict[int, list[int]]:
    """Queue every due PDU's poll on its site's telemetry queue (run by beat)."""
    from telemetry.tasks import poll_pdus_task

    now = timezone.now()
    due = pdus_due(now)
    for site_id, pdu_ids in due.items():
        PduStatus.objects.bulk_create(
            [PduStatus(pdu_id=pdu_id) for pdu_id in pdu_ids], ignore_conflicts=True
        )
        PduStatus.objects.filter(pdu_id__in=pdu_ids).update(poll_queued_at=now)
        for start in range(0, len(pdu_ids), POLL_BATCH):
            poll_pdus_task.apply_async(
                args=[pdu_ids[start : start + POLL_BATCH]],
                queue=telemetry_queue(site_id),
                expires=settings.TELEMETRY_POLL_INTERVAL_S * 2,
            )
    return dict(due)


def poll_soon(site_id: int, pdu_ids: list[int]) -> None:
    """Re-poll these PDUs now (after a power command), outside the schedule."""
    from telemetry.tasks import poll_pdus_task

    poll_pdus_task.apply_async(args=[list(pdu_ids)], queue=telemetry_queue(site_id))
