"""Roles scoped to sites (dcpower/access.py): the data migration's roles hold what they say;
a technician edits only their site's inventory, an operator switches only their site's
outlets, force needs guardrail-override there too; in the API, the admin and the services,
each refusal a 403 with nothing changed; reading is never scoped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from inventory.models import PDU, Outlet, Rack
from power.models import PowerCommand
from power.services import power_command_request
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def sites():
    """Two sites, each with a rack and one PDU of 8 outlets; web01 on outlet 1 at each."""
    made = {}
    for key in ("A", "B"):
        site = factories.make_site(name=f"DC-{key}", slug=f"dc-{key.lower()}")
        rack = factories.make_rack(site=site, name=f"R-{key}")
        feed = factories.make_feed(rack=rack, side="A")
        pdu = factories.make_pdu(rack=rack, name=f"PDU-{key}", feed=feed, outlet_count=8)
        host = factories.make_host(rack=rack, name=f"web-{key.lower()}", protected=True)
        factories.make_supply(host=host, outlet=pdu.outlets.get(number=1))
        Outlet.objects.filter(pdu=pdu).update(state="on")
        made[key] = {"site": site, "rack": rack, "pdu": pdu, "host": host}
    return made


@pytest.fixture
def user(django_user_model):
    def make(name: str, *roles: tuple[str, list]):
        person = django_user_model.objects.create_user(name, password=f"pw-{name}-12345")
        for role, where in roles:
            factories.grant(person, role, *where)
        return person

    return make


@pytest.fixture
def as_user(anon):
    def login(person):
        anon.force_authenticate(person)
        return anon

    return login


def perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_roles_hold_what_they_say():
    viewer, technician, operator = perms("viewer"), perms("technician"), perms("operator")
    automation, admin = perms("automation"), perms("admin")
    assert viewer and all(".view_" in p for p in viewer)
    assert "inventory.change_rack" in technician and "power.add_powercommand" not in technician
    assert "power.add_powercommand" in operator and "inventory.change_rack" not in operator
    assert {"inventory.change_pdu", "power.add_powercommand"} <= automation
    assert "power.force_powercommand" not in operator | automation
    assert perms("guardrail-override") == {"power.force_powercommand"}
    assert {"power.force_powercommand", "inventory.add_site", "dcpower.add_rolegrant"} <= admin


def test_a_technician_edits_only_their_sites_inventory(sites, user, as_user):
    api = as_user(user("tech", ("technician", [sites["A"]["site"]])))
    rack_a, rack_b = sites["A"]["rack"], sites["B"]["rack"]
    assert api.patch(f"{API}/racks/{rack_a.pk}/", {"room": "1.01"}).status_code == 200
    refused = api.patch(f"{API}/racks/{rack_b.pk}/", {"room": "2.02"})
    assert refused.status_code == 403
    assert Rack.objects.get(pk=rack_b.pk).room != "2.02"
    created = api.post(f"{API}/racks/", {"site": sites["A"]["site"].pk, "name": "R-A2"})
    assert created.status_code == 201, created.data
    refused = api.post(f"{API}/racks/", {"site": sites["B"]["site"].pk, "name": "R-B2"})
    assert refused.status_code == 403 and "at site" in str(refused.data["detail"])
    assert not Rack.objects.filter(name="R-B2").exists()
    # Moving their PDU into the other site's rack is touching that site too.
    pdu_a = sites["A"]["pdu"]
    moved = api.patch(f"{API}/pdus/{pdu_a.pk}/", {"rack": rack_b.pk, "feed": None})
    assert moved.status_code == 403
    assert PDU.objects.get(pk=pdu_a.pk).rack_id == rack_a.pk
    # A bulk create with one item elsewhere creates nothing.
    bulk = api.post(
        f"{API}/racks/",
        [
            {"site": sites["A"]["site"].pk, "name": "R-A3"},
            {"site": sites["B"]["site"].pk, "name": "R-B3"},
        ],
    )
    assert bulk.status_code == 403
    assert not Rack.objects.filter(name__in=["R-A3", "R-B3"]).exists()
    # Reading is everyone's: the other site's racks are listed and shown.
    assert api.get(f"{API}/racks/{rack_b.pk}/").status_code == 200
    assert api.get(f"{API}/racks/").data["count"] == 3
    # A technician switches nothing.
    outlet = sites["A"]["pdu"].outlets.get(number=5)
    assert api.post(f"{API}/outlets/{outlet.pk}/power/on/", {}).status_code == 403
    assert not PowerCommand.objects.exists()


def test_an_operator_switches_only_their_sites_outlets(sites, user, as_user):
    api = as_user(user("op", ("operator", [sites["A"]["site"]])))
    outlet_a = sites["A"]["pdu"].outlets.get(number=5)
    outlet_b = sites["B"]["pdu"].outlets.get(number=5)
    assert api.post(f"{API}/outlets/{outlet_a.pk}/power/on/", {}).status_code == 202
    refused = api.post(f"{API}/outlets/{outlet_b.pk}/power/on/", {})
    assert refused.status_code == 403
    assert "power commands at site 'DC-B'" in str(refused.data["detail"])
    assert PowerCommand.objects.count() == 1
    rack_a = sites["A"]["rack"]
    assert api.patch(f"{API}/racks/{rack_a.pk}/", {"room": "x"}).status_code == 403


def test_force_needs_guardrail_override_at_the_site(sites, user, as_user):
    host_a = sites["A"]["host"]  # protected: cycling it needs force
    body = {"reason": "kernel hang", "force": True}
    plain = as_user(user("op", ("operator", [sites["A"]["site"]])))
    refused = plain.post(f"{API}/hosts/{host_a.pk}/power/cycle/", body)
    assert refused.status_code == 403 and "force" in str(refused.data["detail"])
    assert not PowerCommand.objects.exists()
    trusted = as_user(
        user(
            "lead",
            ("operator", [sites["A"]["site"]]),
            ("guardrail-override", [sites["A"]["site"]]),
        )
    )
    assert trusted.post(f"{API}/hosts/{host_a.pk}/power/cycle/", body).status_code == 202
    # Override at A is not override at B.
    refused = trusted.post(f"{API}/hosts/{sites['B']['host'].pk}/power/cycle/", body)
    assert refused.status_code == 403


def test_commands_of_another_site_cannot_be_cancelled(sites, user, as_user, admin_user):
    outlet_b = sites["B"]["pdu"].outlets.get(number=6)
    command = power_command_request(user=admin_user, action="on", outlet_ids=[outlet_b.pk]).command
    api = as_user(user("op", ("operator", [sites["A"]["site"]])))
    assert api.post(f"{API}/power/commands/{command.pk}/cancel/").status_code == 403
    command.refresh_from_db()
    assert command.status == "pending"
    assert api.get(f"{API}/power/commands/{command.pk}/").status_code == 200  # reading is fine


def test_automation_and_admin_roles(sites, user, as_user):
    bot = as_user(user("bot", ("automation", [])))
    rack_b = sites["B"]["rack"]
    assert bot.patch(f"{API}/racks/{rack_b.pk}/", {"room": "bot"}).status_code == 200
    host_b = sites["B"]["host"]
    refused = bot.post(f"{API}/hosts/{host_b.pk}/power/cycle/", {"reason": "x", "force": True})
    assert refused.status_code == 403  # service accounts never force
    boss = as_user(user("boss", ("admin", [])))
    assert boss.post(f"{API}/sites/", {"name": "DC-C", "slug": "dc-c"}).status_code == 201
    done = boss.post(f"{API}/hosts/{host_b.pk}/power/cycle/", {"reason": "x", "force": True})
    assert done.status_code == 202


def test_the_admin_shows_another_sites_rack_read_only(sites, user, client):
    tech = user("tech", ("technician", [sites["A"]["site"]]))
    tech.is_staff = True
    tech.save()
    client.force_login(tech)
    rack_a, rack_b = sites["A"]["rack"], sites["B"]["rack"]
    mine = client.get(f"/admin/inventory/rack/{rack_a.pk}/change/").content.decode()
    theirs = client.get(f"/admin/inventory/rack/{rack_b.pk}/change/").content.decode()
    assert 'name="_save"' in mine
    assert 'name="_save"' not in theirs  # view only
    response = client.post(
        f"/admin/inventory/rack/{rack_b.pk}/change/",
        {"site": rack_b.site_id, "name": "HACKED", "status": rack_b.status, "u_height": 42},
    )
    assert response.status_code == 403
    assert Rack.objects.get(pk=rack_b.pk).name == "R-B"


def test_an_admin_power_action_at_another_site_is_refused(sites, user, client):
    op = user("op", ("operator", [sites["A"]["site"]]), ("viewer", []))
    op.is_staff = True
    op.save()
    client.force_login(op)
    outlet_b = sites["B"]["pdu"].outlets.get(number=4)
    response = client.post(
        "/admin/inventory/outlet/",
        {
            "action": "power_on_outlet",
            "_selected_action": [outlet_b.pk],
            "confirm": "1",
            "reason": "test",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "power commands at site" in response.content.decode()
    assert not PowerCommand.objects.exists()
