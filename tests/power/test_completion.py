"""Waiting for a power command to finish (power/completion.py): the announcement over Redis
pub/sub wakes a waiter at once; without Redis, or with Redis gone, the waiter reads the status
from the database; the database is the truth either way."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from power import completion
from power.choices import CommandStatus
from power.models import PowerCommand
from power.services import power_command_request
from tests.services import redis_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def command(pdus, admin_user):
    outlet = pdus[0].outlets.get(number=3)
    return power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk]).command


def later(delay_s: float, action) -> threading.Thread:
    def run():
        time.sleep(delay_s)
        try:
            action()
        finally:
            connection.close()  # the thread's own database connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def finish(command_id: int, *, announce: bool) -> None:
    PowerCommand.objects.filter(pk=command_id).update(status=CommandStatus.SUCCEEDED)
    if announce:
        completion.announce_finished(command_id, CommandStatus.SUCCEEDED)


@pytest.mark.requires_service("redis")
def test_an_announcement_wakes_the_waiter(command, settings, monkeypatch):
    settings.EVENTS_REDIS_URL = redis_url()
    # Rechecking the database only every 30 s: only the announcement can end this wait early.
    monkeypatch.setattr(completion, "RECHECK_S", 30.0)
    thread = later(0.3, lambda: finish(command.pk, announce=True))
    started = time.monotonic()
    assert completion.wait_until_finished(command.pk, 20) is True
    assert 0.3 <= time.monotonic() - started < 10
    thread.join(5)


@pytest.mark.requires_service("redis")
def test_a_lost_announcement_costs_a_recheck_not_a_wrong_answer(command, settings, monkeypatch):
    settings.EVENTS_REDIS_URL = redis_url()
    monkeypatch.setattr(completion, "RECHECK_S", 0.2)
    thread = later(0.3, lambda: finish(command.pk, announce=False))
    assert completion.wait_until_finished(command.pk, 20) is True
    thread.join(5)


@pytest.mark.requires_service("redis")
def test_a_waiter_times_out_when_nothing_happens(command, settings):
    settings.EVENTS_REDIS_URL = redis_url()
    started = time.monotonic()
    assert completion.wait_until_finished(command.pk, 0.5) is False
    assert time.monotonic() - started >= 0.5


def test_without_redis_the_waiter_reads_the_database(command, settings):
    settings.EVENTS_REDIS_URL = ""
    thread = later(0.3, lambda: finish(command.pk, announce=True))  # announcing is a no-op
    assert completion.wait_until_finished(command.pk, 20) is True
    thread.join(5)


def test_an_unreachable_redis_neither_fails_a_command_nor_a_waiter(command, settings):
    settings.EVENTS_REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    completion.announce_finished(command.pk, CommandStatus.SUCCEEDED)  # logged, not raised
    thread = later(0.3, lambda: finish(command.pk, announce=False))
    assert completion.wait_until_finished(command.pk, 20) is True
    thread.join(5)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed
