"""Polling PDUs: one round reads many PDUs concurrently in the worker's device loop (one SNMP
engine, the drivers kept per process), each PDU's outlets and totals in the driver's bulk
reads. Every PDU has its own time budget, so a dead or slow one delays nobody else; what was
read is handed to ``telemetry.services.record_poll``.

Device work only here (the database is read before and written after the round)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from inventory.models import PDU
from power.drivers.base import DeviceTarget, PduReadings
from power.drivers.errors import DriverError
from power.execution import device_loop, driver_for_target
from power.targets import device_target_for_pdu


@dataclass(frozen=True)
class PollOutcome:
    pdu_id: int
    started_at: datetime
    duration_s: float
    readings: PduReadings | None  # None when the poll failed
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.readings is not None


async def _poll_one(pdu_id: int, target: DeviceTarget, budget_s: float) -> PollOutcome:
    started_at, t0 = timezone.now(), time.perf_counter()
    try:
        readings = await asyncio.wait_for(_read(target), timeout=budget_s)
    except TimeoutError:
        error = f"{target.address}: no complete answer within {budget_s:g} s"
        return PollOutcome(pdu_id, started_at, time.perf_counter() - t0, None, error)
    except DriverError as exc:
        return PollOutcome(pdu_id, started_at, time.perf_counter() - t0, None, str(exc))
    return PollOutcome(pdu_id, started_at, time.perf_counter() - t0, readings)


async def _read(target: DeviceTarget) -> PduReadings:
    driver = await driver_for_target(target)
    return await driver.readings()


async def poll_round(targets: dict[int, DeviceTarget], budget_s: float) -> list[PollOutcome]:
    """Poll every target concurrently; each within ``budget_s``."""
    return list(
        await asyncio.gather(
            *(_poll_one(pdu_id, target, budget_s) for pdu_id, target in targets.items())
        )
    )


def poll_pdus(pdu_ids: list[int]) -> list[PollOutcome]:
    """Poll these PDUs now and record what they said (run by a worker of their site)."""
    from telemetry.services import record_poll

    pdus = list(PDU.objects.filter(pk__in=pdu_ids).select_related("rack__site"))
    device_timeout_s = settings.TELEMETRY_DEVICE_TIMEOUT_S
    targets = {pdu.pk: device_target_for_pdu(pdu, timeout_s=device_timeout_s) for pdu in pdus}
    outcomes = device_loop().run_until_complete(
        poll_round(targets, settings.TELEMETRY_POLL_BUDGET_S)
    )
    record_poll(pdus, outcomes)
    return outcomes
