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
    assert completion.wait_until_finished(command.pk, 20) == completion.Waited(True)
    assert 0.3 <= time.monotonic() - started < 10
    thread.join(5)


@pytest.mark.requires_service("redis")
def test_a_lost_announcement_costs_a_recheck_not_a_wrong_answer(command, settings, monkeypatch):
    settings.EVENTS_REDIS_URL = redis_url()
    monkeypatch.setattr(completion, "RECHECK_S", 0.2)
    thread = later(0.3, lambda: finish(command.pk, announce=False))
    assert completion.wait_until_finished(command.pk, 20) == completion.Waited(True)
    thread.join(5)


@pytest.mark.requires_service("redis")
def test_a_waiter_times_out_when_nothing_happens(command, settings):
    settings.EVENTS_REDIS_URL = redis_url()
    started = time.monotonic()
    assert completion.wait_until_finished(command.pk, 0.5) == completion.Waited(False)
    assert time.monotonic() - started >= 0.5


def test_without_redis_the_waiter_reads_the_database(command, settings):
    settings.EVENTS_REDIS_URL = ""
    thread = later(0.3, lambda: finish(command.pk, announce=True))  # announcing is a no-op
    assert completion.wait_until_finished(command.pk, 20) == completion.Waited(True)
    thread.join(5)


def test_an_unreachable_redis_neither_fails_a_command_nor_a_waiter(command, settings):
    settings.EVENTS_REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    completion.announce_finished(command.pk, CommandStatus.SUCCEEDED)  # logged, not raised
    thread = later(0.3, lambda: finish(command.pk, announce=False))
    assert completion.wait_until_finished(command.pk, 20) == completion.Waited(True)
    thread.join(5)


def test_an_unreachable_redis_does_not_delay_a_waiter(command, settings):
    settings.EVENTS_REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    finish(command.pk, announce=False)
    started = time.monotonic()
    assert completion.wait_until_finished(command.pk, 20) == completion.Waited(True)
    # The refused connection sends the waiter to the database at once, not after the 2 s
    # it would give a subscription that is slow to come up.
    assert time.monotonic() - started < 1.0


# --- One subscription per process -----------------------------------------------------------


def _listener_connections(client) -> list[dict]:
    """The listener connections on ``client``'s Redis database (listeners for other URLs,
    such as the worker tests' database, have their own)."""
    db = str(client.connection_pool.connection_kwargs.get("db", 0))
    return [
        c
        for c in client.client_list()
        if c["name"] == completion.LISTENER_CLIENT_NAME and c["db"] == db
    ]


def _waiting(command_ids: list[int]):
    """Threads waiting for ``command_ids``; their results in the returned dict."""
    results: dict[int, completion.Waited] = {}

    def wait(command_id):
        try:
            results[command_id] = completion.wait_until_finished(command_id, 20)
        finally:
            connection.close()

    threads = [threading.Thread(target=wait, args=(pk,), daemon=True) for pk in command_ids]
    for thread in threads:
        thread.start()
    return threads, results


def _until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def commands(pdus, admin_user):
    outlets = pdus[0].outlets.order_by("number")[:4]
    return [
        power_command_request(user=admin_user, action="on", outlet_ids=[o.pk]).command
        for o in outlets
    ]


@pytest.mark.requires_service("redis")
def test_waiters_share_one_subscription_and_each_gets_its_own_announcement(
    commands, settings, monkeypatch
):
    import redis

    settings.EVENTS_REDIS_URL = redis_url()
    monkeypatch.setattr(completion, "RECHECK_S", 30.0)  # only announcements end these waits
    client = redis.Redis.from_url(redis_url())
    ids = [c.pk for c in commands]
    threads, results = _waiting(ids)
    listener = completion._listener(redis_url())
    _until(lambda: sum(len(w) for w in listener._waiters.values()) == len(ids))
    assert len(_listener_connections(client)) == 1

    # Announced only, the database left as it is: a waiter whose first status read came
    # after a finished status would rightly answer from the database instead.
    for pk in ids:
        outcome = _outcome(status=CommandStatus.SUCCEEDED, error=f"command {pk}")
        completion.announce_finished(pk, CommandStatus.SUCCEEDED, outcome)
    for thread in threads:
        thread.join(10)
    assert {pk: w.outcome.error for pk, w in results.items()} == {pk: f"command {pk}" for pk in ids}
    assert listener._waiters == {}
    client.close()


@pytest.mark.requires_service("redis")
def test_a_wait_leaves_the_process_redis_connection_connected(command, settings):
    """A subscription of a request's own took a connection from the process's pool and left
    it disconnected: the next command on that pool (the rate limit's, on the next POST's
    path) connected again."""
    from dcpower.redis_clients import redis_client

    settings.EVENTS_REDIS_URL = redis_url()
    client = redis_client(redis_url())
    before = client.client_id()
    thread = later(0.2, lambda: finish(command.pk, announce=True))
    assert completion.wait_until_finished(command.pk, 20).finished
    thread.join(5)
    assert client.client_id() == before


@pytest.mark.requires_service("redis")
def test_the_subscription_comes_back_after_its_connection_is_killed(command, settings, monkeypatch):
    import redis

    settings.EVENTS_REDIS_URL = redis_url()
    monkeypatch.setattr(completion, "RECHECK_S", 30.0)
    client = redis.Redis.from_url(redis_url())
    threads, results = _waiting([command.pk])
    _until(lambda: len(_listener_connections(client)) == 1)
    listener = completion._listener(redis_url())
    _until(lambda: listener._waiters)
    killed = _listener_connections(client)[0]["id"]
    client.client_kill_filter(_id=killed)
    # Subscribed again on a new connection, with the waiter still waiting.
    _until(
        lambda: (
            [c["id"] for c in _listener_connections(client)] not in ([], [killed])
            and listener._subscribed
        )
    )
    finish(command.pk, announce=True)
    threads[0].join(10)
    assert results[command.pk] == completion.Waited(True)
    client.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


# --- The outcome an announcement carries ------------------------------------------------


def _outcome(**changes):
    from datetime import UTC, datetime

    started = datetime(2026, 12, 1, 3, 4, 5, 123456, tzinfo=UTC)
    outlets = {
        7: {
            "outcome": "succeeded",
            "step": "done",
            "state_before": "on",
            "state_after": "off",
            "attempts": 1,
            "error": "",
            "started_at": started,
            "finished_at": started,
        },
        8: {
            "outcome": "failed",
            "step": "done",
            "state_before": "",
            "state_after": "",
            "attempts": 0,
            "error": "no answer",
            "started_at": None,
            "finished_at": started,
        },
    }
    fields = dict(
        status="partially_failed", started_at=started, finished_at=None, error="", outlets=outlets
    )
    return completion.CommandOutcome(**(fields | changes))


def test_an_outcome_survives_its_message():
    outcome = _outcome()
    assert completion.CommandOutcome.from_message(outcome.to_message()) == outcome
    assert completion.CommandOutcome.from_message(outcome.to_message().encode()) == outcome


@pytest.mark.parametrize(
    "message",
    [
        "succeeded",  # a bare status: a cancellation, or an executor of an earlier version
        "",
        '{"status": "succeeded"}',
        '{"status": "succeeded", "started_at": null, "finished_at": null, "error": "",'
        ' "outlet_fields": ["outlet_id", "outcome"], "outlets": [[7, "succeeded"]]}',
        "[1, 2]",
    ],
)
def test_an_announcement_without_a_readable_outcome_leaves_the_answer_to_the_database(message):
    assert completion.CommandOutcome.from_message(message) is None


def test_an_outcome_is_applied_only_to_the_same_outlets(command):
    rows = command.results_at_hand
    outlet_id = rows[0].outlet_id
    other = _outcome()
    assert other.apply(command) is False  # outlets 7 and 8: not this command's
    assert command.status == CommandStatus.PENDING and rows[0].outcome == "pending"

    outcome = _outcome(outlets={outlet_id: other.outlets[7]})
    assert outcome.apply(command) is True
    assert (command.status, command.started_at) == (outcome.status, outcome.started_at)
    assert (rows[0].outcome, rows[0].state_after, rows[0].attempts) == ("succeeded", "off", 1)

    loaded = PowerCommand.objects.get(pk=command.pk)  # no rows at hand: nothing to apply to
    assert outcome.apply(loaded) is False and loaded.status == CommandStatus.PENDING


@pytest.mark.requires_service("redis")
def test_a_waiter_receives_the_announced_outcome(command, settings, monkeypatch):
    settings.EVENTS_REDIS_URL = redis_url()
    monkeypatch.setattr(completion, "RECHECK_S", 30.0)
    outcome = _outcome(status=CommandStatus.SUCCEEDED)

    def finish_and_announce():
        PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.SUCCEEDED)
        completion.announce_finished(command.pk, CommandStatus.SUCCEEDED, outcome)

    thread = later(0.3, finish_and_announce)
    assert completion.wait_until_finished(command.pk, 20) == completion.Waited(True, outcome)
    thread.join(5)


def test_the_outcome_carries_every_result_field_an_answer_shows():
    """A result field the answer shows but the announcement does not carry would be answered
    as the request created it (ADR 0019): the schema's result fields, less the outlet."""
    from power.api.serializers import PowerCommandOutletSerializer

    shown = set(PowerCommandOutletSerializer().fields) - {"outlet"}
    assert set(completion.OUTLET_FIELDS) == shown
