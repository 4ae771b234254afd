"""Power actions from the admin go through the same service as the API, after a confirmation
page showing the blast radius; commands are a read-only history."""

import pytest

from inventory.models import Outlet
from power.models import PowerCommand
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(rack, pdus):
    host = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=1, name="web01"
    )
    Outlet.objects.update(state="on")
    return host


def act(client, model, action, ids, **extra):
    data = {"action": action, "_selected_action": [str(i) for i in ids], **extra}
    return client.post(f"/admin/inventory/{model}/", data)


def test_the_confirmation_page_shows_the_blast_radius_and_changes_nothing(admin_client, web):
    response = act(admin_client, "host", "power_cycle_host", [web.pk])
    assert response.status_code == 200
    text = response.content.decode()
    assert "Lose all power:" in text and "web01" in text
    assert "a reason is required" in text or "last live supply" in text
    assert not PowerCommand.objects.exists()


def test_confirming_with_a_reason_and_force_queues_a_command(
    admin_client, web, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = act(
            admin_client,
            "host",
            "power_cycle_host",
            [web.pk],
            confirm="1",
            reason="kernel hang",
            force="on",
        )
    command = PowerCommand.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/power/powercommand/{command.pk}/change/"
    assert (command.action, command.reason, command.force) == ("cycle", "kernel hang", True)
    assert command.outlets.count() == 2
    assert len(callbacks) == 1  # queued after commit, not before


def test_guardrails_refuse_in_the_admin_too(admin_client, web):
    response = act(
        admin_client, "host", "power_off_host", [web.pk], confirm="1", reason="maintenance"
    )
    assert response.status_code == 200
    assert "last live supply of active host(s) web01" in response.content.decode()
    assert not PowerCommand.objects.exists()


def test_outlet_actions_and_switching_on_needs_no_reason(
    admin_client, pdus, django_capture_on_commit_callbacks
):
    outlet = pdus[0].outlets.get(number=9)
    with django_capture_on_commit_callbacks():
        response = act(admin_client, "outlet", "power_on_outlet", [outlet.pk], confirm="1")
    assert response.status_code == 302
    assert PowerCommand.objects.get().action == "on"


def test_a_user_without_the_power_permission_is_refused(client, django_user_model, web):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("tech", password="pw-tech-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_host", "change_host"]))
    client.force_login(user)
    response = act(
        client, "host", "power_cycle_host", [web.pk], confirm="1", reason="x", force="on"
    )
    assert response.status_code == 403
    assert not PowerCommand.objects.exists()


def test_commands_are_read_only_history(admin_client, web, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        act(admin_client, "host", "power_cycle_host", [web.pk], confirm="1", reason="x", force="on")
    command = PowerCommand.objects.get()
    assert admin_client.get("/admin/power/powercommand/").status_code == 200
    page = admin_client.get(f"/admin/power/powercommand/{command.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # nothing to save: read only
    assert admin_client.get("/admin/power/powercommand/add/").status_code == 403
    assert (
        admin_client.post(
            f"/admin/power/powercommand/{command.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert PowerCommand.objects.filter(pk=command.pk).exists()


def test_the_confirmation_page_costs_the_same_queries_for_many_outlets(admin_client, pdus):
    """Outlets are resolved with only what a request reads loaded (power/blast_radius.py): a
    page that read another field of each outlet or PDU would pay a query per outlet."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(numbers):
        ids = [pdus[0].outlets.get(number=n).pk for n in numbers]
        with CaptureQueriesContext(connection) as captured:
            response = act(admin_client, "outlet", "power_off_outlet", ids)
        assert response.status_code == 200
        assert f"{pdus[0].name}:{numbers[-1]}" in response.content.decode()  # shown, by name
        return len(captured)

    assert queries([3, 4]) == queries(list(range(3, 15)))
