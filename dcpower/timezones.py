"""Times in the user's own time zone: the admin's base template (dcpower/templates/admin/
base_site.html) stores the browser's IANA zone in the ``dcpower_tz`` cookie, scoped to the
admin's path, and this middleware activates it for each request that carries it. A value that
is not a zone zoneinfo knows is ignored: the request keeps settings.TIME_ZONE.

Only what is rendered changes: the database and the API keep UTC (the cookie is not sent to
``/api/``)."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from django.utils import timezone

COOKIE = "dcpower_tz"
# IANA names: "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC".
_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


@lru_cache(maxsize=256)
def zone_from_name(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called ``name``, or None when there is no such zone (or it is not a name)."""
    if len(name) > 64 or not _SHAPE.match(name):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class TimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_from_name(request.COOKIES.get(COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()  # nothing leaks to the next request of this thread
