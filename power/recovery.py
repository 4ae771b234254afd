"""Finding power commands that nobody is working on and handing them back to a worker.

A worker that dies mid-command leaves its message unacknowledged (acks_late), and the broker
redelivers it: the executor resumes from each outlet's recorded step. This module covers what
redelivery cannot: a message lost with the broker, or a running command whose heartbeat has
stopped for longer than any phase could take. Such commands are queued again; the executor's
claim check keeps a still-live run from being joined by a second one.
"""

from __future__ import annotations

import logging

from django.db.models import Q
from django.utils import timezone

from power.choices import CommandStatus
from power.execution import ExecutionSettings, stale_after
from power.models import PowerCommand
from power.services import power_command_enqueue

logger = logging.getLogger(__name__)


def stale_power_commands(*, config: ExecutionSettings | None = None):
    config = config or ExecutionSettings.from_settings()
    cutoff = timezone.now() - stale_after(config)
    running = Q(status=CommandStatus.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    # A pending command queued long ago and never started: its message is gone. (Scheduled
    # commands not yet due have no enqueued_at; power_commands_enqueue_due queues them.)
    pending = Q(status=CommandStatus.PENDING, enqueued_at__lt=cutoff)
    return PowerCommand.objects.filter(running | pending).order_by("created")


def power_commands_recover_stale(*, config: ExecutionSettings | None = None) -> list[int]:
    """Queue every stale command again; returns their ids."""
    recovered = []
    for command in stale_power_commands(config=config):
        logger.warning(
            "power command %s (%s) is stale; queueing it again", command.pk, command.status
        )
        power_command_enqueue(command=command)
        recovered.append(command.pk)
    return recovered
