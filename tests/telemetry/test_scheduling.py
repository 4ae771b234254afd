"""What is polled when: every PDU on its interval (its own, else its site's, else the default),
never queued twice while a poll is on its way, queued again when that poll was lost; each
site's polls on the site's own queue; a finished power command's PDUs re-polled at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from power.choices import CommandStatus
from power.completion import command_finished
from power.services import power_command_request
from telemetry import services
from telemetry.choices import EventKind
from telemetry.models import Event, PduStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The poll tasks handed to the broker: (pdu ids, queue)."""
    from telemetry.tasks import poll_pdus_task

    sent = []
    monkeypatch.setattr(
        poll_pdus_task,
        "apply_async",
        lambda args, queue, **kw: sent.append((args[0], queue)),
    )
    return sent


def polled(pdu, ago_s: float, **fields) -> None:
    PduStatus.objects.update_or_create(
        pdu=pdu, defaults={"last_poll_at": timezone.now() - timedelta(seconds=ago_s), **fields}
    )


def test_never_polled_pdus_are_due_on_their_sites_queue(pdus, queued, settings):
    due = services.schedule_due_polls()
    site_id = pdus[0].rack.site_id
    assert due == {site_id: [pdus[0].pk, pdus[1].pk]}
    assert queued == [([pdus[0].pk, pdus[1].pk], f"telemetry.site.{site_id}")]
    assert all(s.poll_queued_at for s in PduStatus.objects.all())
    # Queued and not yet polled: not queued again.
    assert services.schedule_due_polls() == {}
    assert len(queued) == 1


def test_the_interval_is_the_pdus_else_the_sites_else_the_default(pdus, site, settings):
    settings.TELEMETRY_POLL_INTERVAL_S = 30
    pdu_a, pdu_b = pdus
    polled(pdu_a, 20)
    polled(pdu_b, 20)
    assert services.pdus_due() == {}
    site.poll_interval_s = 10
    site.save()
    assert services.pdus_due() == {site.pk: [pdu_a.pk, pdu_b.pk]}
    pdu_b.poll_interval_s = 60
    pdu_b.save()
    assert services.pdus_due() == {site.pk: [pdu_a.pk]}


def test_a_lost_poll_is_queued_again(pdus, site, settings):
    settings.TELEMETRY_POLL_INTERVAL_S = 30
    pdu_a, pdu_b = pdus
    stale = timezone.now() - timedelta(seconds=61)
    polled(pdu_a, 40, poll_queued_at=stale)  # queued a minute ago and never polled
    polled(pdu_b, 40, poll_queued_at=timezone.now())
    assert services.pdus_due() == {site.pk: [pdu_a.pk]}


def test_sites_are_polled_on_their_own_queues(pdus, queued):
    other_rack = factories.make_rack(site=factories.make_site(name="DC2", slug="dc2"))
    far = factories.make_pdu(rack=other_rack, name="PDU-X")
    services.schedule_due_polls()
    assert sorted(queue for _, queue in queued) == sorted(
        [f"telemetry.site.{pdus[0].rack.site_id}", f"telemetry.site.{far.rack.site_id}"]
    )


def test_a_large_site_is_polled_in_batches(rack, queued, monkeypatch):
    monkeypatch.setattr(services, "POLL_BATCH", 2)
    made = [factories.make_pdu(rack=rack, name=f"P{n}", outlet_count=1) for n in range(5)]
    services.schedule_due_polls()
    assert [ids for ids, _ in queued] == [
        [made[0].pk, made[1].pk],
        [made[2].pk, made[3].pk],
        [made[4].pk],
    ]


def test_a_finished_command_is_an_event_and_its_pdus_are_polled_at_once(pdus, admin_user, queued):
    outlet = pdus[1].outlets.get(number=3)
    command = power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk]).command
    command_finished(command, CommandStatus.SUCCEEDED, [pdus[1].pk])
    (event,) = Event.objects.filter(kind=EventKind.COMMAND_FINISHED)
    assert event.command == command and event.data["status"] == "succeeded"
    assert queued == [([pdus[1].pk], f"telemetry.site.{command.site_id}")]


def test_a_cancelled_command_touches_no_pdu(pdus, admin_user, queued):
    outlet = pdus[0].outlets.get(number=3)
    command = power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk]).command
    command_finished(command, CommandStatus.CANCELLED, [pdus[0].pk])
    assert Event.objects.filter(kind=EventKind.COMMAND_FINISHED).count() == 1
    assert queued == []


def test_a_failing_receiver_does_not_fail_the_command(pdus, admin_user, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(services, "poll_soon", broken)
    outlet = pdus[0].outlets.get(number=3)
    command = power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk]).command
    command_finished(command, CommandStatus.SUCCEEDED, [pdus[0].pk])  # does not raise
    assert "failed for finished power command" in caplog.text
