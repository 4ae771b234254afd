"""Waiting for a power command to finish without polling the API.

The executor (and a cancellation) announces a finished command once its transaction has
committed; a request that asked to wait (``Prefer: wait=N`` on the POST, ``?wait=N`` on the
detail GET) blocks until then or for N seconds. With Redis (``EVENTS_REDIS_URL``, by default
the broker's when the broker is Redis) the announcement is a pub/sub message; without it (the
embedded defaults) the waiting request reads the command's status every
``POLL_WITHOUT_REDIS_S``. Either way the database stays the truth: the waiter subscribes
before it reads the status, and reads it again now and then, so a lost message costs at most
``RECHECK_S`` of extra waiting, never a wrong answer.

The executor's announcement carries the outcome it has just committed (``CommandOutcome``:
the command's status and times, each outlet's result), so the request that created the
command and waited answers from it, without reading the command back: on the critical path of
a one-outlet command those reads were a tenth of its time. Whatever else wakes a waiter (a
cancellation, a recheck of the database, an announcement it cannot use) leaves the answer to
the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from datetime import datetime

import redis
from django.conf import settings

from dcpower.redis_clients import redis_client
from power.choices import ACTIVE_COMMAND_STATUSES

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "dcpower:power-command-finished:"
LISTENER_CLIENT_NAME = "dcpower-command-announcements"  # its connection, in CLIENT LIST
POLL_WITHOUT_REDIS_S = 0.05
RECHECK_S = 1.0


def channel(command_id: int) -> str:
    return f"{CHANNEL_PREFIX}{command_id}"


def _redis() -> redis.Redis | None:
    """The process's client for ``EVENTS_REDIS_URL``, or None without one."""
    url = settings.EVENTS_REDIS_URL
    return redis_client(url) if url else None


# What an answer shows of each outlet's result, as the announcement carries it.
OUTLET_FIELDS = (
    "outcome",
    "step",
    "state_before",
    "state_after",
    "attempts",
    "error",
    "started_at",
    "finished_at",
)
_TIMES = {"started_at", "finished_at"}


@dataclasses.dataclass(frozen=True)
class CommandOutcome:
    """A finished command as its executor committed it: what an answer shows of the command
    (status, times, error) and of each outlet's result, by outlet id."""

    status: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str
    outlets: dict[int, dict]  # outlet id -> {field in OUTLET_FIELDS: value}

    @classmethod
    def of(cls, command, rows) -> CommandOutcome:
        """``command`` and its result ``rows`` as they stand (just committed)."""
        return cls(
            status=command.status,
            started_at=command.started_at,
            finished_at=command.finished_at,
            error=command.error,
            outlets={row.outlet_id: {f: getattr(row, f) for f in OUTLET_FIELDS} for row in rows},
        )

    def to_message(self) -> str:
        # Rows as lists under their field names: half the size of a dict a row, and a waiter
        # of another version (a rolling upgrade) finds by name what it needs, or reads the
        # database.
        return json.dumps(
            {
                "status": self.status,
                "started_at": _iso(self.started_at),
                "finished_at": _iso(self.finished_at),
                "error": self.error,
                "outlet_fields": ["outlet_id", *OUTLET_FIELDS],
                "outlets": [
                    [outlet_id, *(_iso(v[f]) if f in _TIMES else v[f] for f in OUTLET_FIELDS)]
                    for outlet_id, v in self.outlets.items()
                ],
            }
        )

    @classmethod
    def from_message(cls, data: bytes | str) -> CommandOutcome | None:
        """The outcome in an announcement, or None when it carries none that this version
        can read (a bare status, as a cancellation or an older executor announces)."""
        try:
            message = json.loads(data)
            positions = {name: i for i, name in enumerate(message["outlet_fields"])}
            outlets = {
                row[positions["outlet_id"]]: {
                    f: _time(row[positions[f]]) if f in _TIMES else row[positions[f]]
                    for f in OUTLET_FIELDS
                }
                for row in message["outlets"]
            }
            return cls(
                status=message["status"],
                started_at=_time(message["started_at"]),
                finished_at=_time(message["finished_at"]),
                error=message["error"],
                outlets=outlets,
            )
        except (ValueError, TypeError, KeyError, IndexError):
            return None

    def apply(self, command) -> bool:
        """Write this outcome into ``command`` and the result rows it holds from its creation
        (``results_at_hand``), for its answer. False, changing nothing, when they are not the
        same outlets: the caller reads the command from the database instead."""
        rows = command.__dict__.get("results_at_hand")
        if rows is None or {row.outlet_id for row in rows} != set(self.outlets):
            return False
        command.status = self.status
        command.started_at, command.finished_at = self.started_at, self.finished_at
        command.error = self.error
        for row in rows:
            for name, value in self.outlets[row.outlet_id].items():
                setattr(row, name, value)
        return True


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None  # microseconds kept


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


@dataclasses.dataclass(frozen=True)
class Waited:
    """How a wait ended: ``finished`` or not (the time ran out); ``outcome`` as the executor
    announced it, or None when the answer must come from the database."""

    finished: bool
    outcome: CommandOutcome | None = None


def announce_finished(command_id: int, status: str, outcome: CommandOutcome | None = None) -> None:
    """Tell waiting requests that the command has finished, with its committed ``outcome``
    when the caller has it. Call after the commit. Best effort: a waiter that misses it finds
    the status in the database at its next recheck."""
    client = _redis()
    if client is None:
        return
    try:
        client.publish(channel(command_id), outcome.to_message() if outcome else status)
    except (redis.RedisError, OSError):  # Redis down must not fail a finished command
        logger.warning("could not announce power command %s finished", command_id, exc_info=True)


def command_finished(
    command, status: str, pdu_ids: list[int], outcome: CommandOutcome | None = None
) -> None:
    """After the commit that finished (or cancelled) a command: wake the requests waiting on
    it, and tell whoever listens (power.signals.power_command_finished)."""
    from power.signals import power_command_finished

    announce_finished(command.pk, status, outcome)
    for receiver, result in power_command_finished.send_robust(
        sender=type(command),
        command_id=command.pk,
        status=status,
        site_id=command.site_id,
        pdu_ids=pdu_ids,
    ):
        if isinstance(result, Exception):
            logger.error(
                "%s failed for finished power command %s",
                getattr(receiver, "__qualname__", receiver),
                command.pk,
                exc_info=result,
            )


def _is_finished(command_id: int) -> bool:
    from power.models import PowerCommand

    status = PowerCommand.objects.filter(pk=command_id).values_list("status", flat=True).first()
    return status is None or status not in ACTIVE_COMMAND_STATUSES


def wait_until_finished(command_id: int, timeout_s: float) -> Waited:
    """Block until the command has finished or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    url = settings.EVENTS_REDIS_URL
    waiter = _listener(url).register(command_id, min(2.0, timeout_s)) if url else None
    if waiter is None:  # no Redis, or not reachable: read the status
        return Waited(_poll(command_id, deadline))
    try:
        while True:
            # An announcement answers without a read (it came after the listener was
            # subscribed, so it is the command's latest); else the database, now and then.
            if waiter.announced.is_set():
                return Waited(True, CommandOutcome.from_message(waiter.message))
            if _is_finished(command_id):
                return Waited(True)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Waited(False)
            waiter.announced.wait(min(remaining, RECHECK_S))
    finally:
        waiter.listener.unregister(waiter)


@dataclasses.dataclass(eq=False)
class _Waiter:
    """A request waiting for one command's announcement."""

    listener: _Listener
    command_id: int
    announced: threading.Event = dataclasses.field(default_factory=threading.Event)
    message: bytes = b""


class _Listener:
    """The process's one subscription to every command's announcements, on a connection of
    its own, kept open by a thread that hands each announcement to the requests waiting for
    that command.

    A waiting request used to subscribe on a connection of its own, wait for the
    confirmation, and unsubscribe: two round trips per wait, and a connection taken from the
    process's pool that closing the subscription left disconnected, so that the next command
    on that pool (the power rate limit's, on the next POST's path) connected again. The
    thread stops when its connection fails while nobody waits; the next wait starts another.
    A message lost while the connection is down costs a waiter a recheck of the database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # subscribed, or an attempt failed
        self._waiters: dict[int, set[_Waiter]] = {}
        self._subscribed = False
        self._failures = 0
        self._thread: threading.Thread | None = None

    def register(self, command_id: int, timeout_s: float) -> _Waiter | None:
        """Wait for ``command_id``'s announcement from now on; None, at once, if Redis
        cannot be reached, or if the subscription is not up within ``timeout_s``: the
        caller reads the database instead."""
        waiter = _Waiter(self, command_id)
        with self._lock:
            self._waiters.setdefault(command_id, set()).add(waiter)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="dcpower-command-announcements", daemon=True
                )
                self._thread.start()
            # Only once subscribed is an announcement made after this point sure to reach
            # us, so that the caller's status read cannot miss a command finishing between.
            failures = self._failures
            self._changed.wait_for(lambda: self._subscribed or self._failures > failures, timeout_s)
            if self._subscribed:
                return waiter
        self.unregister(waiter)
        return None

    def unregister(self, waiter: _Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(waiter.command_id, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(waiter.command_id, None)

    def _run(self) -> None:
        backoff_s = 0.1
        while True:
            client = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=2,
                health_check_interval=30,  # a PING when idle that long: a dead peer is found
                client_name=LISTENER_CLIENT_NAME,
            )
            pubsub = client.pubsub()
            try:
                pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                while True:
                    message = pubsub.get_message(timeout=30)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        with self._lock:
                            self._subscribed = True
                            self._changed.notify_all()
                        backoff_s = 0.1
                    elif message["type"] == "pmessage":
                        self._deliver(message["channel"], message["data"])
            except Exception:  # Redis failed, or anything else: the thread must go on
                logger.warning("power command announcements: listening failed", exc_info=True)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
                    client.close()
            with self._lock:
                self._subscribed = False
                self._failures += 1
                self._changed.notify_all()
                if not self._waiters:  # nobody to listen for: the next wait starts again
                    self._thread = None
                    return
            time.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, 5.0)

    def _deliver(self, channel_name: bytes, data: bytes) -> None:
        try:
            command_id = int(channel_name.decode().removeprefix(CHANNEL_PREFIX))
        except ValueError:
            return
        with self._lock:
            waiters = list(self._waiters.get(command_id, ()))
        for waiter in waiters:
            waiter.message = data
            waiter.announced.set()


_listeners: dict[tuple[int, str], _Listener] = {}
_listeners_lock = threading.Lock()


def _listener(url: str) -> _Listener:
    """The process's listener for ``url`` (a forked child starts its own)."""
    key = (os.getpid(), url)
    with _listeners_lock:
        if key not in _listeners:
            _listeners[key] = _Listener(url)
        return _listeners[key]


def _poll(command_id: int, deadline: float) -> bool:
    while True:
        if _is_finished(command_id):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(POLL_WITHOUT_REDIS_S, max(0.0, deadline - time.monotonic())))
