"""The Celery application. Every device operation runs as a task on a worker of this app.

Configuration comes from Django settings under the ``CELERY_`` prefix (see settings.py): the
broker is Redis in production and CI, and a file-system transport that needs no server when
``CELERY_BROKER_URL`` is unset.
"""

import os

from celery import Celery
from celery.signals import celeryd_init, setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcpower.settings")

app = Celery("dcpower")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fix-up closes every database connection before and after each task unless
# told to reuse them, so every power command opened a new PostgreSQL connection: about 4 ms of
# a one-outlet command's path (bench/power_commands.py). Workers treat their connections as
# the web processes do instead (CONN_MAX_AGE, CONN_HEALTH_CHECKS; see the receivers below);
# the fix-up still closes what a prefork child inherits from its parent.
app.conf.CELERY_DB_REUSE_MAX = 2**62  # tasks between forced closes: never, in practice
app.autodiscover_tasks()
# Every worker's main process records that it is alive and which queues it consumes, for
# /readyz (dcpower/heartbeat.py, docs/adr/0015-readiness-from-worker-heartbeats.md).
app.steps["consumer"].add("dcpower.heartbeat:WorkerHeartbeatStep")


@setup_logging.connect
def _log_through_django_settings(loglevel=None, logfile=None, **kwargs):
    """Workers and beat log like the web processes (LOG_FORMAT, context, secrets masked):
    with a receiver here, Celery does not replace the root logger's handlers with its own."""
    from dcpower.logs import configure_celery_logging

    configure_celery_logging(loglevel=loglevel, logfile=logfile)


@celeryd_init.connect
def _name_the_worker_in_logs(sender=None, **kwargs):
    """Sent with the worker's node name in its main process, before the pool forks."""
    from dcpower.logs import set_worker_name

    set_worker_name(sender or "")


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_around_a_request(sender=None, **kwargs):
    """Around every task a worker runs, what Django does around every request: close a
    connection that is broken or older than CONN_MAX_AGE; keep the rest (checked before reuse
    with CONN_HEALTH_CHECKS). A task applied in-process (eagerly) runs inside its caller,
    whose connection is the caller's to manage, as Celery's fix-up also leaves it."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
