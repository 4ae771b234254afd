"""Probe a PDU: identify it and read every outlet's state and readings. What a technician runs
first when adding a PDU (``manage.py pdu_probe``)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from power.drivers.base import DeviceTarget
from power.drivers.registry import driver_for
from power.drivers.snmp.client import close_engine_for_running_loop


async def probe_async(target: DeviceTarget) -> dict:
    driver = await driver_for(target)
    try:
        identity = await driver.identify()
        readings = await driver.readings()
    finally:
        await driver.close()
    totals = asdict(readings.totals)
    return {
        "vendor": identity.vendor,
        "sys_object_id": identity.sys_object_id,
        "description": identity.description,
        "name": identity.name,
        "outlets": [
            {
                "number": o.number,
                "name": o.name,
                "state": o.state.value,
                "current_a": o.current_a,
                "power_w": o.power_w,
                "energy_kwh": o.energy_kwh,
            }
            for o in readings.outlets
        ],
        "totals": totals,
    }


def probe(target: DeviceTarget) -> dict:
    """Synchronous wrapper for commands: one event loop, its SNMP engine closed at the end."""

    async def run() -> dict:
        try:
            return await probe_async(target)
        finally:
            close_engine_for_running_loop()

    return asyncio.run(run())
