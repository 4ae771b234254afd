"""What a power request loads and writes, made cheap for requests on 1,000 outlets, gives what
the ORM's general path gave: the outlets with their PDUs, racks and sites (power.blast_radius
loads them as values), and result rows at their defaults (power.services writes them with one
INSERT ... SELECT, not bulk_create)."""

import pytest
from django.db import IntegrityError, transaction

from inventory.models import Outlet
from power.blast_radius import resolve_outlets
from power.models import PowerCommand, PowerCommandOutlet
from power.services import _result_rows_create, power_command_request

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
