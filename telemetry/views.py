"""Telemetry's admin pages that are not a model's: a rack's elevation.

The page is served under the rack's admin URLs (``admin/inventory/rack/<id>/elevation/``) but
registered in dcpower/urls.py, not by RackAdmin.get_urls: the inventory app imports no other
app (docs/architecture.md), and the elevation needs telemetry's readings. RackAdmin links to
it by URL name only (``reverse("rack-elevation")``).
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from inventory.models import Rack
from telemetry.elevation import rack_elevation, rack_elevation_prefetch
from telemetry.elevation_layout import elevation_layout


def rack_elevation_view(request, rack_id: int):
    """The rack drawn as it stands: whoever may view racks (reading is never site-scoped,
    dcpower/access.py), like the rack's own admin page. Wrapped in admin.site.admin_view."""
    user = request.user
    if not (user.has_perm("inventory.view_rack") or user.has_perm("inventory.change_rack")):
        raise PermissionDenied
    rack = get_object_or_404(rack_elevation_prefetch(Rack.objects.all()), pk=rack_id)
    elevation = rack_elevation(rack)
    context = {
        **admin.site.each_context(request),
        "title": f"Rack {elevation.name}: elevation",
        "subtitle": elevation.site_name,
        "opts": Rack._meta,
        "rack": rack,
        "elevation": elevation,
        "layout": elevation_layout(elevation),
    }
    return TemplateResponse(request, "admin/telemetry/rack_elevation.html", context)
