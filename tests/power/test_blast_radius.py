"""What a power action will touch, and the guardrails that refuse a dangerous one."""

import pytest
from django.core.exceptions import ValidationError

from inventory.models import Outlet
from power.blast_radius import PowerAction, blast_radius, resolve_outlets
from power.guardrails import guardrail_refusals
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def dual(rack, pdus):
    """A dual-PSU host on outlet 1 of the A and B PDUs, both live."""
    pdu_a, pdu_b = pdus
    host = factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=1, name="web01")
    Outlet.objects.filter(number=1).update(state="on")
    return host


def outlets_of(*pairs):
    """The outlets as a request resolves them (with the hosts they feed)."""
    return resolve_outlets(outlet_ids=[pdu.outlets.get(number=n).pk for pdu, n in pairs])


def codes(refusals):
    return [r.code for r in refusals]


# --- resolving targets -------------------------------------------------------------------


def test_a_host_resolves_to_all_its_supplies_outlets(dual, pdus):
    outlets = resolve_outlets(host_ids=[dual.pk])
    assert {(o.pdu.name, o.number) for o in outlets} == {("PDU-A", 1), ("PDU-B", 1)}


def test_a_rack_resolves_to_its_pdus_outlets(rack, pdus):
    assert len(resolve_outlets(rack_ids=[rack.pk])) == 48


def test_outlets_hosts_and_racks_combine_without_duplicates(dual, rack, pdus):
    outlet = pdus[0].outlets.get(number=1)
    assert len(resolve_outlets(outlet_ids=[outlet.pk], host_ids=[dual.pk])) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "outlets"),
        ({"outlet_ids": [999999]}, "outlets"),
        ({"host_ids": [999999]}, "hosts"),
        ({"rack_ids": [999999]}, "racks"),
    ],
)
def test_unknown_or_missing_targets_name_the_field(db, kwargs, field):
    with pytest.raises(ValidationError) as excinfo:
        resolve_outlets(**kwargs)
    assert field in excinfo.value.message_dict


def test_a_host_plugged_into_nothing_is_refused(rack):
    host = factories.make_host(rack=rack, name="lonely")
    factories.make_supply(host=host, outlet=None)
    with pytest.raises(ValidationError, match="lonely"):
        resolve_outlets(host_ids=[host.pk])


# --- blast radius ------------------------------------------------------------------------


def test_cutting_one_side_of_a_dual_psu_host_loses_redundancy_only(dual, pdus):
    radius = blast_radius(action="off", outlets=outlets_of((pdus[0], 1)))
    assert radius.hosts_losing_redundancy == [dual]
    assert radius.hosts_losing_all_power == []
    assert [p.name for p in radius.pdus] == ["PDU-A"]


def test_cutting_both_sides_loses_all_power(dual, pdus):
    radius = blast_radius(action="cycle", outlets=outlets_of((pdus[0], 1), (pdus[1], 1)))
    assert radius.hosts_losing_all_power == [dual]
    assert radius.active_hosts_losing_all_power == [dual]
    assert [p.name for p in radius.pdus] == ["PDU-A", "PDU-B"]


def test_a_side_already_off_does_not_count_as_live(dual, pdus):
    Outlet.objects.filter(pdu=pdus[1], number=1).update(state="off")
    radius = blast_radius(action="off", outlets=outlets_of((pdus[0], 1)))
    assert radius.hosts_losing_all_power == [dual]  # its only live supply


def test_unknown_state_counts_as_live(dual, pdus):
    Outlet.objects.filter(number=1).update(state="unknown")
    radius = blast_radius(action="off", outlets=outlets_of((pdus[0], 1)))
    assert radius.hosts_losing_redundancy == [dual]


def test_each_host_counts_its_live_supplies_in_all_and_on_the_targets(rack, dual, pdus):
    """The counts behind both lists: unplugged and off supplies are not live; a host fed by
    two targeted outlets counts both; hosts fed by nothing targeted are not in the radius."""
    pdu_a, pdu_b = pdus
    factories.make_supply(host=dual, name="PSU3")  # plugged into nothing
    factories.make_supply(host=dual, name="PSU4", outlet=pdu_a.outlets.get(number=2))
    Outlet.objects.filter(pdu=pdu_a, number=2).update(state="off")
    triple = factories.make_host(rack=rack, name="db01")
    for pdu, number in ((pdu_a, 3), (pdu_a, 4), (pdu_b, 3)):
        factories.make_supply(
            host=triple, name=f"PSU-{pdu.name}-{number}", outlet=pdu.outlets.get(number=number)
        )
    Outlet.objects.filter(number__in=(3, 4)).update(state="on")
    factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=5, name="idle")

    radius = blast_radius(
        action="off", outlets=outlets_of((pdus[0], 1), (pdus[0], 2), (pdus[0], 3), (pdus[0], 4))
    )
    counts = {i.host.name: (i.supplies_affected, i.supplies_live) for i in radius.hosts}
    assert counts == {"db01": (2, 3), "web01": (1, 2)}
    assert radius.hosts_losing_redundancy == [triple, dual]  # by name
    assert radius.hosts_losing_all_power == []


def test_switching_on_darkens_nothing(dual, pdus):
    radius = blast_radius(action="on", outlets=outlets_of((pdus[0], 1), (pdus[1], 1)))
    assert radius.hosts_losing_all_power == [] and radius.hosts_losing_redundancy == []
    assert radius.hosts_powered_on == [dual]


def test_the_demo_rack_blast_radius():
    from inventory.demo import demo_inventory_load
    from inventory.models import Rack

    demo_inventory_load()
    Outlet.objects.update(state="on")
    rack = Rack.objects.get(name="R01")
    radius = blast_radius(action=PowerAction.OFF, outlets=resolve_outlets(rack_ids=[rack.pk]))
    assert len(radius.hosts_losing_all_power) == 10
    assert {h.name for h in radius.protected_hosts_affected} == {"r01-tor01", "r01-db01"}


# --- guardrails --------------------------------------------------------------------------


def test_off_and_cycle_need_a_reason_on_does_not(dual, pdus):
    one_side = outlets_of((pdus[0], 1))
    assert codes(
        guardrail_refusals(blast_radius(action="off", outlets=one_side), reason=" ", force=False)
    ) == ["reason_required"]
    assert (
        guardrail_refusals(blast_radius(action="on", outlets=one_side), reason="", force=False)
        == []
    )


def test_cutting_an_active_hosts_last_live_supply_needs_force(dual, pdus):
    radius = blast_radius(action="off", outlets=outlets_of((pdus[0], 1), (pdus[1], 1)))
    refusals = guardrail_refusals(radius, reason="wedged", force=False)
    assert codes(refusals) == ["last_live_supply"]
    assert "web01" in refusals[0].message and refusals[0].overridable
    assert guardrail_refusals(radius, reason="wedged", force=True) == []


def test_a_host_in_maintenance_may_lose_its_last_supply(dual, pdus):
    dual.status = "maintenance"
    dual.save()
    radius = blast_radius(action="off", outlets=outlets_of((pdus[0], 1), (pdus[1], 1)))
    assert guardrail_refusals(radius, reason="hardware swap", force=False) == []


def test_any_cut_feeding_a_protected_host_needs_force(dual, pdus):
    dual.protected = True
    dual.save()
    radius = blast_radius(action="cycle", outlets=outlets_of((pdus[0], 1)))
    refusals = guardrail_refusals(radius, reason="test", force=False)
    assert codes(refusals) == ["protected_host"]
    assert "protected host(s) web01" in refusals[0].message
    assert guardrail_refusals(radius, reason="test", force=True) == []


def test_locked_outlets_refuse_every_command_even_forced(dual, pdus):
    Outlet.objects.filter(pdu=pdus[0], number=1).update(locked=True, lock_reason="PSU swap")
    for action in ("on", "off", "cycle"):
        radius = blast_radius(action=action, outlets=resolve_outlets(host_ids=[dual.pk]))
        refusals = guardrail_refusals(radius, reason="x", force=True)
        assert codes(refusals) == ["locked_outlet"]
        assert "PSU swap" in refusals[0].message and not refusals[0].overridable


def test_a_lock_needs_a_reason(pdus):
    outlet = pdus[0].outlets.get(number=2)
    outlet.locked = True
    with pytest.raises(ValidationError) as excinfo:
        outlet.full_clean()
    assert "lock_reason" in excinfo.value.message_dict
