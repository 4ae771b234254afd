"""A power command's task whose database connection failed (OperationalError,
InterfaceError: a failover, a connection lost while idle) is run again, as the same delivery,
a few times before it fails; other errors are not retried (power/tasks.py)."""

import pytest


def _failing_then(outcomes, calls):
    """An execute_command that raises or returns each of ``outcomes`` in turn."""

    def execute(command_id, *, claim):
        calls.append(claim)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return execute


@pytest.mark.django_db
@pytest.mark.parametrize("error", ["OperationalError", "InterfaceError"])
def test_a_command_whose_database_connection_failed_is_run_again_as_the_same_delivery(
    monkeypatch, error
):
    from django import db

    from power import tasks

    calls = []
    failure = getattr(db, error)("server closed the connection unexpectedly")
    monkeypatch.setattr(tasks, "execute_command", _failing_then([failure, "succeeded"], calls))
    result = tasks.execute_power_command.apply(args=[7], task_id="delivery-1")
    assert result.get() == "succeeded"
    assert calls == ["delivery-1", "delivery-1"]  # the claim resumes its own delivery


@pytest.mark.django_db
def test_a_database_that_stays_down_fails_the_task_after_its_retries(monkeypatch):
    from django.db import OperationalError

    from power import tasks

    calls = []
    failures = [OperationalError("down")] * (tasks.DATABASE_RETRIES + 1)
    monkeypatch.setattr(tasks, "execute_command", _failing_then(failures, calls))
    result = tasks.execute_power_command.apply(args=[7], task_id="delivery-2")
    assert isinstance(result.result, OperationalError)
    assert len(calls) == tasks.DATABASE_RETRIES + 1


@pytest.mark.django_db
def test_other_errors_are_not_retried(monkeypatch):
    from power import tasks

    calls = []
    monkeypatch.setattr(tasks, "execute_command", _failing_then([ValueError("bug")], calls))
    result = tasks.execute_power_command.apply(args=[7], task_id="delivery-3")
    assert isinstance(result.result, ValueError) and len(calls) == 1
