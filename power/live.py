"""Live reads: ask a PDU now, through its site's worker (the only process that can reach the
PDU's management network), and record what it said as the outlets' last known state and
readings."""

from __future__ import annotations

from django.utils import timezone

from inventory.choices import OutletState
from inventory.models import PDU, Outlet
from power.drivers.errors import DriverError
from power.execution import device_loop
from power.probe import probe_async
from power.targets import device_target_for_pdu


def pdu_read_live(*, pdu_id: int) -> dict:
    """Read a PDU's states and readings now (run by a worker). Never raises for a device
    failure: the answer carries ``error`` (kind and message) instead."""
    pdu = PDU.objects.select_related("rack__site").get(pk=pdu_id)
    read_at = timezone.now()
    try:
        result = device_loop().run_until_complete(probe_async(device_target_for_pdu(pdu)))
    except DriverError as exc:
        return {
            "pdu": pdu.pk,
            "read_at": read_at.isoformat(),
            "error": {"kind": exc.kind, "message": str(exc)},
        }
    outlets = {o.number: o for o in pdu.outlets.all()}
    for reading in result["outlets"]:
        outlet = outlets.get(reading["number"])
        if outlet is None:
            continue
        Outlet.objects.filter(pk=outlet.pk).update(
            state=OutletState(reading["state"]),
            state_seen_at=read_at,
            current_a=reading["current_a"],
            power_w=reading["power_w"],
            energy_kwh=reading["energy_kwh"],
            readings_at=read_at,
        )
    return {"pdu": pdu.pk, "read_at": read_at.isoformat(), "error": None, **result}
