"""The inventory's rules, enforced by Model.clean()/full_clean() (the admin and the API both
call it) and backed by database constraints."""

import math

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from inventory import services
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, feed_available_power_w
from tests import factories

pytestmark = pytest.mark.django_db


def errors_of(obj) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        obj.full_clean()
    return excinfo.value.message_dict


# --- Feeds -------------------------------------------------------------------------------


def test_single_phase_feed_power_is_volts_times_amps_times_derating():
    assert (
        feed_available_power_w(voltage=230, amperage=32, phase="single", derating_percent=80)
        == 5888
    )


def test_three_phase_feed_power_includes_root_three():
    watts = feed_available_power_w(voltage=400, amperage=32, phase="three", derating_percent=80)
    assert watts == round(400 * 32 * 0.8 * math.sqrt(3)) == 17736


def test_feed_stores_available_power_and_recomputes_it_on_change(rack):
    feed = factories.make_feed(rack=rack)
    assert PowerFeed.objects.get(pk=feed.pk).available_power_w == 5888
    feed.amperage = 16
    feed.save()
    assert PowerFeed.objects.get(pk=feed.pk).available_power_w == 2944


def test_feed_derating_defaults_to_80_and_must_be_1_to_100(rack):
    feed = factories.make_feed(rack=rack)
    assert feed.derating_percent == 80
    feed.derating_percent = 0
    assert "derating_percent" in errors_of(feed)
    feed.derating_percent = 101
    assert "derating_percent" in errors_of(feed)


def test_feed_rack_must_be_at_the_feed_site(rack):
    other_rack = factories.make_rack()
    feed = PowerFeed(site=rack.site, rack=other_rack, name="F", side="A", voltage=230, amperage=16)
    assert "rack" in errors_of(feed)


# --- Racks -------------------------------------------------------------------------------


def test_rack_height_defaults_to_42_and_must_be_1_to_60(site):
    rack = Rack(site=site, name="R1")
    assert rack.u_height == 42
    for bad in (0, 61):
        rack.u_height = bad
        assert "u_height" in errors_of(rack)
    rack.u_height = 60
    rack.full_clean()


def test_rack_name_is_unique_per_site_and_reported_on_name(rack):
    duplicate = Rack(site=rack.site, name=rack.name)
    assert errors_of(duplicate) == {"name": ["A rack with this name already exists at this site."]}
    factories.make_rack(name=rack.name)  # the same name at another site is fine


def test_rack_name_uniqueness_is_also_enforced_by_the_database(rack):
    with pytest.raises(IntegrityError), transaction.atomic():
        Rack.objects.create(site=rack.site, name=rack.name)


def test_rack_cannot_shrink_below_its_hosts(rack):
    factories.make_host(rack=rack, name="tall", position_u=40, u_height=2)
    rack.u_height = 40
    errors = errors_of(rack)
    assert "'tall'" in errors["u_height"][0] and "U41" in errors["u_height"][0]
    rack.u_height = 41
    rack.full_clean()


def test_rack_cannot_shrink_below_a_pdu_mounted_in_units(rack):
    factories.make_pdu(rack=rack, name="hpdu", mounting="rack_unit", position_u=30)
    rack.u_height = 29
    assert "'hpdu'" in errors_of(rack)["u_height"][0]


def test_empty_asset_tag_is_stored_as_null_so_it_does_not_collide(site):
    first = factories.make_rack(site=site, asset_tag="")
    second = factories.make_rack(site=site, asset_tag="")
    assert first.asset_tag is None and second.asset_tag is None


# --- Hosts -------------------------------------------------------------------------------


def test_host_must_fit_within_the_rack_height(rack):
    host = Host(site=rack.site, rack=rack, name="h", position_u=42, u_height=2)
    assert "does not fit" in errors_of(host)["position_u"][0]
    host.position_u = 41
    host.full_clean()


def test_hosts_cannot_overlap(rack):
    factories.make_host(rack=rack, name="a", position_u=10, u_height=2)  # U10-U11
    overlapping = Host(site=rack.site, rack=rack, name="b", position_u=11, u_height=1)
    message = errors_of(overlapping)["position_u"][0]
    assert "overlaps host 'a' at U10-U11" in message
    below = Host(site=rack.site, rack=rack, name="c", position_u=9, u_height=1)
    above = Host(site=rack.site, rack=rack, name="d", position_u=12, u_height=1)
    below.full_clean()
    above.full_clean()


def test_a_host_may_be_moved_within_its_own_units(rack):
    host = factories.make_host(rack=rack, position_u=10, u_height=2)
    host.position_u = 11
    host.full_clean()


def test_hosts_cannot_overlap_a_pdu_mounted_in_units(rack):
    factories.make_pdu(rack=rack, name="hpdu", mounting="rack_unit", position_u=20)
    host = Host(site=rack.site, rack=rack, name="h", position_u=19, u_height=2)
    assert "PDU 'hpdu'" in errors_of(host)["position_u"][0]


def test_host_rack_must_be_at_the_host_site(rack):
    host = Host(site=factories.make_site(), rack=rack, name="h")
    assert "rack" in errors_of(host)


def test_host_position_needs_a_rack(site):
    host = Host(site=site, name="h", position_u=3)
    assert "position_u" in errors_of(host)


def test_host_name_is_unique_per_site(rack):
    factories.make_host(rack=rack, name="web01")
    assert "name" in errors_of(Host(site=rack.site, name="web01"))


def test_host_status_and_protected_flag_defaults(site):
    host = factories.make_host(site=site)
    assert host.status == "active"
    assert host.protected is False


# --- PDUs and outlets --------------------------------------------------------------------


def test_creating_a_pdu_creates_its_numbered_outlets(rack):
    pdu = factories.make_pdu(rack=rack, outlet_count=8)
    assert list(pdu.outlets.values_list("number", flat=True)) == list(range(1, 9))


def test_raising_the_outlet_count_adds_outlets_and_keeps_the_old_ones(rack):
    pdu = factories.make_pdu(rack=rack, outlet_count=4)
    first = pdu.outlets.get(number=1)
    first.label = "kept"
    first.save()
    pdu.outlet_count = 6
    pdu.full_clean()
    pdu.save()
    services.pdu_sync_outlets(pdu=pdu)
    assert list(pdu.outlets.values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert pdu.outlets.get(number=1).label == "kept"


def test_lowering_the_outlet_count_removes_only_unconnected_outlets(rack):
    pdu = factories.make_pdu(rack=rack, outlet_count=8)
    host = factories.make_host(rack=rack)
    factories.make_supply(host=host, outlet=pdu.outlets.get(number=3))
    pdu.outlet_count = 4
    pdu.full_clean()
    pdu.save()
    services.pdu_sync_outlets(pdu=pdu)
    assert list(pdu.outlets.values_list("number", flat=True)) == [1, 2, 3, 4]


def test_lowering_the_outlet_count_below_a_connected_outlet_is_refused(rack):
    pdu = factories.make_pdu(rack=rack, outlet_count=8)
    host = factories.make_host(rack=rack)
    factories.make_supply(host=host, outlet=pdu.outlets.get(number=7))
    pdu.outlet_count = 4
    message = errors_of(pdu)["outlet_count"][0]
    assert "outlet(s) 7" in message and "plugged in" in message
    assert pdu.outlets.count() == 8


def test_the_database_refuses_to_drop_a_connected_outlet_even_without_validation(rack):
    pdu = factories.make_pdu(rack=rack, outlet_count=4)
    factories.make_supply(host=factories.make_host(rack=rack), outlet=pdu.outlets.get(number=4))
    PDU.objects.filter(pk=pdu.pk).update(outlet_count=2)  # bypasses clean()
    pdu.refresh_from_db()
    with pytest.raises(ProtectedError):
        services.pdu_sync_outlets(pdu=pdu)
    assert pdu.outlets.filter(number=4).exists()


def test_outlet_numbers_are_within_the_pdu_count_and_unique(rack):
    pdu = factories.make_pdu(rack=rack, outlet_count=4)
    assert "number" in errors_of(Outlet(pdu=pdu, number=5))
    assert "number" in errors_of(Outlet(pdu=pdu, number=2))  # already exists
    assert "number" in errors_of(Outlet(pdu=pdu, number=0))


def test_pdu_feed_must_be_at_the_same_site(rack):
    foreign_feed = factories.make_feed(rack=factories.make_rack())
    pdu = PDU(
        rack=rack,
        name="p",
        management_host="10.0.0.1",
        snmp_read_community="c",
        outlet_count=8,
        feed=foreign_feed,
    )
    assert "feed" in errors_of(pdu)


def test_pdu_feed_delivered_to_another_rack_is_refused(rack):
    neighbour = factories.make_rack(site=rack.site)
    feed = factories.make_feed(rack=neighbour)
    pdu = PDU(
        rack=rack,
        name="p",
        management_host="10.0.0.1",
        snmp_read_community="c",
        outlet_count=8,
        feed=feed,
    )
    assert "delivered to rack" in errors_of(pdu)["feed"][0]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"vendor_profile": "modbus_switched_pdu", "protocol": "snmp"}, "protocol"),
        ({"vendor_profile": "apc_rpdu2", "protocol": "modbus_tcp"}, "protocol"),
        ({"snmp_version": "v2c", "snmp_read_community": ""}, "snmp_read_community"),
        ({"snmp_version": "v3", "snmp_v3_username": ""}, "snmp_v3_username"),
        (
            {
                "snmp_version": "v3",
                "snmp_v3_username": "u",
                "snmp_v3_auth_protocol": "sha",
                "snmp_v3_auth_key": "short",
            },
            "snmp_v3_auth_key",
        ),
        (
            {
                "snmp_version": "v3",
                "snmp_v3_username": "u",
                "snmp_v3_priv_protocol": "aes128",
                "snmp_v3_priv_key": "longenough",
            },
            "snmp_v3_priv_protocol",
        ),
        ({"management_port": 70000}, "management_port"),
        ({"modbus_unit_id": 256}, "modbus_unit_id"),
        ({"outlet_count": 0}, "outlet_count"),
        ({"mounting": "rack_unit"}, "position_u"),
        ({"mounting": "0u_left", "position_u": 3}, "position_u"),
    ],
)
def test_pdu_protocol_and_mounting_rules(rack, fields, field):
    values = {
        "rack": rack,
        "name": "p",
        "management_host": "10.0.0.1",
        "snmp_read_community": "public",
        "outlet_count": 8,
        **fields,
    }
    assert field in errors_of(PDU(**values))


def test_valid_snmpv3_and_modbus_pdus(rack):
    PDU(
        rack=rack,
        name="v3",
        management_host="10.0.0.1",
        outlet_count=8,
        snmp_version="v3",
        snmp_v3_username="ops",
        snmp_v3_auth_protocol="sha256",
        snmp_v3_auth_key="authkey123",
        snmp_v3_priv_protocol="aes256",
        snmp_v3_priv_key="privkey123",
    ).full_clean()
    modbus = PDU(
        rack=rack,
        name="mb",
        management_host="10.0.0.2",
        outlet_count=8,
        vendor_profile="modbus_switched_pdu",
        protocol="modbus_tcp",
    )
    modbus.full_clean()
    assert modbus.effective_port == 502


# --- Power supplies ----------------------------------------------------------------------


def test_allocated_draw_cannot_exceed_maximum(rack):
    host = factories.make_host(rack=rack)
    supply = PowerSupply(host=host, name="PSU1", max_draw_w=500, allocated_draw_w=600)
    assert errors_of(supply) == {
        "allocated_draw_w": ["Allocated draw (600 W) cannot exceed the maximum draw (500 W)."]
    }


def test_allocated_draw_limit_is_also_a_database_constraint(rack):
    host = factories.make_host(rack=rack)
    with pytest.raises(IntegrityError), transaction.atomic():
        PowerSupply.objects.create(host=host, name="PSU1", max_draw_w=500, allocated_draw_w=600)


def test_supply_outlet_must_be_at_the_host_site(rack):
    foreign_pdu = factories.make_pdu(rack=factories.make_rack())
    host = factories.make_host(rack=rack)
    supply = PowerSupply(
        host=host, name="PSU1", max_draw_w=500, outlet=foreign_pdu.outlets.get(number=1)
    )
    assert "another site" in errors_of(supply)["outlet"][0]


def test_one_supply_per_outlet(rack):
    pdu = factories.make_pdu(rack=rack)
    outlet = pdu.outlets.get(number=1)
    factories.make_supply(host=factories.make_host(rack=rack), outlet=outlet)
    second = PowerSupply(
        host=factories.make_host(rack=rack), name="PSU1", max_draw_w=500, outlet=outlet
    )
    assert "outlet" in errors_of(second)
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


# --- Changes that would strand dependent objects -----------------------------------------


def test_a_rack_holding_hosts_cannot_move_to_another_site(rack):
    factories.make_host(rack=rack)
    rack.site = factories.make_site()
    assert "move or remove them first" in errors_of(rack)["site"][0]


def test_an_empty_rack_may_move_to_another_site(rack):
    rack.site = factories.make_site()
    rack.full_clean()


def test_a_feed_cannot_be_redelivered_to_another_rack_while_pdus_use_it(rack, pdus):
    feed_a = pdus[0].feed
    feed_a.rack = factories.make_rack(site=rack.site)
    assert "cannot power PDUs in another" in errors_of(feed_a)["rack"][0]


def test_a_feed_cannot_move_to_another_site_while_pdus_use_it(rack, pdus):
    feed_a = pdus[0].feed
    feed_a.rack = None
    feed_a.site = factories.make_site()
    assert "site" in errors_of(feed_a)


def test_a_host_with_plugged_supplies_cannot_change_site(site, rack, pdus):
    host = factories.make_host(site=site)  # not racked
    factories.make_supply(host=host, outlet=pdus[0].outlets.get(number=1))
    host.site = factories.make_site()
    assert "unplug them first" in errors_of(host)["site"][0]


def test_an_outlet_cannot_move_to_another_pdu(pdus):
    outlet = pdus[0].outlets.get(number=1)
    outlet.pdu = pdus[1]
    assert errors_of(outlet) == {"pdu": ["An outlet cannot move to another PDU."]}
