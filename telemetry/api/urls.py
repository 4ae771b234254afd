from django.urls import path
from rest_framework.routers import SimpleRouter

from telemetry.api import views

router = SimpleRouter()
router.register("events", views.EventViewSet, basename="event")
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhookdelivery")

urlpatterns = [
    path("racks/<int:pk>/power/", views.RackPowerSummaryView.as_view(), name="rack-power-summary"),
    path("racks/<int:pk>/elevation/", views.RackElevationView.as_view(), name="rack-elevation"),
    *router.urls,
]
