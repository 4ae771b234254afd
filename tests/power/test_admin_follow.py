"""Following a power command in the admin: its page shows the progress (status, outlets
finished, succeeded and failed) and every outlet's outcome, and, while the command is pending
or running, polls a small JSON endpoint with the same permission as the page."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Outlet
from power.choices import CommandStatus, OutletOutcome, OutletStep
from power.models import PowerCommand, PowerCommandOutlet
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(rack, pdus):
    host = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdus[0], pdu_b=pdus[1], outlet=1, name="web01"
    )
    Outlet.objects.update(state="on")
    return host


@pytest.fixture
def command(admin_client, web, django_capture_on_commit_callbacks):
    """A cycle of web01 asked for in the admin; queued, not carried out (no worker)."""
    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            "/admin/inventory/host/",
            {
                "action": "power_cycle_host",
                "_selected_action": [str(web.pk)],
                "confirm": "1",
                "reason": "kernel hang",
                "force": "on",
            },
        )
    assert response.status_code == 302
    return PowerCommand.objects.get()


def page(client, command):
    response = client.get(f"/admin/power/powercommand/{command.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def progress(client, command):
    response = client.get(f"/admin/power/powercommand/{command.pk}/progress/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def finish_outlet(row: PowerCommandOutlet, outcome: str, error: str = "") -> None:
    row.outcome, row.step, row.attempts, row.error = outcome, OutletStep.DONE, 2, error
    row.state_before, row.state_after = "on", "on" if outcome == OutletOutcome.SUCCEEDED else "off"
    row.save()


def test_a_pending_commands_page_shows_its_outlets_and_follows_it(admin_client, command):
    text = page(admin_client, command)
    assert 'id="command-progress" data-status="pending"' in text
    assert 'id="outlets-done">0</span> of <span id="outlets-total">2</span>' in text
    assert text.count('<tr data-row="') == 2
    for pdu in ("PDU-A", "PDU-B"):
        assert f"<td>{pdu}</td>" in text
    assert ">web01</a>" in text
    # The page polls the progress endpoint every 2 s while the command is not finished.
    assert f"/admin/power/powercommand/{command.pk}/progress/" in text
    assert "var interval = 2000;" in text
    assert "This page follows the command (every 2 s)." in text


def test_the_progress_endpoint_counts_outlets_as_they_finish(admin_client, command):
    assert progress(admin_client, command) | {"outlets": None} == {
        "id": command.pk,
        "status": "pending",
        "status_label": "Pending",
        "finished": False,
        "total": 2,
        "done": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "outlets": None,
    }
    first, second = command.outlets.order_by("outlet__pdu__name")
    PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.RUNNING)
    finish_outlet(first, OutletOutcome.SUCCEEDED)

    running = progress(admin_client, command)
    assert (running["status"], running["done"], running["succeeded"]) == ("running", 1, 1)
    assert running["finished"] is False
    row = running["outlets"][0]
    assert (row["pdu"], row["outlet"], row["host"]) == ("PDU-A", 1, "web01")
    assert (row["state_before"], row["state_after"], row["outcome"]) == ("on", "on", "succeeded")
    assert running["outlets"][1]["outcome"] == "pending"

    finish_outlet(second, OutletOutcome.FAILED, error="not on after 1.5 s (device says off)")
    PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.PARTIALLY_FAILED)
    done = progress(admin_client, command)
    assert (done["finished"], done["done"], done["succeeded"], done["failed"]) == (True, 2, 1, 1)
    assert done["outlets"][1]["error"] == "not on after 1.5 s (device says off)"


def test_a_finished_commands_page_shows_outcomes_and_stops_polling(admin_client, command):
    first, second = command.outlets.order_by("outlet__pdu__name")
    finish_outlet(first, OutletOutcome.SUCCEEDED)
    finish_outlet(second, OutletOutcome.FAILED, error="relay stuck")
    PowerCommand.objects.filter(pk=command.pk).update(status=CommandStatus.PARTIALLY_FAILED)

    text = page(admin_client, command)

    assert 'Status: <strong id="command-status">Partially failed</strong>' in text
    assert 'id="outlets-succeeded">1</span> succeeded' in text
    assert 'id="outlets-failed">1</span> failed' in text
    assert 'data-outcome="failed"' in text and "relay stuck" in text
    assert "/progress/" not in text and "setTimeout" not in text  # nothing more to follow


def test_the_command_list_shows_progress_in_constant_queries(admin_client, rack, pdus, web):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get("/admin/power/powercommand/?q=kernel")
        assert response.status_code == 200
        return len(queries)

    def make(n: int) -> None:
        for i in range(n):
            cmd = PowerCommand.objects.create(
                action="cycle", site=rack.site, requested_by=_root(), reason=f"kernel {i}"
            )
            for outlet in pdus[0].outlets.filter(number__in=[10 + i, 20]):
                PowerCommandOutlet.objects.create(command=cmd, outlet=outlet, active=False)

    make(1)
    one = list_queries()
    make(3)
    more = list_queries()
    assert more <= one
    text = admin_client.get("/admin/power/powercommand/").content.decode()
    assert "0 of 2" in text  # the "Outlets finished" column


def test_the_command_page_reads_outlets_in_constant_queries(admin_client, rack, pdus):
    root = _root()
    plugged = iter(range(1, 25))  # one outlet and one rack unit per host

    def page_queries(outlets: int) -> int:
        cmd = PowerCommand.objects.create(action="off", site=rack.site, requested_by=root)
        for _ in range(outlets):
            number = next(plugged)
            outlet = pdus[0].outlets.get(number=number)
            host = factories.make_host(rack=rack, name=f"h{number}", position_u=number)
            factories.make_supply(host=host, outlet=outlet)
            PowerCommandOutlet.objects.create(command=cmd, outlet=outlet, active=False)
        with CaptureQueriesContext(connection) as queries:
            text = page(admin_client, cmd)
        assert text.count('<tr data-row="') == outlets
        assert f">h{number}</a>" in text  # each row names its host
        return len(queries)

    page_queries(1)  # warms the process's caches (content types), which a test run alone lacks
    assert page_queries(6) <= page_queries(1)


def _root():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="root")


def test_the_progress_endpoint_needs_the_pages_permission(client, django_user_model, command):
    url = f"/admin/power/powercommand/{command.pk}/progress/"
    assert client.get(url).status_code == 302  # to the login page
    user = django_user_model.objects.create_user("tech", password="pw-tech-123", is_staff=True)
    client.force_login(user)
    assert client.get(url).status_code == 403
    factories.grant(user, "viewer")
    assert client.get(url).status_code == 200
    assert client.get("/admin/power/powercommand/999999/progress/").status_code == 404


def test_the_confirmation_page_is_keyboard_usable(admin_client, web):
    response = admin_client.post(
        "/admin/inventory/host/?status__exact=active",
        {"action": "power_cycle_host", "_selected_action": [str(web.pk)]},
    )
    text = response.content.decode()
    reason = re.search(r'<input [^>]*name="reason"[^>]*>', text)
    assert reason and "autofocus" in reason.group(0)
    # The confirm button is the form's first submit button: Enter in the reason field sends it.
    form = text.split('<form method="post">')[1]
    assert form.index('type="submit" name="confirm"') < form.index("</form>")
    assert 'type="submit"' not in form.split('type="submit" name="confirm"')[0]
    assert 'href="/admin/inventory/host/?status__exact=active"' in text
    assert "Cancel, back to the list" in text
