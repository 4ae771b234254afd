"""Rack power capacity with A/B redundancy counted once, and host power redundancy."""

import pytest

from inventory.models import Host, Rack
from inventory.selectors import (
    host_is_redundantly_powered,
    host_power_prefetch,
    rack_power,
    rack_power_prefetch,
)
from tests import factories

pytestmark = pytest.mark.django_db


def power_of(rack):
    return rack_power(rack_power_prefetch(Rack.objects.all()).get(pk=rack.pk))


def test_a_and_b_feeds_of_equal_size_give_one_feed_of_redundant_capacity(rack, feeds):
    power = power_of(rack)
    assert power.redundant is True
    assert power.capacity_w == 5888  # not 11,776: either side must carry the whole rack
    assert power.total_feed_capacity_w == 11776


def test_unequal_sides_are_limited_by_the_smaller_side(rack):
    factories.make_feed(rack=rack, side="A")
    factories.make_feed(rack=rack, side="A")
    factories.make_feed(rack=rack, side="B", amperage=16)
    power = power_of(rack)
    assert [s.capacity_w for s in power.sides] == [11776, 2944]
    assert power.capacity_w == 2944


def test_a_rack_fed_from_one_side_is_not_redundant(rack):
    factories.make_feed(rack=rack, side="A")
    power = power_of(rack)
    assert power.redundant is False
    assert power.capacity_w == 5888


def test_only_active_feeds_count(rack, feeds):
    _, feed_b = feeds
    feed_b.status = "planned"
    feed_b.save()
    power = power_of(rack)
    assert power.redundant is False
    assert power.capacity_w == 5888


def test_a_pdu_feed_not_tied_to_a_rack_counts_for_the_pdu_rack(rack):
    loose = factories.make_feed(rack=rack, side="B")
    loose.rack = None
    loose.save()
    factories.make_feed(rack=rack, side="A")
    factories.make_pdu(rack=rack, feed=loose)
    assert power_of(rack).redundant is True


def test_allocated_draw_and_utilization(rack, pdus):
    pdu_a, pdu_b = pdus
    for outlet in (1, 2):
        factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=outlet)
    power = power_of(rack)
    assert power.allocated_draw_w == 4 * 200
    assert [s.allocated_draw_w for s in power.sides] == [400, 400]
    assert power.utilization_percent == round(100 * 800 / 5888, 1)


def test_utilization_is_unknown_without_capacity(rack):
    factories.make_host(rack=rack)
    assert power_of(rack).utilization_percent is None


def _host(host):
    return host_power_prefetch(Host.objects.all()).get(pk=host.pk)


def test_a_host_on_pdus_of_two_feeds_is_redundantly_powered(rack, pdus):
    host = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=1)
    assert host_is_redundantly_powered(_host(host)) is True


def test_a_host_with_both_supplies_on_one_feed_is_not(rack, pdus):
    host = factories.make_host(rack=rack)
    for number in (1, 2):
        factories.make_supply(host=host, outlet=pdus[0].outlets.get(number=number))
    assert host_is_redundantly_powered(_host(host)) is False


def test_a_host_with_an_unplugged_second_supply_is_not(rack, pdus):
    host = factories.make_host(rack=rack)
    factories.make_supply(host=host, outlet=pdus[0].outlets.get(number=1))
    factories.make_supply(host=host, outlet=None)
    assert host_is_redundantly_powered(_host(host)) is False


def test_a_host_whose_second_feed_is_offline_is_not_redundant(rack, pdus, feeds):
    host = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=1)
    feeds[1].status = "offline"
    feeds[1].save()
    assert host_is_redundantly_powered(_host(host)) is False


def test_decommissioned_hosts_do_not_count_toward_allocated_draw(rack, pdus):
    factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=1)
    old = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=2)
    old.status = "decommissioned"
    old.save()
    assert power_of(rack).allocated_draw_w == 400
