"""Power commands carried out against simulated PDUs over the wire: switch, verify from the
status objects, cycle a dual-PSU host as one, report truthful per-outlet outcomes, and resume
from recorded progress without switching anything twice."""

import itertools
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from inventory.models import PDU, Outlet
from power import execution
from power.choices import CommandStatus, OutletOutcome, OutletStep
from power.execution import ExecutionSettings, execute_command
from power.models import PowerCommand, PowerCommandOutlet
from power.services import (
    GuardrailRefused,
    OutletBusy,
    power_command_cancel,
    power_command_request,
)
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories

pytestmark = pytest.mark.django_db

FAST = ExecutionSettings(
    verify_timeout_s=1.5,
    poll_interval_s=0.01,
    cycle_off_period_s=0.05,
    retries=1,
    retry_backoff_s=0.01,
    device_timeout_s=0.3,
)


@pytest.fixture(scope="module")
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": 100,
            "defaults": {"outlets": 8, "relay_delay_s": 2},
            "pdus": [
                {"name": "A", "profile": "apc_rpdu2", "host": "127.0.0.1", "port": 0},
                {"name": "B", "profile": "eaton_epdu", "host": "127.0.0.2", "port": 0},
            ],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(fleet):
    yield
    for name in ("A", "B"):
        fleet.clear(name)
        for number in range(1, 9):
            fleet.switch(name, number, True)


@pytest.fixture
def dc(fleet, rack, feeds, admin_user):
    """An A (APC) and a B (Eaton) PDU at the fleet's addresses; web01 on outlet 1 of both,
    db01 (protected) on outlet 2 of both."""
    pdus = {}
    for name, feed, vendor in (("A", feeds[0], "apc_rpdu2"), ("B", feeds[1], "eaton_epdu")):
        host, port = fleet.address(name)
        pdus[name] = factories.make_pdu(
            rack=rack,
            name=name,
            feed=feed,
            vendor_profile=vendor,
            management_host=host,
            management_port=port,
            snmp_write_community="private",
            outlet_count=8,
        )
    web = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdus["A"], pdu_b=pdus["B"], outlet=1, name="web01"
    )
    db = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdus["A"], pdu_b=pdus["B"], outlet=2, name="db01", protected=True
    )
    Outlet.objects.update(state="on")
    return {"pdus": pdus, "web": web, "db": db, "user": admin_user}


# A command's statements on PostgreSQL: the claim, with the "sent" mark of its fresh rows
# and the read of the rows, their outlets and PDUs; the end (ADR 0023). Elsewhere the claim,
# the read and the mark are three, and the end is three writes between a savepoint and its
# release (the test's transaction holds it).
COMMAND_STATEMENTS = 2 if connection.vendor == "postgresql" else 8


def request(dc, **kwargs):
    kwargs.setdefault("reason", "on-call test")
    return power_command_request(user=dc["user"], **kwargs).command


def truth(fleet, name, number):
    return fleet.ground_truth(name)["outlets"][number - 1]


def commands_received(fleet, name):
    return fleet.ground_truth(name)["commands_received"]


def test_switching_a_host_off_verifies_every_supply(fleet, dc):
    command = request(dc, action="off", host_ids=[dc["web"].pk], force=True)
    assert execute_command(command.pk, config=FAST) == CommandStatus.SUCCEEDED
    assert not truth(fleet, "A", 1)["on"] and not truth(fleet, "B", 1)["on"]
    rows = list(command.outlets.all())
    assert {(r.state_before, r.state_after, r.outcome) for r in rows} == {
        ("on", "off", OutletOutcome.SUCCEEDED)
    }
    assert set(
        Outlet.objects.filter(pdu__name__in=["A", "B"], number=1).values_list("state", flat=True)
    ) == {"off"}
    command.refresh_from_db()
    assert command.started_at and command.finished_at
    assert not command.outlets.filter(active=True).exists()


def test_a_host_cycle_goes_dark_and_comes_back_on_every_supply(fleet, dc):
    before = {name: commands_received(fleet, name) for name in ("A", "B")}
    command = request(dc, action="cycle", host_ids=[dc["web"].pk], force=True)
    assert execute_command(command.pk, config=FAST) == CommandStatus.SUCCEEDED
    assert truth(fleet, "A", 1)["on"] and truth(fleet, "B", 1)["on"]
    # Exactly one off and one on per outlet: never the vendor reboot, never repeated.
    assert {name: commands_received(fleet, name) - before[name] for name in before} == {
        "A": 2,
        "B": 2,
    }
    assert set(command.outlets.values_list("state_after", flat=True)) == {"on"}


def test_a_stuck_relay_is_a_failure_with_its_cause_and_the_rest_still_succeeds(fleet, dc):
    fleet.inject("B", stuck_outlets=[1])
    command = request(dc, action="off", host_ids=[dc["web"].pk], force=True)
    assert execute_command(command.pk, config=FAST) == CommandStatus.PARTIALLY_FAILED
    failed = command.outlets.get(outlet__pdu__name="B")
    assert failed.outcome == OutletOutcome.FAILED
    assert "not off after 1.5 s (device says on)" in failed.error
    assert command.outlets.get(outlet__pdu__name="A").outcome == OutletOutcome.SUCCEEDED


def test_a_failed_off_half_still_brings_every_outlet_back_on(fleet, dc):
    fleet.inject("A", reject_outlets=[1])
    command = request(dc, action="cycle", host_ids=[dc["web"].pk], force=True)
    assert execute_command(command.pk, config=FAST) == CommandStatus.PARTIALLY_FAILED
    a_row = command.outlets.get(outlet__pdu__name="A")
    assert a_row.outcome == OutletOutcome.FAILED
    assert "off failed" in a_row.error and "genErr" in a_row.error
    b_row = command.outlets.get(outlet__pdu__name="B")
    assert b_row.outcome == OutletOutcome.SUCCEEDED
    assert truth(fleet, "A", 1)["on"] and truth(fleet, "B", 1)["on"]  # never left dark


def test_an_unresponsive_pdu_fails_its_outlets_with_a_timeout(fleet, dc):
    fleet.inject("B", unresponsive=True)
    command = request(dc, action="off", host_ids=[dc["web"].pk], force=True)
    assert execute_command(command.pk, config=FAST) == CommandStatus.PARTIALLY_FAILED
    assert "no answer" in command.outlets.get(outlet__pdu__name="B").error


def test_redelivered_work_resumes_from_the_recorded_step(fleet, dc):
    command = request(dc, action="cycle", host_ids=[dc["web"].pk], force=True)
    # A worker died after verifying off: the relays are off and the rows say so.
    for name in ("A", "B"):
        fleet.switch(name, 1, False)
    command.outlets.update(step=OutletStep.OFF_VERIFIED, state_before="on")
    PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.RUNNING)
    before = {name: commands_received(fleet, name) for name in ("A", "B")}
    assert execute_command(command.pk, config=FAST) == CommandStatus.SUCCEEDED
    assert {name: commands_received(fleet, name) - before[name] for name in before} == {
        "A": 1,
        "B": 1,
    }  # only the "on" half: nothing cycled twice
    assert truth(fleet, "A", 1)["on"] and truth(fleet, "B", 1)["on"]


@pytest.mark.parametrize("one_statement", [True, False])
def test_the_claim_marks_the_fresh_rows_sent_and_only_them(dc, monkeypatch, one_statement):
    """The "sent" mark comes with the claim (one statement with it on PostgreSQL): "on sent"
    for an on, "off sent" for an off or a cycle, started at the claim; rows something was
    done to before, and the rows of a command not claimed, are left as they are."""
    from django.utils import timezone

    if one_statement and connection.vendor != "postgresql":
        pytest.skip("one statement is PostgreSQL's")
    monkeypatch.setattr(execution, "writes_in_one_statement", lambda: one_statement)
    outlets = {n: dc["pdus"]["A"].outlets.get(number=n).pk for n in (3, 4)}
    for action, step in (("on", OutletStep.ON_SENT), ("cycle", OutletStep.OFF_SENT)):
        command = request(dc, action=action, outlet_ids=list(outlets.values()), force=True)
        earlier = command.outlets.get(outlet_id=outlets[4])
        earlier.step, earlier.state_before = OutletStep.OFF_VERIFIED, "on"
        earlier.save()
        before = timezone.now()
        _, _, fresh = execution._claim_with_rows(command.pk, "delivery-1", FAST)
        assert [row.outlet_id for row in fresh] == [outlets[3]]
        stored = {row.outlet_id: row for row in command.outlets.all()}
        assert stored[outlets[3]].step == fresh[0].step == step
        assert stored[outlets[3]].started_at == fresh[0].started_at >= before
        assert stored[outlets[3]].state_before == ""  # read after the claim, recorded later
        assert (stored[outlets[4]].step, stored[outlets[4]].started_at) == (
            OutletStep.OFF_VERIFIED,
            None,
        )
        # Another delivery while this one lives: not claimed, nothing marked.
        PowerCommandOutlet.objects.filter(pk=stored[outlets[3]].pk).update(step=OutletStep.PENDING)
        assert execution._claim_with_rows(command.pk, "delivery-2", FAST) == (None, [], [])
        assert command.outlets.get(outlet_id=outlets[3]).step == OutletStep.PENDING
        release(command)


def release(command):
    """Free the outlets of a claimed command that the test does not run."""
    PowerCommandOutlet.objects.filter(command=command).update(active=False)
    PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.CANCELLED)


def test_a_delivery_that_died_after_its_claim_leaves_the_state_before_unknown(fleet, dc):
    """The claim marked the rows sent; nothing says whether the command reached the PDU. The
    redelivery sends it again (explicit off: safe to repeat) and does not read a state
    before, which could be the state after the lost delivery's switch."""
    outlet = dc["pdus"]["A"].outlets.get(number=7)
    command = request(dc, action="off", outlet_ids=[outlet.pk])
    execution._claim_with_rows(command.pk, "task-1", FAST)
    fleet.switch("A", 7, False)  # the lost delivery had switched it
    assert execute_command(command.pk, config=FAST, claim="task-1") == CommandStatus.SUCCEEDED
    row = command.outlets.get()
    assert (row.state_before, row.state_after, row.outcome) == ("", "off", "succeeded")


def test_a_cycle_records_the_state_before_when_its_off_half_is_verified(fleet, dc, monkeypatch):
    """Halfway through a cycle (off verified, the off period starting) the rows say so, with
    the state before: a worker dying in the off period leaves everything a redelivery
    needs, and the answer shows what the outlets were."""

    class Died(Exception):
        """The worker's death, where the off period would begin."""

    def die(seconds):
        raise Died

    monkeypatch.setattr(execution.time, "sleep", die)
    command = request(dc, action="cycle", host_ids=[dc["web"].pk], force=True)
    with pytest.raises(Died):
        execute_command(command.pk, config=FAST)
    assert {(r.step, r.state_before, r.state_after) for r in command.outlets.all()} == {
        (OutletStep.OFF_VERIFIED, "on", "off")
    }


def test_cancelled_and_finished_commands_are_not_run_again(fleet, dc):
    command = request(dc, action="off", outlet_ids=[dc["pdus"]["A"].outlets.get(number=5).pk])
    power_command_cancel(command=command)
    assert execute_command(command.pk, config=FAST) == CommandStatus.CANCELLED
    assert truth(fleet, "A", 5)["on"]
    with pytest.raises(ValidationError, match="only a pending command"):
        power_command_cancel(command=command)


def test_two_commands_cannot_hold_the_same_outlet(fleet, dc):
    outlet = dc["pdus"]["A"].outlets.get(number=6)
    first = request(dc, action="off", outlet_ids=[outlet.pk])
    with pytest.raises(OutletBusy, match=f"command #{first.pk}"):
        request(dc, action="on", outlet_ids=[outlet.pk])
    execute_command(first.pk, config=FAST)
    assert request(dc, action="on", outlet_ids=[outlet.pk]) is not None  # free again


def test_an_idempotency_key_returns_the_same_command(dc):
    outlet = dc["pdus"]["A"].outlets.get(number=7)
    first = request(dc, action="off", outlet_ids=[outlet.pk], idempotency_key="abc")
    again = power_command_request(
        user=dc["user"],
        action="off",
        outlet_ids=[outlet.pk],
        reason="on-call test",
        idempotency_key="abc",
    )
    assert again.command.pk == first.pk and again.created is False
    assert PowerCommand.objects.count() == 1


def test_guardrails_refuse_before_anything_is_persisted(dc):
    with pytest.raises(GuardrailRefused) as excinfo:
        request(dc, action="off", host_ids=[dc["db"].pk])
    assert [r.code for r in excinfo.value.refusals] == ["protected_host"]
    assert PowerCommand.objects.count() == 0


def test_a_dry_run_persists_nothing(dc):
    result = power_command_request(
        user=dc["user"], action="cycle", host_ids=[dc["web"].pk], dry_run=True
    )
    assert result.command is None
    assert result.radius.hosts_losing_all_power == [dc["web"]]
    assert PowerCommand.objects.count() == 0


def test_switching_on_is_staggered_per_feed(fleet, dc):
    pdus = dc["pdus"]
    numbers = [3, 4, 5]
    for name in ("A", "B"):
        for n in numbers:
            fleet.switch(name, n, False)
    outlet_ids = [pdus[name].outlets.get(number=n).pk for name in ("A", "B") for n in numbers]
    logs = {name: len(fleet.pdu(name).command_log) for name in ("A", "B")}
    command = request(dc, action="on", outlet_ids=outlet_ids)
    stagger = 0.05
    config = ExecutionSettings(**{**FAST.__dict__, "power_on_stagger_s": stagger})
    assert execute_command(command.pk, config=config) == CommandStatus.SUCCEEDED
    time_scale = fleet.clock.time_scale
    starts = {}
    for name in ("A", "B"):  # the A and B PDUs are on different feeds
        entries = list(fleet.pdu(name).command_log)[logs[name] :]
        assert [(n, a) for _, n, a in entries] == [(n, "on") for n in numbers]
        gaps = [(b[0] - a[0]) / time_scale for a, b in itertools.pairwise(entries)]
        assert all(gap >= stagger * 0.9 for gap in gaps), gaps
        starts[name] = entries[0][0] / time_scale
    # The feeds run in parallel: B did not wait for A's outlets.
    assert abs(starts["A"] - starts["B"]) < stagger * len(numbers)


def test_a_second_delivery_leaves_a_live_run_alone_but_a_redelivery_resumes(fleet, dc):
    from django.utils import timezone

    outlet = dc["pdus"]["A"].outlets.get(number=8)
    command = request(dc, action="off", outlet_ids=[outlet.pk])
    PowerCommand.objects.filter(pk=command.pk).update(
        status=CommandStatus.RUNNING, claimed_by="task-1", heartbeat_at=timezone.now()
    )
    before = commands_received(fleet, "A")
    assert execute_command(command.pk, config=FAST, claim="task-2") == CommandStatus.RUNNING
    assert commands_received(fleet, "A") == before  # nothing sent by the duplicate
    assert execute_command(command.pk, config=FAST, claim="task-1") == CommandStatus.SUCCEEDED
    assert not truth(fleet, "A", 8)["on"]


def test_stale_commands_are_found_and_queued_again(dc, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from power import recovery

    outlets = [dc["pdus"]["A"].outlets.get(number=n).pk for n in (5, 6, 7)]
    orphaned = request(dc, action="off", outlet_ids=[outlets[0]])
    lost = request(dc, action="off", outlet_ids=[outlets[1]])
    fresh = request(dc, action="off", outlet_ids=[outlets[2]])
    long_ago = timezone.now() - timedelta(hours=1)
    PowerCommand.objects.filter(pk=orphaned.pk).update(
        status=CommandStatus.RUNNING, heartbeat_at=long_ago, started_at=long_ago
    )
    PowerCommand.objects.filter(pk=lost.pk).update(created=long_ago, enqueued_at=long_ago)
    queued = []
    monkeypatch.setattr(
        recovery, "power_command_enqueue", lambda *, command: queued.append(command.pk)
    )
    recovered = recovery.power_commands_recover_stale(config=FAST)
    assert sorted(recovered) == sorted(queued) == sorted([orphaned.pk, lost.pk])
    assert fresh.pk not in queued


def test_a_scheduled_command_is_queued_when_its_time_comes(dc, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from power.services import power_commands_enqueue_due

    outlet = dc["pdus"]["A"].outlets.get(number=4)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        command = request(
            dc, action="off", outlet_ids=[outlet.pk], not_before=timezone.now() + timedelta(hours=1)
        )
    assert callbacks == []  # not handed to the broker with an ETA
    assert power_commands_enqueue_due() == []
    PowerCommand.objects.filter(pk=command.pk).update(
        not_before=timezone.now() - timedelta(seconds=1)
    )
    assert power_commands_enqueue_due() == [command.pk]
    assert power_commands_enqueue_due() == []  # queued once
    command.refresh_from_db()
    assert command.enqueued_at is not None and command.status == CommandStatus.PENDING


def test_workers_keep_one_driver_per_pdu_target_bounded(monkeypatch):
    from power import execution
    from power.drivers.base import DeviceTarget

    monkeypatch.setattr(execution, "_drivers", {})
    monkeypatch.setattr(execution, "DRIVER_CACHE_SIZE", 2)
    loop = execution.device_loop()

    def target(port, community="public"):
        return DeviceTarget(
            host="127.0.0.1", port=port, vendor="eaton_epdu", read_community=community
        )

    first = execution.driver_for_process(target(1001), loop)
    assert execution.driver_for_process(target(1001), loop) is first  # kept and reused
    assert execution.driver_for_process(target(1001, "other"), loop) is not first  # changed PDU
    execution.driver_for_process(target(1002), loop)  # a third target evicts the oldest
    assert list(execution._drivers) == [target(1001, "other"), target(1002)]


def test_a_one_outlet_command_costs_a_fixed_few_statements(dc, django_assert_num_queries):
    command = request(dc, action="off", outlet_ids=[dc["pdus"]["A"].outlets.get(number=5).pk])
    # The claim (one conditional UPDATE returning the command without its JSON), the
    # "sent" mark, the rows with their outlets and PDUs; then the outcome with the state
    # before, the outlet's state and the command's end (COMMAND_STATEMENTS).
    with django_assert_num_queries(COMMAND_STATEMENTS) as queries:
        assert execute_command(command.pk, config=FAST) == CommandStatus.SUCCEEDED
    # Never the command's targets and blast radius: JSON as large as a 1,000-outlet command.
    assert not [q for q in queries.captured_queries if "blast_radius" in q["sql"]]


def test_many_outlets_on_several_pdus_cost_the_same_statements(dc, django_assert_num_queries):
    """Rows are written by their command, not by lists of ids, and each PDU is built once
    (a PDU built for every row decrypted its credentials once per outlet)."""
    outlets = Outlet.objects.filter(pdu__in=dc["pdus"].values()).exclude(number__in=(1, 2))
    command = request(dc, action="off", outlet_ids=list(outlets.values_list("pk", flat=True)))
    rows = execution._rows_with_pdus(command.pk)
    assert len(rows) == 12
    assert len({id(row.outlet.pdu) for row in rows}) == 2
    with django_assert_num_queries(COMMAND_STATEMENTS) as queries:
        assert execute_command(command.pk, config=FAST) == CommandStatus.SUCCEEDED
    writes = [q["sql"] for q in queries.captured_queries if "UPDATE" in q["sql"]]
    assert not [sql for sql in writes if re.search(r" IN \(\d", sql)], writes
    assert set(outlets.values_list("state", flat=True)) == {"off"}


def test_the_rows_pdus_are_the_pdus_as_stored(dc):
    """The PDU columns that come with a command's rows are converted as the ORM converts
    them: booleans, times, decrypted secrets, each of its own type."""
    pdu = dc["pdus"]["B"]
    pdu.snmp_write_community = "pr1vate-B"
    pdu.snmp_v3_auth_key = "auth-key-B"
    pdu.save()
    outlets = [dc["pdus"]["A"].outlets.get(number=7), pdu.outlets.get(number=7)]
    command = request(dc, action="off", outlet_ids=[o.pk for o in outlets])
    loaded = {row.outlet.pdu_id: row.outlet.pdu for row in execution._rows_with_pdus(command.pk)}
    assert sorted(loaded) == sorted(o.pdu_id for o in outlets)
    for pdu_id, got in loaded.items():
        stored = PDU.objects.get(pk=pdu_id)
        for field in PDU._meta.concrete_fields:
            want, have = getattr(stored, field.attname), getattr(got, field.attname)
            assert (have, type(have)) == (want, type(want)), field.name
    assert loaded[pdu.pk].snmp_write_community == "pr1vate-B"


@pytest.mark.parametrize("one_statement", [True, False])
def test_the_claim_with_its_rows_is_what_the_claim_and_the_read_give(
    dc, monkeypatch, one_statement
):
    if one_statement and connection.vendor != "postgresql":
        pytest.skip("one statement is PostgreSQL's")
    monkeypatch.setattr(execution, "writes_in_one_statement", lambda: one_statement)
    outlets = [dc["pdus"]["A"].outlets.get(number=6), dc["pdus"]["B"].outlets.get(number=6)]
    command = request(dc, action="off", outlet_ids=[o.pk for o in outlets])
    claimed, rows, fresh = execution._claim_with_rows(command.pk, "delivery-1", FAST)
    assert fresh == rows  # nothing was done to them before
    stored = PowerCommand.objects.get(pk=command.pk)
    assert (stored.status, stored.claimed_by) == (CommandStatus.RUNNING, "delivery-1")
    for field in PowerCommand._meta.concrete_fields:
        if field.name in ("targets", "blast_radius"):  # never read by the executor
            continue
        want, have = getattr(stored, field.attname), getattr(claimed, field.attname)
        assert (have, type(have)) == (want, type(want)), field.name
    read = execution._rows_with_pdus(command.pk)
    assert [(r.pk, r.outlet_id, r.outlet.number, r.outlet.pdu.name) for r in rows] == [
        (r.pk, r.outlet_id, r.outlet.number, r.outlet.pdu.name) for r in read
    ]
    for row, twin in zip(rows, read, strict=True):
        for field in PowerCommandOutlet._meta.concrete_fields:
            assert getattr(row, field.attname) == getattr(twin, field.attname), field.name
    # Not runnable now (claimed by a live delivery): nothing claimed, nothing read.
    assert execution._claim_with_rows(command.pk, "delivery-2", FAST) == (None, [], [])
    # A command without rows is still claimed.
    PowerCommandOutlet.objects.filter(command=command).delete()
    PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.PENDING)
    claimed, rows, fresh = execution._claim_with_rows(command.pk, "delivery-3", FAST)
    assert claimed is not None and claimed.pk == command.pk and rows == fresh == []


def test_the_claim_takes_only_a_runnable_command_and_returns_it_as_stored(dc):
    """The claim is one UPDATE ... RETURNING written in SQL: each of its rules, and the
    command it returns (converted as the ORM would, without the JSON the executor never
    reads), checked against the database."""
    from datetime import timedelta

    from django.utils import timezone

    outlet = dc["pdus"]["A"].outlets.get(number=3)
    command = request(dc, action="off", outlet_ids=[outlet.pk])
    now = timezone.now()
    stale = now - execution.stale_after(FAST) - timedelta(seconds=5)

    def claim(delivery="task-1", **stored):
        PowerCommand.objects.filter(pk=command.pk).update(**stored)
        return execution._claim(command.pk, delivery, FAST, timezone.now())

    pending = {"status": CommandStatus.PENDING, "claimed_by": "", "heartbeat_at": None}
    assert claim(**pending, not_before=now + timedelta(minutes=5)) is None  # not due yet
    claimed = claim(**pending, not_before=now - timedelta(seconds=1), started_at=None)
    assert claimed.pk == command.pk and claimed.action == "off"
    assert claimed.status == CommandStatus.RUNNING and claimed.claimed_by == "task-1"
    assert claimed.started_at.tzinfo is not None and claimed.started_at >= now
    assert claimed.get_deferred_fields() == {"targets", "blast_radius"}
    stored = PowerCommand.objects.get(pk=command.pk)
    assert (stored.status, stored.started_at, stored.heartbeat_at, stored.claimed_by) == (
        CommandStatus.RUNNING,
        claimed.started_at,
        claimed.heartbeat_at,
        "task-1",
    )

    running = {"status": CommandStatus.RUNNING, "not_before": None, "started_at": stale}
    live = {**running, "claimed_by": "task-1", "heartbeat_at": now}
    assert claim("task-2", **live) is None  # another delivery is running it
    assert PowerCommand.objects.get(pk=command.pk).claimed_by == "task-1"
    assert claim("task-1", **live).started_at == stale  # a redelivery resumes; start kept
    assert claim("task-2", **{**live, "heartbeat_at": stale}).claimed_by == "task-2"  # orphaned
    assert claim("task-3", **{**live, "heartbeat_at": None}).claimed_by == "task-3"
    assert claim("task-4", **{**live, "claimed_by": ""}).claimed_by == "task-4"
    for finished in (CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.CANCELLED):
        assert claim("task-5", **{**running, "status": finished, "claimed_by": ""}) is None
        assert PowerCommand.objects.get(pk=command.pk).status == finished


@pytest.mark.parametrize(
    "action, fault",
    [
        ("off", None),
        ("cycle", None),
        ("off", {"name": "B", "stuck_outlets": [1]}),  # partially failed
        ("cycle", {"name": "A", "reject_outlets": [1]}),  # the off half failed, on still ran
        ("off", {"name": "B", "unresponsive": True}),
    ],
)
def test_the_announced_outcome_is_what_was_committed(
    fleet, dc, monkeypatch, django_capture_on_commit_callbacks, action, fault
):
    """A waiting request answers from the executor's announcement without reading the
    command back (power/completion.py), so the announcement must carry exactly what the
    database holds once the command has finished: status, times, error, every outlet's row;
    through the message's JSON, microseconds included."""
    from power import completion
    from power.completion import CommandOutcome

    announced = []
    monkeypatch.setattr(
        completion,
        "announce_finished",
        lambda command_id, status, outcome=None: announced.append((command_id, outcome)),
    )
    if fault:
        fleet.inject(fault.pop("name"), **fault)
    command = request(dc, action=action, host_ids=[dc["web"].pk], force=True)
    with django_capture_on_commit_callbacks(execute=True):
        status = execute_command(command.pk, config=FAST)
    [(command_id, outcome)] = announced
    assert command_id == command.pk and outcome.status == status
    stored = PowerCommand.objects.get(pk=command.pk)
    assert CommandOutcome.from_message(outcome.to_message()) == CommandOutcome.of(
        stored, stored.outlets.all()
    )
    assert len(outcome.outlets) == 2 and outcome.finished_at is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_a_connection_that_runs_commands_often_plans_their_statements_once(dc):
    """The requests' and the executor's statements written in SQL go through
    dcpower.db.cursor (ADR 0024): once a connection has run them a few times they are
    prepared, so PostgreSQL no longer plans them at each command."""
    outlet = dc["pdus"]["A"].outlets.get(number=5)
    for n in range(connection.connection.prepare_threshold + 1):
        command = request(dc, action="off" if n % 2 == 0 else "on", outlet_ids=[outlet.pk])
        assert execute_command(command.pk, config=FAST) == CommandStatus.SUCCEEDED
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [text for (text,) in cursor.fetchall()]
    table = {model: model._meta.db_table for model in (PowerCommand, PowerCommandOutlet, Outlet)}
    kinds = {
        "the targets with the hosts they feed": f'FROM "{table[Outlet]}" o',
        # In the test's transaction the rows are their own INSERT (services._command_create).
        "the command's rows": f'INSERT INTO "{table[PowerCommandOutlet]}"',
        "the claim with the rows": "WITH claimed AS (",
        "the end": f'UPDATE "{table[PowerCommand]}" SET "status"',  # noqa: S608 - a pattern
    }
    missing = [kind for kind, text in kinds.items() if not any(text in p for p in prepared)]
    assert missing == [], prepared
