"""Times in the user's time zone: the dcpower_tz cookie (set by the admin's base template from
the browser) activates a zone zoneinfo knows; anything else is ignored."""

import datetime as dt

import pytest
from django.test import RequestFactory
from django.utils import timezone

from dcpower.timezones import COOKIE, TimezoneMiddleware, zone_from_name
from power.models import PowerCommand

pytestmark = pytest.mark.django_db


def active_zone_during(cookie: str | None) -> str:
    seen = []

    def view(request):
        seen.append(str(timezone.get_current_timezone()))
        return None

    request = RequestFactory().get("/admin/")
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    TimezoneMiddleware(view)(request)
    return seen[0]


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "Etc/GMT+5"]
)
def test_a_valid_zone_is_activated_for_the_request_and_only_for_it(name):
    assert active_zone_during(name) == name
    assert str(timezone.get_current_timezone()) == "UTC"  # deactivated afterwards


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "",
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/Berlin;x=1",
        "E" * 200,
        "Europe/../UTC",
    ],
)
def test_an_absent_or_invalid_cookie_is_ignored(cookie):
    assert zone_from_name(cookie or "") is None
    assert active_zone_during(cookie) == "UTC"  # settings.TIME_ZONE


def test_a_zone_from_an_earlier_request_does_not_leak_into_the_next():
    assert active_zone_during("Asia/Tokyo") == "Asia/Tokyo"
    assert active_zone_during(None) == "UTC"


def test_admin_pages_render_times_in_the_cookies_zone_and_name_it(admin_client, admin_user, site):
    command = PowerCommand.objects.create(
        action="cycle", site=site, requested_by=admin_user, reason="tz", status="succeeded"
    )
    when = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
    PowerCommand.objects.filter(pk=command.pk).update(created=when, finished_at=when)
    url = f"/admin/power/powercommand/{command.pk}/change/"

    utc = admin_client.get(url).content.decode()
    admin_client.cookies[COOKIE] = "America/New_York"
    new_york = admin_client.get(url).content.decode()
    admin_client.cookies[COOKIE] = "Not/AZone"
    invalid = admin_client.get(url).content.decode()

    assert 'data-timezone="UTC"' in utc and "Times in UTC" in utc
    assert "Jan. 15, 2025, noon" in utc
    assert 'data-timezone="America/New_York"' in new_york
    assert "Times in America/New_York" in new_york
    assert "Jan. 15, 2025, 7 a.m." in new_york and "Jan. 15, 2025, noon" not in new_york
    assert 'data-timezone="UTC"' in invalid and "Jan. 15, 2025, noon" in invalid


def test_the_admin_frame_carries_the_script_that_sets_the_cookie(client):
    page = client.get("/admin/login/").content.decode()
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in page
    assert "dcpower_tz=" in page and "path=/admin/" in page
    assert "Times in UTC" in page
