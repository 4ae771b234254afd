"""Top-level URLs: the admin and version 1 of the REST API with its schema and docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from dcpower.api.audit import AuditEntryViewSet
from dcpower.api.tokens import ApiTokenViewSet
from telemetry.metrics import metrics_view
from telemetry.views import rack_elevation_view

tokens = SimpleRouter()
tokens.register("tokens", ApiTokenViewSet, basename="apitoken")
tokens.register("audit", AuditEntryViewSet, basename="auditentry")

api_v1 = [
    *tokens.urls,
    path("auth/jwt/", TokenObtainPairView.as_view(), name="jwt-obtain"),
    path("auth/jwt/refresh/", TokenRefreshView.as_view(), name="jwt-refresh"),
    path("", include("inventory.api.urls")),
    path("", include("power.api.urls")),
    path("", include("telemetry.api.urls")),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-v1:schema"), name="docs"),
]

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),  # Prometheus scrapes it (docs/telemetry.md)
    # A rack's elevation, among the rack's admin pages: registered here, before the admin's
    # own URLs, because RackAdmin (inventory) may not import telemetry (telemetry/views.py).
    path(
        "admin/inventory/rack/<int:rack_id>/elevation/",
        admin.site.admin_view(rack_elevation_view),
        name="rack-elevation",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api-v1"))),
]

handler404 = "dcpower.api.exceptions.page_not_found"
handler500 = "dcpower.api.exceptions.server_error"

admin.site.site_header = "dcpower"
admin.site.site_title = "dcpower"
admin.site.index_title = "Inventory and power"
