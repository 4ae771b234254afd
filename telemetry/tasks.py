"""Celery tasks of telemetry: thin; they call the poller and the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def schedule_polls() -> dict[int, list[int]]:
    """Periodic (Celery beat): queue the polls that are due, per site."""
    from telemetry.services import schedule_due_polls

    return schedule_due_polls()


@shared_task(ignore_result=True)
def poll_pdus_task(pdu_ids: list[int]) -> int:
    """Poll these PDUs (one site's) concurrently and record what they said; returns how
    many answered."""
    from telemetry.polling import poll_pdus

    return sum(1 for outcome in poll_pdus(pdu_ids) if outcome.ok)
