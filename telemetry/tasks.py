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


@shared_task(bind=True, ignore_result=True, max_retries=None)
def deliver_event_to_webhook(self, webhook_id: int, event_id: int, attempt: int = 1) -> bool:
    """One delivery attempt; a failed one is retried with exponential backoff until
    webhooks.MAX_ATTEMPTS. Every attempt is recorded."""
    from telemetry import webhooks
    from telemetry.models import Event, Webhook

    webhook = Webhook.objects.filter(pk=webhook_id, active=True).first()
    event = Event.objects.filter(pk=event_id).first()
    if webhook is None or event is None:
        return False  # deactivated or deleted meanwhile
    delivery = webhooks.webhook_deliver(webhook=webhook, event=event, attempt=attempt)
    if delivery.succeeded or attempt >= webhooks.MAX_ATTEMPTS:
        return delivery.succeeded
    raise self.retry(
        args=[webhook_id, event_id, attempt + 1], countdown=webhooks.backoff_s(attempt)
    )
