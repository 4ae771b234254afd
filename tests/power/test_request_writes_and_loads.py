"""What a power request loads, made cheap for requests on 1,000 outlets, gives what the ORM's
general path gave: the outlets with their PDUs, racks and sites (power.blast_radius loads them
as values)."""

import pytest

from inventory.models import Outlet
from power.blast_radius import resolve_outlets

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
