"""Waiting for a power command to finish without polling the API.

The executor (and a cancellation) announces a finished command once its transaction has
committed; a request that asked to wait (``Prefer: wait=N`` on the POST, ``?wait=N`` on the
detail GET) blocks until then or for N seconds. With Redis (``EVENTS_REDIS_URL``, by default
the broker's when the broker is Redis) the announcement is a pub/sub message; without it (the
embedded defaults) the waiting request reads the command's status every
``POLL_WITHOUT_REDIS_S``. Either way the database stays the truth: the waiter subscribes
before it reads the status, and reads it again now and then, so a lost message costs at most
``RECHECK_S`` of extra waiting, never a wrong answer.
"""

from __future__ import annotations

import functools
import logging
import time

import redis
from django.conf import settings

from power.choices import ACTIVE_COMMAND_STATUSES

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "dcpower:power-command-finished:"
POLL_WITHOUT_REDIS_S = 0.05
RECHECK_S = 1.0


def channel(command_id: int) -> str:
    return f"{CHANNEL_PREFIX}{command_id}"


def _redis() -> redis.Redis | None:
    """The process's client for ``EVENTS_REDIS_URL``, or None without one."""
    url = settings.EVENTS_REDIS_URL
    return _client_for(url) if url else None


@functools.cache
def _client_for(url: str) -> redis.Redis:
    # One client, with its connection pool, per URL and process.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def announce_finished(command_id: int, status: str) -> None:
    """Tell waiting requests that the command has finished. Call after the commit. Best
    effort: a waiter that misses it finds the status in the database at its next recheck."""
    client = _redis()
    if client is None:
        return
    try:
        client.publish(channel(command_id), status)
    except (redis.RedisError, OSError):  # Redis down must not fail a finished command
        logger.warning("could not announce power command %s finished", command_id, exc_info=True)


def command_finished(command, status: str, pdu_ids: list[int]) -> None:
    """After the commit that finished (or cancelled) a command: wake the requests waiting on
    it, and tell whoever listens (power.signals.power_command_finished)."""
    from power.signals import power_command_finished

    announce_finished(command.pk, status)
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


def wait_until_finished(command_id: int, timeout_s: float) -> bool:
    """Block until the command has finished (True) or ``timeout_s`` has passed (False)."""
    deadline = time.monotonic() + timeout_s
    client = _redis()
    if client is None:
        return _poll(command_id, deadline)
    try:
        pubsub = client.pubsub()
        pubsub.subscribe(channel(command_id))
        # Wait for the confirmation: only then is a later announcement sure to reach us, so
        # the status read below cannot miss a command finishing in between.
        pubsub.get_message(timeout=min(2.0, timeout_s))
    except (redis.RedisError, OSError):  # fall back to reading the status
        logger.warning("waiting for command %s without Redis", command_id, exc_info=True)
        return _poll(command_id, deadline)
    try:
        while True:
            if _is_finished(command_id):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                message = pubsub.get_message(timeout=min(remaining, RECHECK_S))
            except (redis.RedisError, OSError):
                return _poll(command_id, deadline)
            if message and message.get("type") == "message":
                return True
    finally:
        pubsub.close()


def _poll(command_id: int, deadline: float) -> bool:
    while True:
        if _is_finished(command_id):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(POLL_WITHOUT_REDIS_S, max(0.0, deadline - time.monotonic())))
