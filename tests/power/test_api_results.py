"""A command's per-outlet results are written out from plain values
(power.api.serializers.PowerCommandResultsSerializer), not through DRF's generic serializer:
these tests hold the two to the same JSON, byte for byte, for every way the rows reach it (just
written, read back for one command, read for a page of the list), so that a later change to
either cannot drift silently; and pin the queries of a command's POST and GET, whatever its
number of outlets."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from inventory.models import Outlet
from power.api.serializers import (
    PowerCommandOutletSerializer,
    PowerCommandSerializer,
    power_command_results,
)
from power.choices import OutletOutcome, OutletStep
from power.models import PowerCommand, PowerCommandOutlet
from tests import factories

pytestmark = pytest.mark.django_db

COMMANDS = "/api/v1/power/commands/"
T = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def as_json(data) -> str:
    """Order-sensitive: the same keys in the same order, the same values."""
    return json.dumps(data, ensure_ascii=False)


def generic_results(command: PowerCommand, request) -> list:
    """What DRF's generic path writes: PowerCommandOutletSerializer(many=True) over model
    instances, as the API answered before the results had a path of their own."""
    rows = PowerCommandOutlet.objects.filter(command=command).select_related("outlet__pdu")
    return PowerCommandOutletSerializer(rows, many=True, context={"request": request}).data


def drf_request(path: str = "/") -> Request:
    return Request(APIRequestFactory().get(path))


@pytest.fixture
def outlets(pdus):
    Outlet.objects.update(state="on")
    return list(Outlet.objects.order_by("pdu__name", "number"))


@pytest.fixture
def command(api, outlets):
    """A command on 8 outlets whose rows are in every state a row can be in."""
    response = api.post(
        COMMANDS,
        {"action": "cycle", "outlets": [o.pk for o in outlets[:8]], "reason": "x", "force": True},
        format="json",
    )
    assert response.status_code == 202, response.data
    command = PowerCommand.objects.get(pk=response.data["id"])
    rows = list(command.outlets.order_by("outlet_id"))
    states = [
        {},  # pending, never started
        {
            "outcome": OutletOutcome.SUCCEEDED,
            "step": OutletStep.DONE,
            "state_before": "on",
            "state_after": "on",
            "attempts": 1,
            "started_at": T,
            "finished_at": T + timedelta(seconds=1, microseconds=5),
        },
        {
            "outcome": OutletOutcome.FAILED,
            "step": OutletStep.OFF_SENT,
            "state_before": "on",
            "attempts": 3,
            "error": 'no answer from "PDU-A" <timeout> ü',
            "started_at": T.replace(microsecond=0),
        },
        {"step": OutletStep.OFF_VERIFIED, "state_before": "on", "attempts": 1, "started_at": T},
        {"outcome": OutletOutcome.CANCELLED, "finished_at": T},
        {"outcome": OutletOutcome.FAILED, "state_after": "unknown", "error": "x" * 300},
    ]
    for row, fields in zip(rows, states, strict=False):
        PowerCommandOutlet.objects.filter(pk=row.pk).update(**fields)
    return command


def test_a_written_commands_answer_has_the_generic_results(api, outlets):
    response = api.post(
        COMMANDS,
        {"action": "off", "outlets": [o.pk for o in outlets[::5]], "reason": "x", "force": True},
        format="json",
    )
    assert response.status_code == 202
    command = PowerCommand.objects.get(pk=response.data["id"])
    expected = generic_results(command, drf_request())
    assert len(expected) == 10
    assert as_json(response.json()["results"]) == as_json(expected)


@pytest.mark.parametrize("query", ["", "?format=json"])
def test_a_read_commands_results_are_the_generic_ones(api, command, query):
    response = api.get(f"{COMMANDS}{command.pk}/{query}")
    expected = generic_results(command, drf_request(f"/{query}"))
    assert as_json(response.json()["results"]) == as_json(expected)
    if query:  # the format is carried into every URL, as reverse() does
        assert response.json()["results"][0]["outlet"]["url"].endswith("/?format=json")


def test_a_listed_commands_results_are_the_generic_ones(api, command):
    response = api.get(COMMANDS)
    (listed,) = response.json()["results"]
    assert as_json(listed["results"]) == as_json(generic_results(command, drf_request()))


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_every_way_the_rows_arrive_gives_the_generic_results(command, zone):
    """Rows loaded as values for a page, read by the serializer itself, or just written
    (model instances with their outlets at hand); times in the active time zone, as DRF's."""
    request = drf_request()
    just_written = list(command.outlets.select_related("outlet__pdu"))
    with timezone.override(zone):
        expected = as_json(generic_results(command, request))

        def results(**context) -> str:
            command_now = PowerCommand.objects.get(pk=command.pk)
            if "at_hand" in context:
                command_now.results_at_hand = context.pop("at_hand")
            context["request"] = request
            return as_json(PowerCommandSerializer(command_now, context=context).data["results"])

        assert results() == expected
        assert results(results=power_command_results([command.pk])) == expected
        assert results(at_hand=just_written) == expected
    if zone != "UTC":
        assert "Z" not in expected and "+00:00" not in expected


def test_without_a_request_the_urls_are_paths_as_reverse_gives(command):
    context = {"request": None}
    data = PowerCommandSerializer(command, context=context).data["results"]
    rows = command.outlets.select_related("outlet__pdu")
    expected = PowerCommandOutletSerializer(rows, many=True, context=context).data
    assert as_json(data) == as_json(expected)
    assert data[0]["outlet"]["url"].startswith("/api/v1/outlets/")


# --- The command itself, written from the command as its declared fields write it ---------


def generic_command(command: PowerCommand, context: dict) -> dict:
    """What DRF's generic path writes of a command: every declared field of
    PowerCommandSerializer, each through its own to_representation."""
    from rest_framework import serializers

    serializer = PowerCommandSerializer(command, context=context)
    return serializers.Serializer.to_representation(serializer, command)


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns"])
@pytest.mark.parametrize("path", ["/", "/?format=json", None])
def test_a_command_is_written_as_its_declared_fields_write_it(api, command, outlets, zone, path):
    finished = PowerCommand.objects.get(pk=command.pk)
    scheduled = api.post(
        COMMANDS,
        {
            "action": "off",
            "outlets": [outlets[9].pk],
            "reason": "window",
            "ticket": "CHG-1",
            "force": True,
            "not_before": (timezone.now() + timedelta(days=1)).isoformat(),
        },
        format="json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert scheduled.status_code == 202, scheduled.data
    PowerCommand.objects.filter(pk=finished.pk).update(
        status="partially_failed", started_at=T, finished_at=T + timedelta(seconds=3), error="e"
    )
    context = {"request": drf_request(path) if path else None}
    with timezone.override(zone):
        for pk in (command.pk, scheduled.data["id"]):
            loaded = PowerCommand.objects.get(pk=pk)
            expected = as_json(generic_command(loaded, context))
            assert as_json(PowerCommandSerializer(loaded, context=context).data) == expected
            listed = PowerCommandSerializer([loaded], many=True, context=context).data
            assert as_json(listed[0]) == expected


def test_a_command_just_created_is_written_as_read_back(admin_user, outlets):
    """The command as the request created it (enums, not strings, for its action and
    status; its rows at hand), as a request that does not wait answers with it."""
    from power.services import power_command_request

    created = power_command_request(
        user=admin_user, action="cycle", outlet_ids=[outlets[0].pk], reason="r", force=True
    ).command
    context = {"request": drf_request()}
    written = as_json(PowerCommandSerializer(created, context=context).data)
    assert written == as_json(generic_command(created, context))


# --- Queries: the same few, whatever the number of outlets -------------------------------


@pytest.fixture
def hosts(rack, pdus, outlets):
    """A dual-PSU host on each outlet number of the A and B PDUs: every outlet feeds one."""
    pdu_a, pdu_b = pdus
    return [
        factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=n)
        for n in range(1, pdu_a.outlet_count + 1)
    ]


@pytest.mark.parametrize("count", [1, 48])
def test_a_requests_queries_do_not_depend_on_its_outlets(
    api, outlets, hosts, count, django_assert_num_queries
):
    body = {"action": "off", "outlets": [o.pk for o in outlets[:count]], "force": True}
    body["reason"] = "pinned"
    # The outlets (with PDU, rack and site) and the hosts they feed with their live supplies
    # counted, in one statement; then, in a transaction (a savepoint here), the command and
    # its result rows. The answer is built from what was written, not read back.
    with django_assert_num_queries(5) as queries:
        response = api.post(COMMANDS, body, format="json")
    assert response.status_code == 202, response.data
    assert len(response.data["results"]) == count
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SELECT", "SAVEPOINT", "INSERT", "INSERT", "RELEASE"]


@pytest.mark.parametrize("count", [1, 48])
def test_a_reads_queries_do_not_depend_on_its_outlets(
    api, outlets, count, django_assert_num_queries
):
    body = {"action": "on", "outlets": [o.pk for o in outlets[:count]]}
    created = api.post(COMMANDS, body, format="json").data
    # The command (with site and user), its result rows as values.
    with django_assert_num_queries(2):
        response = api.get(f"{COMMANDS}{created['id']}/")
    assert len(response.data["results"]) == count
    # Listed: the count, the page, every listed command's rows in one query.
    with django_assert_num_queries(3):
        assert api.get(COMMANDS).status_code == 200
