"""Reads about power commands that span relations: how far a command has got, outlet by
outlet, with the PDU and the host each outlet feeds (the admin's command page and its
progress endpoint)."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.models import Host
from power.choices import ACTIVE_COMMAND_STATUSES, CommandStatus, OutletOutcome
from power.models import PowerCommand, PowerCommandOutlet


@dataclass(frozen=True)
class CommandProgress:
    command: PowerCommand
    rows: list[PowerCommandOutlet]

    @property
    def finished(self) -> bool:
        """No longer pending or running: nothing more will change."""
        return self.command.status not in ACTIVE_COMMAND_STATUSES

    @property
    def total(self) -> int:
        return len(self.rows)

    def _count(self, *outcomes: str) -> int:
        return sum(1 for row in self.rows if row.outcome in outcomes)

    @property
    def done(self) -> int:
        """Outlets whose part is over, whatever its outcome."""
        return self.total - self._count(OutletOutcome.PENDING)

    @property
    def succeeded(self) -> int:
        return self._count(OutletOutcome.SUCCEEDED)

    @property
    def failed(self) -> int:
        return self._count(OutletOutcome.FAILED)

    @property
    def cancelled(self) -> int:
        return self._count(OutletOutcome.CANCELLED)

    def as_json(self) -> dict:
        return {
            "id": self.command.pk,
            "status": self.command.status,
            "status_label": CommandStatus(self.command.status).label,
            "finished": self.finished,
            "total": self.total,
            "done": self.done,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "outlets": [
                {
                    "id": row.pk,
                    "pdu": row.outlet.pdu.name,
                    "outlet": row.outlet.number,
                    "host": host.name if host else "",
                    "host_id": host.pk if host else None,
                    "state_before": row.state_before,
                    "state_after": row.state_after,
                    "outcome": row.outcome,
                    "outcome_label": row.get_outcome_display(),
                    "step_label": row.get_step_display(),
                    "attempts": row.attempts,
                    "error": row.error,
                }
                for row, host in ((row, outlet_host(row)) for row in self.rows)
            ],
        }


def outlet_host(row: PowerCommandOutlet) -> Host | None:
    """The host plugged into the row's outlet now, or None for an empty outlet."""
    supply = getattr(row.outlet, "power_supply", None)
    return supply.host if supply is not None else None


def command_progress(*, command: PowerCommand) -> CommandProgress:
    """``command`` and its outlets' rows with their PDU and host, in one query."""
    rows = list(
        PowerCommandOutlet.objects.filter(command=command)
        .select_related("outlet__pdu", "outlet__power_supply__host")
        .order_by("outlet__pdu__name", "outlet__number")
    )
    return CommandProgress(command=command, rows=rows)
