"""What a power request loads and writes, made cheap for requests on 1,000 outlets, gives what
the ORM's general path gave: the outlets with their PDUs, racks and sites (power.blast_radius
loads them as values), and result rows at their defaults (power.services writes them with one
INSERT ... SELECT, not bulk_create). On PostgreSQL, outside a transaction, the command and its
rows are one statement (ADR 0023): it writes what the transaction writes, and all or nothing."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory.choices import OutletState
from inventory.models import Host, Outlet
from power import services
from power.blast_radius import resolve_outlets
from power.models import PowerCommand, PowerCommandOutlet
from power.services import _command_create, _result_rows_create, power_command_request
from tests import factories

pytestmark = pytest.mark.django_db


def test_resolved_outlets_are_those_select_related_gives(rack, pdus):
    expected = list(
        Outlet.objects.select_related("pdu__rack__site").order_by(
            "pdu__rack__site__name", "pdu__rack__name", "pdu__name", "number"
        )
    )
    outlets = resolve_outlets(rack_ids=[rack.pk])
    assert outlets == expected  # the same rows in the same order
    for got, want in zip(outlets, expected, strict=True):
        assert (got.pdu_id, got.number, got.locked, got.lock_reason, got.state, str(got)) == (
            want.pdu_id,
            want.number,
            want.locked,
            want.lock_reason,
            want.state,
            str(want),
        )
        assert (got.pdu.name, got.pdu.rack.name, got.pdu.rack.site) == (
            want.pdu.name,
            want.pdu.rack.name,
            want.pdu.rack.site,
        )
        assert got.pdu.rack.site.name == want.pdu.rack.site.name


def test_each_outlet_comes_with_the_host_it_feeds_as_stored(rack, pdus):
    """The hosts the blast radius reads come with the outlets, in the same statement:
    converted as the ORM would (booleans, times, choices), one instance per host, with its
    live supplies counted over all its supplies, not only the targeted ones."""
    web = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=4, name="web", protected=True
    )
    db = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=5, name="db")
    app = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=6)
    pdus[1].outlets.filter(number=5).update(state=OutletState.OFF)  # db: one live supply
    targets = [pdus[0].outlets.get(number=n).pk for n in (3, 4, 5, 6)] + [
        pdus[1].outlets.get(number=4).pk
    ]
    outlets = {(o.pdu_id, o.number): o for o in resolve_outlets(outlet_ids=targets)}
    assert outlets[(pdus[0].pk, 3)].fed_host is None  # feeds nothing
    web_a, web_b = outlets[(pdus[0].pk, 4)].fed_host, outlets[(pdus[1].pk, 4)].fed_host
    assert web_a is web_b  # one instance
    fed_db = outlets[(pdus[0].pk, 5)].fed_host
    fed_app = outlets[(pdus[0].pk, 6)].fed_host
    assert (web_a.supplies_live, fed_db.supplies_live, fed_app.supplies_live) == (2, 1, 2)
    assert fed_app.pk == app.pk
    for loaded, stored in ((web_a, Host.objects.get(pk=web.pk)), (fed_db, db)):
        stored = Host.objects.get(pk=stored.pk)
        for field in Host._meta.concrete_fields:
            want, have = getattr(stored, field.attname), getattr(loaded, field.attname)
            assert (have, type(have)) == (want, type(want)), field.name


def test_the_outlets_of_a_pdu_share_it_and_other_fields_still_load(
    rack, pdus, django_assert_num_queries
):
    outlets = resolve_outlets(rack_ids=[rack.pk])
    assert len({id(outlet.pdu) for outlet in outlets}) == 2
    Outlet.objects.filter(pk=outlets[0].pk).update(power_w=123.5)
    with django_assert_num_queries(1):  # not loaded: read when asked for, as after only()
        assert outlets[0].power_w == 123.5
    with django_assert_num_queries(1):
        assert outlets[0].pdu.outlet_count == 24


def test_result_rows_are_written_with_every_default(admin_user, pdus):
    outlet_ids = [outlet.pk for outlet in pdus[0].outlets.all()[:3]]
    command = power_command_request(user=admin_user, action="on", outlet_ids=outlet_ids).command
    unsaved = PowerCommandOutlet(command=command)  # what bulk_create would have written
    fields = [f.attname for f in PowerCommandOutlet._meta.concrete_fields]
    fields = [name for name in fields if name not in {"id", "outlet_id"}]
    written = list(PowerCommandOutlet.objects.filter(command=command).order_by("outlet_id"))
    assert [row.outlet_id for row in written] == sorted(outlet_ids)
    for row in written:
        assert [getattr(row, name) for name in fields] == [getattr(unsaved, n) for n in fields]
    at_hand = command.results_at_hand
    assert [(r.outlet_id, r.outlet.number) for r in at_hand] == [
        (r.outlet_id, r.outlet.number) for r in written
    ]


def test_an_outlet_deleted_meanwhile_is_an_integrity_error(admin_user, pdus):
    outlet = pdus[0].outlets.get(number=1)
    command = power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk]).command
    gone = Outlet(pk=outlet.pk + 100_000, pdu=outlet.pdu, number=99)  # never saved
    with pytest.raises(IntegrityError), transaction.atomic():
        _result_rows_create(command=PowerCommand.objects.get(pk=command.pk), outlets=[gone])


def in_one_statement(test):
    """Outside a transaction (as a request runs), so the one-statement path is taken."""
    test = pytest.mark.django_db(transaction=True)(test)
    return pytest.mark.requires_service("postgres")(test)


def _stored(command_id):
    command = PowerCommand.objects.filter(pk=command_id).values().get()
    rows = PowerCommandOutlet.objects.filter(command_id=command_id).order_by("outlet_id")
    return command, list(rows.values())


@in_one_statement
def test_one_statement_writes_what_the_transaction_writes(admin_user, pdus, monkeypatch):
    outlets = list(pdus[0].outlets.order_by("number"))
    with CaptureQueriesContext(connection) as queries:
        one = power_command_request(
            user=admin_user, action="off", outlet_ids=[o.pk for o in outlets[:3]], reason="r"
        ).command
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith("WITH"), writes
    monkeypatch.setattr(services, "writes_in_one_statement", lambda: False)
    other = power_command_request(
        user=admin_user, action="off", outlet_ids=[o.pk for o in outlets[3:6]], reason="r"
    ).command
    (one_command, one_rows), (other_command, other_rows) = _stored(one.pk), _stored(other.pk)
    differ = {"id", "created", "enqueued_at", "targets", "blast_radius"}
    assert {k: v for k, v in one_command.items() if k not in differ} == {
        k: v for k, v in other_command.items() if k not in differ
    }
    assert one_command["targets"] == {
        "outlets": [o.pk for o in outlets[:3]],
        "hosts": [],
        "racks": [],
    }
    assert [r["outlet_id"] for r in one_rows] == [o.pk for o in outlets[:3]]
    for row, twin in zip(one_rows, other_rows, strict=True):
        assert row["command_id"] == one.pk
        assert {k: v for k, v in row.items() if k not in {"id", "command_id", "outlet_id"}} == {
            k: v for k, v in twin.items() if k not in {"id", "command_id", "outlet_id"}
        }
    # The command in hand is the one stored.
    assert (one.pk, one.created, one._state.adding) == (
        one_command["id"],
        one_command["created"],
        False,
    )


@in_one_statement
def test_one_statement_writes_nothing_for_a_busy_outlet(admin_user, pdus):
    outlet = pdus[0].outlets.get(number=2)
    first = power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk]).command
    with pytest.raises(services.OutletBusy) as refused:
        power_command_request(user=admin_user, action="on", outlet_ids=[outlet.pk, outlet.pk + 1])
    assert refused.value.command == first
    assert list(PowerCommand.objects.values_list("pk", flat=True)) == [first.pk]  # no orphan
    assert PowerCommandOutlet.objects.count() == 1


@in_one_statement
def test_one_statement_writes_nothing_for_an_outlet_deleted_meanwhile(admin_user, pdus):
    outlet = pdus[0].outlets.get(number=1)
    gone = Outlet(pk=outlet.pk + 100_000, pdu=outlet.pdu, number=99)  # never saved
    command = PowerCommand(action="on", site=pdus[0].rack.site, requested_by=admin_user)
    with pytest.raises(IntegrityError):
        _command_create(command, [outlet, gone])
    assert not PowerCommand.objects.exists() and not PowerCommandOutlet.objects.exists()


@in_one_statement
def test_one_statement_writes_nothing_for_a_repeated_idempotency_key(admin_user, pdus):
    site, outlets = pdus[0].rack.site, list(pdus[0].outlets.order_by("number")[:2])
    key = {"requested_by": admin_user, "idempotency_key": "k-1"}
    _command_create(PowerCommand(action="on", site=site, **key), [outlets[0]])
    with pytest.raises(IntegrityError):  # a concurrent request with the same key
        _command_create(PowerCommand(action="on", site=site, **key), [outlets[1]])
    assert PowerCommand.objects.count() == 1
    assert list(PowerCommandOutlet.objects.values_list("outlet_id", flat=True)) == [outlets[0].pk]
