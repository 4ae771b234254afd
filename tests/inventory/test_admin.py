"""The Django admin lets a DC technician do the whole inventory job, with the API's rules.

Every page is exercised through the real admin views with a logged-in superuser
(``admin_client``). Form submissions start from what the page itself renders (the model form
and every inline formset with its management form, see ``page_form_data``), so a test posts
what a browser would post, with only the fields under test changed.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms import CheckboxInput
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from inventory.demo import RACK_COUNT, demo_inventory_load
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site
from tests import factories

MODELS = ["site", "rack", "powerfeed", "pdu", "outlet", "host", "powersupply"]


# --- Helpers --------------------------------------------------------------------------------


def admin_url(model: str, action: str = "changelist", pk: int | None = None) -> str:
    if action == "changelist":
        return f"/admin/inventory/{model}/"
    if action == "add":
        return f"/admin/inventory/{model}/add/"
    return f"/admin/inventory/{model}/{pk}/{action}/"


def _form_values(form) -> dict[str, object]:
    """A form's current values as a browser submits them: unchecked boxes are left out."""
    values: dict[str, object] = {}
    for bound_field in form:
        value = bound_field.value()
        if isinstance(bound_field.field.widget, CheckboxInput):
            if value:
                values[bound_field.html_name] = "on"
        else:
            values[bound_field.html_name] = "" if value is None else value
    return values


def page_form_data(response, **changes) -> dict[str, object]:
    """The POST data of an admin add or change page as rendered, with ``changes`` applied.

    Includes the model form's fields and, for each inline, its management form
    (``<prefix>-TOTAL_FORMS`` etc.) and every rendered row (``<prefix>-N-id``, the foreign key
    to the parent, the row's editable fields). Read-only fields are not part of the form.
    """
    assert response.status_code == 200, response.status_code
    data = _form_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_values(formset.management_form))
        for form in formset.forms:
            data.update(_form_values(form))
    data.update({name: value for name, value in changes.items()})
    return data


def post_page(client, url: str, **changes):
    """GET an admin page, then submit its form with ``changes``."""
    return client.post(url, page_form_data(client.get(url), **changes))


def form_errors(response) -> dict[str, list[str]]:
    """Errors of the model form on a re-rendered admin page (a refused submission)."""
    assert response.status_code == 200, f"expected the form again, got {response.status_code}"
    return response.context["adminform"].form.errors


def assert_refused_on(response, field: str, *message_parts: str) -> None:
    """The submission was refused with an error on ``field``, shown on the page."""
    errors = form_errors(response)
    assert field in errors, f"no error on {field!r}; errors: {dict(errors)}"
    message = " ".join(errors[field])
    for part in message_parts:
        assert part in message, f"{part!r} not in {message!r}"
    page = response.content.decode()
    for error in errors[field]:
        assert escape(error) in page, f"error {error!r} is not shown on the page"


def assert_saved(response) -> None:
    """The admin accepted the submission and redirected."""
    if response.status_code == 200 and response.context and "adminform" in response.context:
        form = response.context["adminform"].form
        inline_errors = [
            (inline.formset.prefix, inline.formset.errors, inline.formset.non_form_errors())
            for inline in response.context["inline_admin_formsets"]
        ]
        pytest.fail(f"form refused: {dict(form.errors)} inlines: {inline_errors}")
    assert response.status_code == 302, response.status_code


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def powered_rack(rack, pdus):
    """``rack`` with A/B feeds and PDUs and two dual-PSU hosts, all supplies plugged in."""
    pdu_a, pdu_b = pdus
    for outlet in (1, 2):
        factories.make_dual_psu_host(
            rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=outlet, position_u=outlet
        )
    return rack


# --- 1. Pages and query counts --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_add_page_load_with_demo_inventory(admin_client, model):
    demo_inventory_load()

    changelist = admin_client.get(admin_url(model))
    add_page = admin_client.get(admin_url(model, "add"))

    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count > 0
    assert add_page.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_change_page_loads_with_demo_inventory(admin_client, model):
    demo_inventory_load()
    obj = admin_client.get(admin_url(model)).context["cl"].result_list[0]

    response = admin_client.get(admin_url(model, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, powered_rack, model):
    url = admin_url(model)
    assert Rack.objects.count() == 1
    with_one_rack = count_queries(admin_client, url)

    demo_inventory_load()
    assert Rack.objects.count() == 1 + RACK_COUNT
    with_demo_racks = count_queries(admin_client, url)

    assert with_demo_racks <= with_one_rack


@pytest.mark.django_db
def test_rack_and_host_changelists_show_computed_power_columns(admin_client):
    """The computed columns the query-count test guards are really rendered."""
    demo_inventory_load()

    racks = admin_client.get(admin_url("rack")).content.decode()
    hosts = admin_client.get(admin_url("host"))

    # Every demo rack: A and B feeds of 5,888 W, 10 hosts x 2 supplies.
    assert racks.count("5.9 kW") == RACK_COUNT
    assert "(not redundant)" not in racks
    assert 'class="field-redundant_power"><img src="/static/admin/img/icon-yes.svg"' in (
        hosts.content.decode()
    )


# --- 2. Access ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_anonymous_user_is_redirected_to_login(client, model):
    response = client.get(admin_url(model))

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={admin_url(model)}"


# --- Sites, racks and feeds -----------------------------------------------------------------


@pytest.mark.django_db
def test_add_site_rack_and_feed(admin_client):
    assert_saved(post_page(admin_client, admin_url("site", "add"), name="FRA2", slug="fra2"))
    site = Site.objects.get(slug="fra2")

    rack_add = admin_client.get(admin_url("rack", "add"))
    assert rack_add.context["inline_admin_formsets"] == []  # rows come once the rack exists
    assert_saved(post_page(admin_client, admin_url("rack", "add"), site=site.pk, name="R01"))
    rack = Rack.objects.get(site=site, name="R01")
    assert rack.u_height == 42

    response = post_page(
        admin_client,
        admin_url("powerfeed", "add"),
        site=site.pk,
        rack=rack.pk,
        name="R01-A",
        side="A",
        voltage=230,
        amperage=32,
    )
    assert_saved(response)
    assert PowerFeed.objects.get(rack=rack).available_power_w == 5888


@pytest.mark.django_db
def test_duplicate_rack_name_at_a_site_is_refused_on_name(admin_client, rack):
    response = post_page(admin_client, admin_url("rack", "add"), site=rack.site.pk, name=rack.name)

    assert_refused_on(response, "name", "A rack with this name already exists at this site.")
    assert Rack.objects.count() == 1


@pytest.mark.django_db
def test_feed_delivered_to_a_rack_at_another_site_is_refused(admin_client, rack):
    other_site = factories.make_site()

    response = post_page(
        admin_client,
        admin_url("powerfeed", "add"),
        site=other_site.pk,
        rack=rack.pk,
        name="FEED-X",
        side="A",
        voltage=230,
        amperage=32,
    )

    assert_refused_on(response, "rack", "is not at site")
    assert not PowerFeed.objects.exists()


# --- 3. PDUs and their outlets --------------------------------------------------------------


def add_pdu(admin_client, rack, *, outlet_count: int, name: str = "PDU-X") -> PDU:
    response = post_page(
        admin_client,
        admin_url("pdu", "add"),
        rack=rack.pk,
        name=name,
        outlet_count=outlet_count,
        management_host="127.0.0.9",
        snmp_read_community="public",
    )
    assert_saved(response)
    return PDU.objects.get(rack=rack, name=name)


def outlet_numbers(pdu: PDU) -> list[int]:
    return list(pdu.outlets.order_by("number").values_list("number", flat=True))


@pytest.mark.django_db
def test_add_pdu_creates_its_outlets(admin_client, rack):
    add_page = admin_client.get(admin_url("pdu", "add"))
    data = page_form_data(add_page)
    assert data["outlets-TOTAL_FORMS"] == 0
    assert data["outlets-INITIAL_FORMS"] == 0

    pdu = add_pdu(admin_client, rack, outlet_count=8)

    assert outlet_numbers(pdu) == list(range(1, 9))


@pytest.mark.django_db
def test_pdu_change_page_posts_outlet_rows_and_saves_labels(admin_client, rack):
    pdu = add_pdu(admin_client, rack, outlet_count=4)
    url = admin_url("pdu", "change", pdu.pk)
    data = page_form_data(admin_client.get(url))
    assert data["outlets-TOTAL_FORMS"] == 4
    assert data["outlets-INITIAL_FORMS"] == 4
    second = pdu.outlets.get(number=2)
    assert data["outlets-1-id"] == second.pk
    assert data["outlets-1-pdu"] == pdu.pk

    data["outlets-1-label"] = "db01 PSU1"
    assert_saved(admin_client.post(url, data))

    second.refresh_from_db()
    assert second.label == "db01 PSU1"


@pytest.mark.django_db
def test_reducing_outlet_count_removes_unplugged_outlets_above_it(admin_client, rack):
    pdu = add_pdu(admin_client, rack, outlet_count=8)

    response = post_page(admin_client, admin_url("pdu", "change", pdu.pk), outlet_count=5)

    assert_saved(response)
    assert outlet_numbers(pdu) == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_raising_outlet_count_adds_outlets(admin_client, rack):
    pdu = add_pdu(admin_client, rack, outlet_count=2)

    response = post_page(admin_client, admin_url("pdu", "change", pdu.pk), outlet_count=6)

    assert_saved(response)
    assert outlet_numbers(pdu) == list(range(1, 7))


@pytest.mark.django_db
def test_reducing_outlet_count_below_a_plugged_outlet_is_refused(admin_client, rack):
    pdu = add_pdu(admin_client, rack, outlet_count=8)
    host = factories.make_host(rack=rack)
    factories.make_supply(host=host, outlet=pdu.outlets.get(number=7))

    response = post_page(
        admin_client,
        admin_url("pdu", "change", pdu.pk),
        name="PDU-RENAMED",
        outlet_count=4,
        **{"outlets-0-label": "new label"},
    )

    assert_refused_on(response, "outlet_count", "Cannot reduce to 4 outlets", "outlet(s) 7")
    pdu.refresh_from_db()
    assert (pdu.name, pdu.outlet_count) == ("PDU-X", 8)
    assert outlet_numbers(pdu) == list(range(1, 9))
    assert pdu.outlets.get(number=1).label == ""
    assert PowerSupply.objects.get(host=host).outlet.number == 7


# --- 4. Hosts: placement in the rack --------------------------------------------------------


def host_add_data(admin_client, rack, **changes) -> dict[str, object]:
    """The host add page's data for a host in ``rack`` with one power supply row."""
    fields = {"site": rack.site.pk, "rack": rack.pk, "name": "new-host", **changes}
    data = page_form_data(admin_client.get(admin_url("host", "add")), **fields)
    assert data["power_supplies-TOTAL_FORMS"] == 0
    data.update(
        {
            "power_supplies-TOTAL_FORMS": 1,
            "power_supplies-0-name": "PSU1",
            "power_supplies-0-max_draw_w": 800,
            "power_supplies-0-allocated_draw_w": 200,
            "power_supplies-0-outlet": "",
        }
    )
    return data


@pytest.mark.django_db
def test_add_host_with_power_supply(admin_client, rack):
    data = host_add_data(admin_client, rack, position_u=10)

    response = admin_client.post(admin_url("host", "add"), data)

    assert_saved(response)
    host = Host.objects.get(name="new-host")
    assert (host.site, host.rack, host.position_u, host.u_height) == (rack.site, rack, 10, 1)
    assert list(host.power_supplies.values_list("name", flat=True)) == ["PSU1"]


@pytest.mark.django_db
def test_add_host_overlapping_another_host_is_refused(admin_client, rack):
    factories.make_host(rack=rack, name="db01", position_u=10, u_height=2)
    data = host_add_data(admin_client, rack, position_u=11)

    response = admin_client.post(admin_url("host", "add"), data)

    assert_refused_on(response, "position_u", "U11-U11 overlaps host 'db01' at U10-U11")
    assert not Host.objects.filter(name="new-host").exists()
    assert not PowerSupply.objects.exists()


@pytest.mark.django_db
def test_add_host_not_fitting_in_the_rack_height_is_refused(admin_client, rack):
    assert rack.u_height == 42
    data = host_add_data(admin_client, rack, position_u=42, u_height=2)

    response = admin_client.post(admin_url("host", "add"), data)

    assert_refused_on(response, "position_u", "U42-U43 does not fit", "42U tall")
    assert not Host.objects.exists()
    assert not PowerSupply.objects.exists()


@pytest.mark.django_db
def test_add_host_with_a_supply_plugged_in_at_another_site_is_refused(admin_client, rack):
    elsewhere = factories.make_pdu(rack=factories.make_rack())
    data = host_add_data(admin_client, rack, position_u=3)
    data["power_supplies-0-outlet"] = elsewhere.outlets.get(number=1).pk

    response = admin_client.post(admin_url("host", "add"), data)

    assert response.status_code == 200
    (supplies,) = [i.formset for i in response.context["inline_admin_formsets"]]
    assert "is at another site than host 'new-host'" in " ".join(supplies.errors[0]["outlet"])
    assert not Host.objects.exists()
    assert not PowerSupply.objects.exists()


# --- 5. Racks -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rack_change_page_posts_pdu_and_host_rows(admin_client, rack, pdus):
    host = factories.make_host(rack=rack, name="top", position_u=40, u_height=2)
    url = admin_url("rack", "change", rack.pk)
    data = page_form_data(admin_client.get(url))
    assert (data["pdus-TOTAL_FORMS"], data["pdus-INITIAL_FORMS"]) == (2, 2)
    assert (data["hosts-TOTAL_FORMS"], data["hosts-INITIAL_FORMS"]) == (1, 1)
    assert data["hosts-0-id"] == host.pk

    data["hosts-0-role"] = "switch"
    data["u_height"] = 41  # still holds the host at U40-U41
    assert_saved(admin_client.post(url, data))

    rack.refresh_from_db()
    host.refresh_from_db()
    assert (rack.u_height, host.role) == (41, "switch")


@pytest.mark.django_db
def test_shrinking_rack_below_a_host_is_refused(admin_client, rack, pdus):
    factories.make_host(rack=rack, name="top", position_u=40, u_height=2)

    response = post_page(
        admin_client, admin_url("rack", "change", rack.pk), u_height=40, name="RENAMED"
    )

    assert_refused_on(response, "u_height", "Cannot shrink the rack to 40U", "'top'", "U41")
    name = rack.name
    rack.refresh_from_db()
    assert (rack.u_height, rack.name) == (42, name)


def rack_page_data(admin_client, rack) -> dict[str, object]:
    return page_form_data(admin_client.get(admin_url("rack", "change", rack.pk)))


@pytest.mark.django_db
def test_add_host_on_the_rack_page_puts_it_at_the_racks_site(admin_client, rack):
    data = rack_page_data(admin_client, rack)
    data.update(
        {
            "hosts-TOTAL_FORMS": 1,
            "hosts-0-rack": rack.pk,
            "hosts-0-name": "tor01",
            "hosts-0-position_u": 42,
            "hosts-0-u_height": 1,
            "hosts-0-status": "active",
        }
    )

    assert_saved(admin_client.post(admin_url("rack", "change", rack.pk), data))

    host = Host.objects.get(name="tor01")
    assert (host.site, host.rack, host.position_u) == (rack.site, rack, 42)


@pytest.mark.django_db
def test_host_rows_on_the_rack_page_may_not_overlap_each_other(admin_client, rack):
    """Each row is checked against the database, where the other rows have not moved yet."""
    factories.make_host(rack=rack, name="x", position_u=1)
    factories.make_host(rack=rack, name="y", position_u=2)
    data = rack_page_data(admin_client, rack)
    assert (data["hosts-0-name"], data["hosts-1-name"]) == ("x", "y")
    data["hosts-0-position_u"] = 10
    data["hosts-1-position_u"] = 10

    response = admin_client.post(admin_url("rack", "change", rack.pk), data)

    assert response.status_code == 200
    hosts = response.context["inline_admin_formsets"][1].formset
    assert hosts.errors[1]["position_u"] == ["U10-U10 overlaps host 'x' at U10-U10."]
    assert dict(Host.objects.values_list("name", "position_u")) == {"x": 1, "y": 2}


# --- 6. Power supplies ----------------------------------------------------------------------


def add_supply(admin_client, host, **fields):
    fields.setdefault("name", "PSU9")
    fields.setdefault("max_draw_w", 800)
    fields.setdefault("allocated_draw_w", 200)
    fields.setdefault("outlet", "")
    return post_page(admin_client, admin_url("powersupply", "add"), host=host.pk, **fields)


@pytest.mark.django_db
def test_add_power_supply_plugged_into_an_outlet(admin_client, rack, pdus):
    host = factories.make_host(rack=rack)
    outlet = pdus[0].outlets.get(number=3)

    assert_saved(add_supply(admin_client, host, outlet=outlet.pk))

    assert PowerSupply.objects.get(host=host, name="PSU9").outlet == outlet


@pytest.mark.django_db
def test_power_supply_allocated_above_max_draw_is_refused(admin_client, rack):
    host = factories.make_host(rack=rack)

    response = add_supply(admin_client, host, max_draw_w=500, allocated_draw_w=501)

    assert_refused_on(response, "allocated_draw_w", "(501 W) cannot exceed", "(500 W)")
    assert not PowerSupply.objects.exists()


@pytest.mark.django_db
def test_power_supply_plugged_into_an_outlet_at_another_site_is_refused(admin_client, rack):
    host = factories.make_host(rack=rack)
    elsewhere = factories.make_pdu(rack=factories.make_rack())
    outlet = elsewhere.outlets.get(number=1)

    response = add_supply(admin_client, host, outlet=outlet.pk)

    assert_refused_on(response, "outlet", "is at another site than host")
    assert not PowerSupply.objects.exists()


@pytest.mark.django_db
def test_second_power_supply_in_a_used_outlet_is_refused(admin_client, rack, pdus):
    outlet = pdus[0].outlets.get(number=1)
    first = factories.make_supply(host=factories.make_host(rack=rack), outlet=outlet)
    other_host = factories.make_host(rack=rack)

    response = add_supply(admin_client, other_host, outlet=outlet.pk)

    assert_refused_on(response, "outlet", "already exists")
    assert list(PowerSupply.objects.all()) == [first]
    assert Outlet.objects.get(pk=outlet.pk).power_supply == first


# --- 7. The rack's power budget -------------------------------------------------------------


@pytest.mark.django_db
def test_rack_change_page_shows_redundant_power_budget(admin_client, rack, feeds):
    response = admin_client.get(admin_url("rack", "change", rack.pk))

    page = response.content.decode()
    assert "Capacity surviving the loss of one side: <b>5.9 kW</b>;" in page
    assert "<b>11.8 kW</b>" not in page
    assert "NOT redundant" not in page
    assert "Sum of all feeds: 11.8 kW." in page
    for feed in feeds:
        assert f"<td>{feed.side}</td><td>{feed.name}</td><td>5.9 kW</td>" in page


@pytest.mark.django_db
def test_rack_change_page_flags_a_rack_fed_from_one_side(admin_client, rack):
    factories.make_feed(rack=rack, side="A")

    page = admin_client.get(admin_url("rack", "change", rack.pk)).content.decode()

    assert "<b>5.9 kW</b> (NOT redundant: fed from one side only)" in page
    assert "Sum of all feeds: 5.9 kW." in page


def test_outlets_cannot_be_deleted_in_the_admin(admin_client, powered_rack):
    outlet = Outlet.objects.first()
    response = admin_client.get(admin_url("outlet", "delete", outlet.pk))
    assert response.status_code == 403
    assert Outlet.objects.filter(pk=outlet.pk).exists()
