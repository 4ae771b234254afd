"""The inventory REST API: CRUD, brief related objects, filters, pagination, bulk create, and
errors that name the field and the rule and change nothing."""

import pytest

from inventory.models import PDU, Host, Outlet, Rack, Site
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


# --- Authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["sites", "racks", "power-feeds", "pdus", "outlets", "hosts", "power-supplies"]
)
def test_anonymous_requests_get_401(anon, path):
    assert anon.get(f"{API}/{path}/").status_code == 401
    assert anon.post(f"{API}/{path}/", {}, format="json").status_code == 401


def test_token_authentication(anon, admin_user):
    from dcpower.tokens import api_token_create

    _, token = api_token_create(user=admin_user, name="test")
    anon.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anon.get(f"{API}/sites/").status_code == 200


def test_a_user_without_a_role_may_not_even_read(anon, django_user_model, site):
    nobody = django_user_model.objects.create_user("nobody", password="pw-nobody-123")
    anon.force_authenticate(nobody)
    assert anon.get(f"{API}/sites/").status_code == 403
    assert anon.get(f"{API}/racks/").status_code == 403


def test_a_viewer_may_read_but_not_write(anon, django_user_model, site):
    reader = django_user_model.objects.create_user("reader", password="pw-reader-123")
    factories.grant(reader, "viewer")
    anon.force_authenticate(reader)
    assert anon.get(f"{API}/sites/").status_code == 200
    response = anon.post(f"{API}/sites/", {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 403
    assert not Site.objects.filter(slug="x").exists()


# --- CRUD and brief related objects ------------------------------------------------------


def test_create_read_update_delete_a_rack(api, site):
    response = api.post(
        f"{API}/racks/", {"site": site.pk, "name": "R9", "u_height": 48}, format="json"
    )
    assert response.status_code == 201, response.data
    rack = response.data
    assert rack["site"] == {
        "id": site.pk,
        "url": f"http://testserver{API}/sites/{site.pk}/",
        "name": site.name,
    }
    assert rack["status"] == "active"
    url = f"{API}/racks/{rack['id']}/"
    assert api.patch(url, {"room": "Hall 2"}, format="json").data["room"] == "Hall 2"
    assert api.delete(url).status_code == 204
    assert not Rack.objects.filter(pk=rack["id"]).exists()


def test_deleting_a_site_with_racks_is_a_conflict_naming_what_depends_on_it(api, rack):
    response = api.delete(f"{API}/sites/{rack.site.pk}/")
    assert response.status_code == 409
    assert f"rack {rack.name}" in response.data["detail"]
    assert Site.objects.filter(pk=rack.site.pk).exists()


def test_creating_a_pdu_creates_outlets_and_hides_credentials(api, rack, feeds):
    response = api.post(
        f"{API}/pdus/",
        {
            "rack": rack.pk,
            "name": "PDU-X",
            "management_host": "192.0.2.10",
            "snmp_read_community": "s3cret-read",
            "snmp_write_community": "s3cret-write",
            "outlet_count": 16,
            "feed": feeds[0].pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["effective_port"] == 161
    assert response.data["site"]["id"] == rack.site.pk
    assert "s3cret" not in str(response.data)
    assert "snmp_read_community" not in response.data
    pdu = PDU.objects.get(pk=response.data["id"])
    assert pdu.snmp_write_community == "s3cret-write"
    assert pdu.outlets.count() == 16
    assert "s3cret" not in str(api.get(f"{API}/pdus/{pdu.pk}/").data)


def test_outlet_count_changes_through_the_api(api, rack, pdus):
    pdu_a, _ = pdus
    host = factories.make_host(rack=rack)
    factories.make_supply(host=host, outlet=pdu_a.outlets.get(number=20))
    url = f"{API}/pdus/{pdu_a.pk}/"
    refused = api.patch(url, {"outlet_count": 12}, format="json")
    assert refused.status_code == 400
    assert "outlet(s) 20" in refused.data["outlet_count"][0]
    assert pdu_a.outlets.count() == 24
    assert api.patch(url, {"outlet_count": 20}, format="json").status_code == 200
    assert pdu_a.outlets.count() == 20
    assert api.patch(url, {"outlet_count": 30}, format="json").status_code == 200
    assert pdu_a.outlets.count() == 30


def test_an_outlet_cannot_move_to_another_pdu(api, pdus):
    pdu_a, pdu_b = pdus
    outlet = pdu_a.outlets.get(number=1)
    response = api.patch(f"{API}/outlets/{outlet.pk}/", {"pdu": pdu_b.pk}, format="json")
    assert response.status_code == 400
    assert "pdu" in response.data


def test_outlet_shows_the_supply_and_host_plugged_into_it(api, rack, pdus):
    host = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=3)
    outlet = pdus[0].outlets.get(number=3)
    data = api.get(f"{API}/outlets/{outlet.pk}/").data
    assert data["host"]["name"] == host.name
    assert data["power_supply"]["name"] == f"{host.name} PSU1"
    assert data["state"] == "unknown"


def test_host_shows_supplies_redundancy_and_allocated_draw(api, rack, pdus):
    host = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=5)
    data = api.get(f"{API}/hosts/{host.pk}/").data
    assert data["redundant_power"] is True
    assert data["allocated_draw_w"] == 400
    assert [(s["name"], s["outlet"]["number"]) for s in data["power_supplies"]] == [
        ("PSU1", 5),
        ("PSU2", 5),
    ]
    assert data["power_supplies"][0]["outlet"]["name"] == "PDU-A:5"


def test_rack_power_in_the_api(api, rack, pdus):
    factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=1)
    power = api.get(f"{API}/racks/{rack.pk}/").data["power"]
    assert power["redundant"] is True
    assert power["capacity_w"] == 5888
    assert power["total_feed_capacity_w"] == 11776
    assert power["allocated_draw_w"] == 400
    assert power["utilization_percent"] == 6.8
    assert [(s["side"], s["capacity_w"], len(s["feeds"])) for s in power["sides"]] == [
        ("A", 5888, 1),
        ("B", 5888, 1),
    ]


def test_feed_available_power_is_read_only_and_computed(api, rack):
    response = api.post(
        f"{API}/power-feeds/",
        {
            "site": rack.site.pk,
            "rack": rack.pk,
            "name": "F3",
            "side": "A",
            "voltage": 400,
            "amperage": 16,
            "phase": "three",
            "available_power_w": 1,
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["available_power_w"] == 8868
    assert response.data["derating_percent"] == 80


# --- Bad input ---------------------------------------------------------------------------


def test_overlapping_host_is_refused_with_the_field_and_rule(api, rack):
    factories.make_host(rack=rack, name="a", position_u=10, u_height=2)
    response = api.post(
        f"{API}/hosts/",
        {"site": rack.site.pk, "rack": rack.pk, "name": "b", "position_u": 11},
        format="json",
    )
    assert response.status_code == 400
    assert "overlaps host 'a'" in response.data["position_u"][0]
    assert not Host.objects.filter(name="b").exists()


def test_duplicate_name_is_reported_on_the_name_field(api, rack):
    response = api.post(f"{API}/racks/", {"site": rack.site.pk, "name": rack.name}, format="json")
    assert response.status_code == 400
    assert response.data == {"name": ["A rack with this name already exists at this site."]}


def test_unknown_fields_are_refused_by_name(api, site):
    response = api.post(
        f"{API}/racks/", {"site": site.pk, "name": "R1", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.data == {"colour": ["Unknown field."]}
    assert not Rack.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"u_height": "tall"}, "u_height"),
        ({"u_height": 61}, "u_height"),
        ({"status": "on-fire"}, "status"),
        ({"site": 999999}, "site"),
        ({"name": ""}, "name"),
    ],
)
def test_wrong_types_and_values_name_the_field(api, site, payload, field):
    response = api.post(f"{API}/racks/", {"site": site.pk, "name": "R1", **payload}, format="json")
    assert response.status_code == 400
    assert field in response.data
    assert not Rack.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.generic("POST", f"{API}/sites/", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_allocated_above_max_draw_is_refused(api, rack):
    host = factories.make_host(rack=rack)
    response = api.post(
        f"{API}/power-supplies/",
        {"host": host.pk, "name": "PSU1", "max_draw_w": 500, "allocated_draw_w": 501},
        format="json",
    )
    assert response.status_code == 400
    assert "allocated_draw_w" in response.data


def test_second_supply_on_an_outlet_is_refused(api, rack, pdus):
    outlet = pdus[0].outlets.get(number=1)
    factories.make_supply(host=factories.make_host(rack=rack), outlet=outlet)
    other = factories.make_host(rack=rack)
    response = api.post(
        f"{API}/power-supplies/",
        {"host": other.pk, "name": "PSU1", "max_draw_w": 500, "outlet": outlet.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "outlet" in response.data


# --- Bulk create -------------------------------------------------------------------------


def _host_payload(rack, name, position):
    return {"site": rack.site.pk, "rack": rack.pk, "name": name, "position_u": position}


def test_bulk_create_creates_every_item(api, rack):
    payload = [_host_payload(rack, f"h{i}", i) for i in range(1, 4)]
    response = api.post(f"{API}/hosts/", payload, format="json")
    assert response.status_code == 201, response.data
    assert [h["name"] for h in response.data] == ["h1", "h2", "h3"]
    assert Host.objects.count() == 3


def test_bulk_create_is_all_or_nothing_with_errors_per_item(api, rack):
    payload = [
        _host_payload(rack, "h1", 1),
        _host_payload(rack, "h2", 99),  # does not fit
        _host_payload(rack, "h3", 3),
    ]
    response = api.post(f"{API}/hosts/", payload, format="json")
    assert response.status_code == 400
    assert response.data[0] == {} and response.data[2] == {}
    assert "position_u" in response.data[1]
    assert not Host.objects.exists()


def test_bulk_create_checks_items_against_each_other(api, rack):
    payload = [_host_payload(rack, "h1", 5), _host_payload(rack, "h2", 5)]
    response = api.post(f"{API}/hosts/", payload, format="json")
    assert response.status_code == 400
    assert response.data[0] == {}
    assert "overlaps host 'h1'" in response.data[1]["position_u"][0]
    assert not Host.objects.exists()


def test_bulk_create_of_pdus_creates_their_outlets(api, rack):
    payload = [
        {
            "rack": rack.pk,
            "name": f"P{i}",
            "management_host": f"192.0.2.{i}",
            "snmp_read_community": "public",
            "outlet_count": 8,
        }
        for i in (1, 2)
    ]
    assert api.post(f"{API}/pdus/", payload, format="json").status_code == 201
    assert Outlet.objects.filter(pdu__rack=rack).count() == 16


def test_bulk_create_refuses_an_empty_list(api):
    assert api.post(f"{API}/hosts/", [], format="json").status_code == 400


# --- Filters, ordering, pagination -------------------------------------------------------


def test_filters(api, rack, pdus):
    factories.make_host(rack=rack, name="web-1", role="web", position_u=1)
    factories.make_host(
        rack=rack, name="db-1", role="database", protected=True, status="maintenance", position_u=2
    )
    other_site_host = factories.make_host(name="web-2", role="web")

    def names(query):
        response = api.get(f"{API}/hosts/?{query}")
        assert response.status_code == 200, response.data
        return sorted(h["name"] for h in response.data["results"])

    assert names(f"site={rack.site.pk}") == ["db-1", "web-1"]
    assert names("role=web") == ["web-1", "web-2"]
    assert names("protected=true") == ["db-1"]
    assert names("status=maintenance") == ["db-1"]
    assert names("name__icontains=WEB") == ["web-1", "web-2"]
    assert names(f"rack={rack.pk}&role=web") == ["web-1"]
    assert names("q=db") == ["db-1"]
    assert names(f"site={other_site_host.site.pk}") == ["web-2"]


def test_outlet_and_supply_filters(api, rack, pdus):
    host = factories.make_dual_psu_host(rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=2)
    connected = api.get(f"{API}/outlets/?connected=true&pdu={pdus[0].pk}").data
    assert [o["number"] for o in connected["results"]] == [2]
    assert api.get(f"{API}/outlets/?connected=false&pdu={pdus[0].pk}").data["count"] == 23
    assert api.get(f"{API}/outlets/?host={host.pk}").data["count"] == 2
    supplies = api.get(f"{API}/power-supplies/?pdu={pdus[1].pk}").data["results"]
    assert [s["name"] for s in supplies] == ["PSU2"]


def test_invalid_filter_value_is_a_400(api):
    response = api.get(f"{API}/hosts/?status=exploded")
    assert response.status_code == 400
    assert "status" in response.data


def test_ordering(api, site):
    for name in ("b", "c", "a"):
        factories.make_rack(site=site, name=name)
    results = api.get(f"{API}/racks/?ordering=-name").data["results"]
    assert [r["name"] for r in results] == ["c", "b", "a"]


def test_pagination_defaults_to_50_and_caps_at_1000(api, site):
    Rack.objects.bulk_create(Rack(site=site, name=f"R{i:04d}") for i in range(1005))
    page = api.get(f"{API}/racks/").data
    assert page["count"] == 1005 and len(page["results"]) == 50
    assert page["next"] is not None
    assert len(api.get(f"{API}/racks/?limit=5000").data["results"]) == 1000
    assert [r["name"] for r in api.get(f"{API}/racks/?limit=2&offset=10").data["results"]] == [
        "R0010",
        "R0011",
    ]


def test_an_outlet_within_the_pdu_count_cannot_be_deleted(api, pdus):
    outlet = pdus[0].outlets.get(number=5)
    response = api.delete(f"{API}/outlets/{outlet.pk}/")
    assert response.status_code == 400
    assert "lower the PDU's outlet_count" in response.data["number"][0]
    assert pdus[0].outlets.count() == 24


def test_a_missing_outlet_can_be_recreated_within_the_count(api, pdus):
    pdus[0].outlets.filter(number=5).delete()
    response = api.post(f"{API}/outlets/", {"pdu": pdus[0].pk, "number": 5}, format="json")
    assert response.status_code == 201, response.data
    too_high = api.post(f"{API}/outlets/", {"pdu": pdus[0].pk, "number": 25}, format="json")
    assert too_high.status_code == 400
    assert "numbers run from 1 to 24" in too_high.data["number"][0]


def test_unknown_query_parameters_are_refused(api, rack):
    response = api.get(f"{API}/hosts/?stauts=active")
    assert response.status_code == 400
    assert response.data == {"stauts": ["Unknown query parameter."]}
    assert (
        api.get(f"{API}/hosts/?status=active&limit=5&offset=0&ordering=name&q=x").status_code == 200
    )
