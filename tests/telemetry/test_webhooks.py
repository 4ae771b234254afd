"""Events delivered to webhooks: a real HTTP receiver on loopback gets signed JSON; failed
attempts are retried by Celery with backoff until they succeed or give up, every attempt
recorded; only active webhooks that want the event's kind get it; the API keeps the secret
write-only."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from telemetry import webhooks
from telemetry.choices import EventKind
from telemetry.models import Webhook, WebhookDelivery
from telemetry.services import event_record, events_dispatch
from telemetry.tasks import deliver_event_to_webhook

pytestmark = pytest.mark.django_db

SECRET = "a-secret-of-24-characters"


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs and answers with the given statuses
    in turn (the last one repeated)."""

    def __init__(self, statuses=(200,)) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"thanks": true}' if status < 300 else b"try later")

            def log_message(self, *args):
                """Quiet: http.server would print every request to stderr."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dcpower"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = []

    def start(*statuses):
        started.append(Receiver(statuses or (200,)))
        return started[-1]

    yield start
    for r in started:
        r.close()


@pytest.fixture
def event(pdus):
    return event_record(
        EventKind.PDU_DOWN, "PDU-B does not answer", site_id=pdus[1].rack.site_id, pdu=pdus[1]
    )


def hook(url: str, **fields) -> Webhook:
    return Webhook.objects.create(
        name=fields.pop("name", "ops"), endpoint=url, secret=SECRET, **fields
    )


def test_an_event_is_posted_as_signed_json(receiver, event, pdus):
    r = receiver(200)
    webhook = hook(r.url)
    assert deliver_event_to_webhook.apply(args=[webhook.pk, event.pk]).get() is True
    ((headers, body),) = r.requests
    expected = hmac.new(
        SECRET.encode(), headers["X-Dcpower-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Dcpower-Signature"] == f"sha256={expected}"
    assert headers["X-Dcpower-Event"] == "pdu_down"
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["id"] == event.pk and payload["kind"] == "pdu_down"
    assert payload["pdu"] == {"id": pdus[1].pk, "name": "PDU-B"}
    assert payload["message"] == "PDU-B does not answer"
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.succeeded and delivery.attempt == 1 and delivery.response_status == 200
    assert delivery.response_body == '{"thanks": true}' and delivery.duration_s > 0


def test_failed_attempts_are_retried_with_backoff_and_each_recorded(receiver, event, monkeypatch):
    r = receiver(500, 503, 200)
    waits = []
    real_backoff = webhooks.backoff_s
    monkeypatch.setattr(
        webhooks, "backoff_s", lambda attempt: waits.append(attempt) or real_backoff(attempt)
    )
    webhook = hook(r.url)
    # apply(): Celery runs the retries at once, in this process (the countdown is not waited).
    assert deliver_event_to_webhook.apply(args=[webhook.pk, event.pk]).get() is True
    attempts = list(
        WebhookDelivery.objects.order_by("attempt").values_list(
            "attempt", "succeeded", "response_status", "error"
        )
    )
    assert attempts == [
        (1, False, 500, "HTTP 500"),
        (2, False, 503, "HTTP 503"),
        (3, True, 200, ""),
    ]
    assert waits == [1, 2]
    assert [webhooks.backoff_s(n) for n in (1, 2, 3, 5)] == [10, 20, 40, 160]
    # Each attempt signs afresh, with the same delivery id prefix.
    assert [h["X-Dcpower-Delivery"] for h, _ in r.requests] == [
        f"{event.pk}-{webhook.pk}-{n}" for n in (1, 2, 3)
    ]


def test_delivery_gives_up_after_the_last_attempt(event):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    webhook = hook(f"http://127.0.0.1:{port}/")
    assert deliver_event_to_webhook.apply(args=[webhook.pk, event.pk]).get() is False
    deliveries = WebhookDelivery.objects.order_by("attempt")
    assert [d.attempt for d in deliveries] == list(range(1, webhooks.MAX_ATTEMPTS + 1))
    assert not any(d.succeeded for d in deliveries)
    assert all(d.response_status is None and "ConnectError" in d.error for d in deliveries)


def test_only_active_webhooks_that_want_the_kind_are_queued(event, monkeypatch):
    queued = []
    monkeypatch.setattr(
        deliver_event_to_webhook, "apply_async", lambda args, **kw: queued.append(tuple(args))
    )
    everything = hook("http://127.0.0.1:1/a", name="all")
    downs = hook("http://127.0.0.1:1/b", name="downs", kinds=["pdu_down", "pdu_up"])
    hook("http://127.0.0.1:1/c", name="drift only", kinds=["drift"])
    hook("http://127.0.0.1:1/d", name="off", active=False)
    events_dispatch(event)
    assert sorted(queued) == sorted([(everything.pk, event.pk), (downs.pk, event.pk)])


def test_an_event_is_dispatched_once_committed(
    pdus, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        deliver_event_to_webhook, "apply_async", lambda args, **kw: queued.append(tuple(args))
    )
    webhook = hook("http://127.0.0.1:1/")
    with django_capture_on_commit_callbacks(execute=True):
        event = event_record(EventKind.DRIFT, "drift", pdu=pdus[0])
        assert queued == []  # not before the commit
    assert queued == [(webhook.pk, event.pk)]


def test_the_api_keeps_the_secret_write_only_and_checks_kinds(api, receiver):
    url = "/api/v1/webhooks/"
    created = api.post(
        url,
        {"name": "ops", "endpoint": "http://127.0.0.1:9/x", "secret": SECRET, "kinds": ["drift"]},
        format="json",
    )
    assert created.status_code == 201, created.data
    assert "secret" not in created.data and created.data["kinds"] == ["drift"]
    assert Webhook.objects.get().secret == SECRET
    bad = api.post(
        url,
        {"name": "x", "endpoint": "https://hooks.example/", "secret": SECRET, "kinds": ["flood"]},
        format="json",
    )
    assert bad.status_code == 400 and "kinds" in bad.data
    short = api.post(
        url, {"name": "y", "endpoint": "https://hooks.example/", "secret": "short"}, format="json"
    )
    assert short.status_code == 400 and "secret" in short.data
    not_a_url = api.post(url, {"name": "z", "endpoint": "nowhere", "secret": SECRET}, format="json")
    assert not_a_url.status_code == 400 and "endpoint" in not_a_url.data
    assert Webhook.objects.count() == 1


def test_deliveries_are_listed_read_only(api, receiver, event):
    r = receiver(500, 200)
    webhook = hook(r.url)
    deliver_event_to_webhook.apply(args=[webhook.pk, event.pk])
    listed = api.get("/api/v1/webhook-deliveries/", {"webhook": webhook.pk}).data["results"]
    assert [(d["attempt"], d["succeeded"]) for d in listed] == [(2, True), (1, False)]
    assert api.get("/api/v1/webhook-deliveries/", {"succeeded": "false"}).data["count"] == 1
    assert api.post("/api/v1/webhook-deliveries/", {}, format="json").status_code == 405
