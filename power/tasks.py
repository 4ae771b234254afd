"""Celery tasks of power control: thin; they load fresh state by id and call the executor."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from power.execution import execute_command

# A lost database connection (a failover, a connection dropped while idle that the health
# check did not see: ADR 0027) fails the task; it is run again a second later, then 2 and 4,
# as the same delivery, which resumes the command from each outlet's recorded step. Without
# this the command waited for the stale-command sweep (minutes).
DATABASE_RETRIES = 3


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=DATABASE_RETRIES,
    retry_backoff=1,
    retry_jitter=False,
)
def execute_power_command(self, command_id: int, request_id: str | None = None) -> str:
    # acks_late: a worker that dies mid-command leaves the message to be redelivered, and
    # execute_command resumes from each outlet's recorded step (safe to repeat).
    from dcpower.logs import bind_command_id
    from dcpower.request_id import bind_request_id
    from power.models import PowerCommand

    # The worker's log lines about this command carry its id and the id of the request that
    # asked for it: sent with the message (a query less before the command starts), read
    # from the command for a message queued without it.
    if request_id is None:
        request_id = (
            PowerCommand.objects.filter(pk=command_id).values_list("request_id", flat=True).first()
        )
    tokens = [
        bind_request_id(request_id or f"command-{command_id}"),
        bind_command_id(command_id),
    ]
    try:
        return execute_command(command_id, claim=self.request.id or "")
    finally:
        for token in reversed(tokens):
            token.var.reset(token)


@shared_task(ignore_result=True)
def recover_stale_power_commands() -> list[int]:
    """Periodic (Celery beat): queue orphaned commands again."""
    from power.recovery import power_commands_recover_stale

    return power_commands_recover_stale()


@shared_task
def read_pdu_live(pdu_id: int) -> dict:
    """A live read for the API, answered through the result backend."""
    from power.live import pdu_read_live

    return pdu_read_live(pdu_id=pdu_id)


@shared_task(ignore_result=True)
def enqueue_due_power_commands() -> list[int]:
    """Periodic (Celery beat): queue scheduled commands whose not_before has come."""
    from power.services import power_commands_enqueue_due

    return power_commands_enqueue_due()
