"""Worker heartbeats (docs/adr/0015-readiness-from-worker-heartbeats.md).

Every Celery worker keeps one ``WorkerHeartbeat`` row, by its node name: written when its
consumer starts (connected to the broker, its queues chosen), rewritten every
WORKER_HEARTBEAT_S seconds with the queues it consumes then, and deleted when the consumer
stops (a clean shutdown; a lost broker connection, until it is back). /readyz
(dcpower/health.py) counts a worker live for three intervals after its last beat. Beat (the
scheduler) is not a worker and writes none.

The beats come from a thread of the worker's main process, started by a consumer bootstep:
not a Celery task (it would wait behind the very queue it vouches for) nor the worker's timer
(it runs in the event loop, which the solo pool blocks for as long as a power command lasts).
The thread opens a database connection for each beat and closes it after: a prefork pool
forks replacement children at any time, and a child must not inherit an open connection.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import bootsteps
from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models.functions import Now
from django.utils import timezone

logger = logging.getLogger(__name__)

# A row not written for this long belongs to a worker that died without saying so (SIGKILL,
# a lost machine): forgotten when the next worker starts. Until then the admin shows it.
FORGET_AFTER = timedelta(days=1)
STOP_TIMEOUT_S = 5.0  # how long a stopping worker waits for its last beat to be removed


def heartbeat_write(*, hostname: str, queues: list[str], pid: int, started_at: datetime) -> None:
    """This worker is alive now (the database's now) and consumes ``queues``."""
    from dcpower.models import WorkerHeartbeat

    beat = {"queues": sorted(queues), "pid": pid, "started_at": started_at, "last_seen": Now()}
    if WorkerHeartbeat.objects.filter(hostname=hostname).update(**beat):
        return
    try:
        WorkerHeartbeat.objects.create(hostname=hostname, **beat)
    except IntegrityError:
        # Another process with the same node name wrote first (a misconfiguration Celery
        # warns about): its row stands for both.
        logger.warning("two workers are named %s", hostname)


def heartbeat_delete(*, hostname: str) -> None:
    from dcpower.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


def heartbeats_forget_dead() -> int:
    """Delete the rows of workers not heard from for FORGET_AFTER; how many."""
    from dcpower.models import WorkerHeartbeat

    deleted, _ = WorkerHeartbeat.objects.filter(last_seen__lt=Now() - FORGET_AFTER).delete()
    return deleted


class HeartbeatThread(threading.Thread):
    """Beats at once, then every ``interval_s`` until stopped, then deletes the row."""

    def __init__(self, *, hostname: str, queues: Callable[[], list[str]], interval_s: float):
        super().__init__(name=f"heartbeat {hostname}", daemon=True)
        self.hostname = hostname
        self.queues = queues
        self.interval_s = interval_s
        self.started_at = timezone.now()
        self._stopping = threading.Event()
        self._failing = False

    def run(self) -> None:
        self._in_database(heartbeats_forget_dead)
        while True:
            self._in_database(
                lambda: heartbeat_write(
                    hostname=self.hostname,
                    queues=self.queues(),
                    pid=os.getpid(),
                    started_at=self.started_at,
                )
            )
            if self._stopping.wait(self.interval_s):
                break
        self._in_database(lambda: heartbeat_delete(hostname=self.hostname))

    def stop(self) -> None:
        self._stopping.set()
        self.join(STOP_TIMEOUT_S)

    def _in_database(self, work: Callable[[], object]) -> None:
        """Run ``work`` on a connection of its own; a failure is logged when it starts and
        when it ends, not at every beat."""
        try:
            work()
        except Exception as exc:
            if not self._failing:
                logger.warning("heartbeat of %s failing: %s", self.hostname, exc, exc_info=True)
            self._failing = True
        else:
            if self._failing:
                logger.info("heartbeat of %s recovered", self.hostname)
            self._failing = False
        finally:
            connection.close()  # this thread's own connection


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    """A consumer bootstep (registered in dcpower/celery.py): runs in the worker's main
    process with every pool, started once the consumer consumes its queues, stopped before
    the pool when the worker shuts down."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.thread: HeartbeatThread | None = None

    def start(self, parent) -> None:
        queues = parent.app.amqp.queues
        self.thread = HeartbeatThread(
            hostname=parent.hostname,
            # Read at each beat: -Q, as changed since by add_consumer or cancel_consumer.
            queues=lambda: list(queues.consume_from),
            interval_s=settings.WORKER_HEARTBEAT_S,
        )
        self.thread.start()

    def stop(self, parent) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    shutdown = terminate = stop
