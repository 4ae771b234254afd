"""What telemetry does when power control finishes a command: re-poll the command's PDUs at
once (their readings changed) and record a "power command finished" event."""

from __future__ import annotations

from django.dispatch import receiver

from power.signals import power_command_finished
from telemetry.choices import EventKind


@receiver(power_command_finished, dispatch_uid="telemetry.command_finished")
def on_power_command_finished(sender, *, command_id, status, site_id, pdu_ids, **kwargs):
    from telemetry.services import event_record, poll_soon

    event_record(
        EventKind.COMMAND_FINISHED,
        f"Power command #{command_id} finished: {status}.",
        site_id=site_id,
        command_id=command_id,
        data={"status": status, "pdus": pdu_ids},
    )
    if pdu_ids and status != "cancelled":
        poll_soon(site_id, pdu_ids)
