"""Request ids: echoed (or made), on every log line of the request, stored with the power
command it creates, and bound by the worker while it runs that command."""

from __future__ import annotations

import logging

import pytest

from dcpower.request_id import RequestIdLogFilter, bind_request_id, current_request_id
from power.models import PowerCommand

pytestmark = pytest.mark.django_db


def test_a_sane_request_id_is_echoed_and_stored_with_the_command(api, pdus):
    outlet = pdus[0].outlets.get(number=3)
    response = api.post(
        f"/api/v1/outlets/{outlet.pk}/power/on/", {}, headers={"X-Request-ID": "inc-4711.a"}
    )
    assert response.status_code == 202
    assert response["X-Request-ID"] == "inc-4711.a"
    assert response.data["request_id"] == "inc-4711.a"
    assert PowerCommand.objects.get().request_id == "inc-4711.a"


@pytest.mark.parametrize("offered", [None, "", "has spaces", "x" * 101, "<script>"])
def test_otherwise_a_new_one_is_made(api, offered):
    headers = {"X-Request-ID": offered} if offered is not None else {}
    first = api.get("/api/v1/sites/", headers=headers)["X-Request-ID"]
    second = api.get("/api/v1/sites/", headers=headers)["X-Request-ID"]
    assert len(first) == 32 and first != second and first != offered


def test_log_lines_carry_the_current_request_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    RequestIdLogFilter().filter(record)
    assert record.request_id == "-"
    token = bind_request_id("req-1")
    try:
        assert current_request_id() == "req-1"
        RequestIdLogFilter().filter(record)
        assert record.request_id == "req-1"
    finally:
        token.var.reset(token)
    assert current_request_id() == ""
