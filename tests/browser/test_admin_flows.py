"""What a technician does in the admin, in a real (headless) browser: log in, cycle a host
after the blast-radius confirmation and follow the command to its verified outcome (a real
Celery worker switching simulated PDUs), open a rack's elevation, import a CSV file whose
preview shows an error row."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from inventory.models import Host
from power.choices import CommandStatus, OutletOutcome
from power.models import PowerCommand
from tests.browser.conftest import BROWSER_ZONE, login, save_artifact

pytestmark = [
    pytest.mark.requires_service("chromium"),
    pytest.mark.django_db(transaction=True),
]

COMMAND_TIMEOUT_MS = 30_000  # a cycle takes about a second here; the page polls every 2 s


def test_a_technician_logs_in_through_the_admin_form(page, live_server, technician):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.fill("#id_username", "tech")
    page.fill("#id_password", "wrong password")
    page.press("#id_password", "Enter")
    expect(page.locator(".errornote")).to_be_visible()

    login(page, live_server, technician)

    expect(page.locator("#user-tools")).to_contain_text("tech")
    expect(page.locator("#content")).to_contain_text("Hosts")
    # The login page's script stored the browser's zone; the admin now shows times in it.
    expect(page.locator("#active-timezone")).to_have_text(f"Times in {BROWSER_ZONE}")
    cookies = {c["name"]: c for c in page.context.cookies(f"{live_server.url}/admin/")}
    assert cookies["dcpower_tz"]["value"] == BROWSER_ZONE
    assert cookies["dcpower_tz"]["path"] == "/admin/"  # the API is not sent it


@pytest.mark.requires_service("postgres", "redis")
def test_cycling_a_host_with_confirmation_and_following_the_command(
    page, live_server, technician, fleet, dc, start_worker, request
):
    from playwright.sync_api import expect

    before = {name: fleet.ground_truth(name)["commands_received"] for name in ("A", "B")}
    web = dc["web"]
    login(page, live_server, technician, "/admin/inventory/host/")

    # The host list: select web01, choose the action, go.
    page.check(f'input[name="_selected_action"][value="{web.pk}"]')
    page.select_option('select[name="action"]', label="Power cycle…")
    page.click('button[name="index"]')

    # The blast radius: the host and its two outlets; the reason field has the focus.
    expect(page.locator("h2")).to_contain_text("Power cycle: what will happen")
    content = page.locator("#content")
    expect(content).to_contain_text("2 outlet(s) on 2 PDU(s): A:1, B:1")
    expect(content).to_contain_text("web01")
    expect(content).not_to_contain_text("db01")
    expect(page.locator("#cancel-power-action")).to_have_attribute("href", "/admin/inventory/host/")
    assert page.evaluate("document.activeElement.name") == "reason"
    page.keyboard.type("browser test: kernel hang")
    page.keyboard.press("Enter")  # submits with the confirm button

    # The command's page follows it until it has finished.
    expect(page).to_have_url(re.compile(r"/admin/power/powercommand/\d+/change/$"))
    expect(page.locator(".messagelist")).to_contain_text("queued")
    # No worker yet: the command waits in its queue, and the page says it follows it.
    expect(page.locator("#command-status")).to_have_text("Pending")
    expect(page.locator("#outlets-done")).to_have_text("0")
    expect(page.locator("#command-live")).to_contain_text("This page follows the command")
    worker = start_worker(dc["site"])  # from here on, only the page's polling can show it
    try:
        expect(page.locator("#command-status")).to_have_text(
            "Succeeded", timeout=COMMAND_TIMEOUT_MS
        )
    except AssertionError:
        pytest.fail(f"the command did not succeed in the page; worker log:\n{worker.output()}")
    expect(page.locator("#command-progress")).to_have_attribute("data-finished", "true")
    expect(page.locator("#outlets-done")).to_have_text("2")
    expect(page.locator("#outlets-succeeded")).to_have_text("2")
    expect(page.locator("#outlets-failed")).to_have_text("0")
    rows = page.locator("#command-outlets tbody tr")
    expect(rows).to_have_count(2)
    for index, pdu in enumerate(("A", "B")):
        cells = rows.nth(index).locator("td")
        expect(cells).to_have_text([pdu, "1", "web01", "on", "on", "Done", "Succeeded", "2", ""])
    expect(page.locator("#command-live")).to_have_text("")  # no longer following
    page.screenshot(path=save_artifact(request, "power-command.png"), full_page=True)

    # The page says what the database says, and what the simulated PDUs did: an off and an
    # on each, and both outlets are on.
    command = PowerCommand.objects.get()
    assert (command.status, command.reason) == (
        CommandStatus.SUCCEEDED,
        "browser test: kernel hang",
    )
    assert command.requested_by == technician
    assert {row.outcome for row in command.outlets.all()} == {OutletOutcome.SUCCEEDED}
    for name in ("A", "B"):
        truth = fleet.ground_truth(name)
        assert truth["commands_received"] - before[name] == 2, truth
        assert truth["outlets"][0]["on"] is True
        assert truth["outlets"][1]["on"] is True  # db01 untouched


def test_opening_a_rack_elevation_from_the_rack_admin(page, live_server, technician, dc, request):
    from playwright.sync_api import expect

    rack = dc["rack"]
    url = reverse("rack-elevation", args=[rack.pk])
    login(page, live_server, technician, f"/admin/inventory/rack/{rack.pk}/change/")

    # The rack's admin change page links to its elevation.
    link = page.locator(f'a[href="{url}"]')
    expect(link.first).to_be_visible()
    link.first.click()
    expect(page).to_have_url(f"{live_server.url}{url}")

    hosts = page.locator("[data-host]")
    expect(hosts.first).to_be_visible()
    labels = {hosts.nth(i).get_attribute("data-host") for i in range(hosts.count())}
    assert {dc["web"].name, dc["db"].name} <= labels, labels
    outlets = page.locator("[data-outlet][data-state]")
    expect(outlets.first).to_be_attached()
    states = {outlets.nth(i).get_attribute("data-state") for i in range(outlets.count())}
    assert "on" in states, states  # the inventory's outlets are all on

    path = save_artifact(request, "rack-elevation.png")
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 1000


def test_a_csv_import_with_an_error_row_is_previewed_and_not_imported(
    page, live_server, technician, rack, tmp_path
):
    from playwright.sync_api import expect

    login(page, live_server, technician, "/admin/inventory/host/")
    link = page.get_by_role("link", name=re.compile(r"import csv", re.IGNORECASE))
    link.first.click()

    upload = tmp_path / "hosts.csv"
    upload.write_text(
        "site,name,rack,position_u,u_height,status\r\n"
        f"{rack.site.slug},csv01,{rack.name},30,1,active\r\n"
        f"{rack.site.slug},csv02,{rack.name},31,1,sleeping\r\n"  # no such status
    )
    file_input = page.locator('input[type="file"]').first
    form = page.locator("form", has=file_input)
    kind = form.locator("select")
    if kind.count():  # the kind of rows, if the page asks: hosts
        values = kind.first.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
        kind.first.select_option(value=next(v for v in values if "host" in v.lower()))
    file_input.set_input_files(upload)
    form.locator('[type="submit"]').first.click()

    preview = page.locator("#csv-preview")
    expect(preview).to_be_visible()
    errors = preview.locator("[data-row].error")
    expect(errors).to_have_count(1)
    expect(errors.first).to_have_attribute("data-row", "3")  # line 3 of the file
    expect(errors.first).to_contain_text("sleeping")
    expect(page.locator("#confirm-import")).to_have_count(0)
    assert not Host.objects.filter(name__in=["csv01", "csv02"]).exists()  # a preview writes nothing
