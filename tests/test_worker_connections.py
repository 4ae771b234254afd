"""Workers keep their database connections across tasks as web processes keep theirs across
requests (dcpower/celery.py): Celery's Django fix-up no longer closes them around every task,
which cost every power command a new PostgreSQL connection; Django's own rule closes one that
is broken or past CONN_MAX_AGE."""

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from dcpower.celery import app
from power.tasks import execute_power_command as a_task

# A connection that opens, lives and closes: PostgreSQL's. The SQLite test database is one
# in-memory connection that Django never closes.
pytestmark = pytest.mark.requires_service("postgres")


@pytest.fixture
def worker_fixup(monkeypatch):
    """Celery's fix-up as a worker installs it, and a connection that may live a minute."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.ensure_connection()
    fixup = DjangoWorkerFixup(app).install()
    try:
        yield fixup
    finally:
        task_prerun.disconnect(fixup.on_task_prerun)
        task_postrun.disconnect(fixup.on_task_postrun)


def run_a_task() -> None:
    """The signals a worker sends around a task, as the worker sends them."""
    task = a_task
    task_prerun.send(sender=task, task_id="t-1", task=task, args=(1,), kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    task_postrun.send(sender=task, task_id="t-1", task=task, args=(1,), kwargs={}, retval=None)


@pytest.mark.django_db(transaction=True)
def test_tasks_reuse_the_workers_database_connection(worker_fixup):
    before = connection.connection
    for _ in range(3):
        run_a_task()
    assert connection.connection is before
    assert not before.closed


@pytest.mark.django_db(transaction=True)
def test_a_broken_connection_is_closed_after_the_task(worker_fixup, monkeypatch):
    before = connection.connection
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    task = a_task
    task_prerun.send(sender=task, task_id="t-2", task=task, args=(1,), kwargs={})
    connection.errors_occurred = True  # as after a query that failed on a dead connection
    task_postrun.send(sender=task, task_id="t-2", task=task, args=(1,), kwargs={}, retval=None)
    assert connection.connection is None
    assert before.closed


@pytest.mark.django_db(transaction=True)
def test_an_old_connection_is_replaced_before_the_next_task(worker_fixup, monkeypatch):
    before = connection.connection
    monkeypatch.setattr(connection, "close_at", 0.0)  # past CONN_MAX_AGE
    run_a_task()
    assert connection.connection is not None and connection.connection is not before


@pytest.mark.django_db
def test_a_task_applied_in_process_leaves_its_callers_connection_alone():
    """Eagerly, as tests and in-process callers run tasks: the caller's connection (here the
    test's transaction) must survive."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    before = connection.connection
    a_task.apply(args=[999_999], kwargs={"request_id": "eager"})  # no such command: it fails
    assert connection.connection is before and not before.closed
