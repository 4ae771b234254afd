"""Delivering events to webhooks: a JSON POST signed with the webhook's secret, one recorded
attempt at a time; the Celery task retries failed attempts with exponential backoff.

The signature lets a receiver check that the body came from dcpower and is fresh:

    X-Dcpower-Timestamp: 1764504000
    X-Dcpower-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

Receivers should refuse a timestamp more than a few minutes old (a replayed request).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
from django.core.serializers.json import DjangoJSONEncoder

from telemetry.models import Event, Webhook, WebhookDelivery

TIMEOUT_S = 10.0
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 10.0  # 10, 20, 40, 80, 160 s between the six attempts
RESPONSE_KEPT = 1000  # characters of a response body kept with the attempt


def event_payload(event: Event) -> dict:
    def ref(obj, **extra):
        return None if obj is None else {"id": obj.pk, "name": str(obj), **extra}

    return {
        "id": event.pk,
        "kind": event.kind,
        "message": event.message,
        "created": event.created,
        "site": ref(event.site),
        "rack": ref(event.rack),
        "pdu": ref(event.pdu),
        "outlet": ref(event.outlet, number=event.outlet.number) if event.outlet else None,
        "command": event.command_id,
        "data": event.data,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def backoff_s(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return BACKOFF_BASE_S * 2 ** (attempt - 1)


def webhook_deliver(*, webhook: Webhook, event: Event, attempt: int) -> WebhookDelivery:
    """POST the event once and record the attempt. A 2xx answer is success; anything else
    (another status, a timeout, a refused connection) is a failure to retry."""
    body = json.dumps(event_payload(event), cls=DjangoJSONEncoder).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "dcpower-webhooks/1",
        "X-Dcpower-Event": event.kind,
        "X-Dcpower-Delivery": f"{event.pk}-{webhook.pk}-{attempt}",
        "X-Dcpower-Timestamp": timestamp,
        "X-Dcpower-Signature": sign(webhook.secret, timestamp, body),
    }
    delivery = WebhookDelivery(webhook=webhook, event=event, attempt=attempt)
    started = time.perf_counter()
    try:
        response = httpx.post(webhook.endpoint, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"[:500]
    else:
        delivery.response_status = response.status_code
        delivery.response_body = response.text[:RESPONSE_KEPT]
        delivery.succeeded = response.is_success
        if not response.is_success:
            delivery.error = f"HTTP {response.status_code}"
    delivery.duration_s = time.perf_counter() - started
    delivery.save()
    return delivery


def webhooks_for(event: Event) -> list[Webhook]:
    return [w for w in Webhook.objects.filter(active=True) if w.wants(event.kind)]
