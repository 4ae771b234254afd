from django.urls import path
from rest_framework.routers import SimpleRouter

from power.api import views

router = SimpleRouter()
router.register("power/commands", views.PowerCommandViewSet, basename="powercommand")

ACTION = "<str:power_action>"
urlpatterns = [
    *router.urls,
    path(f"hosts/<int:pk>/power/{ACTION}/", views.HostPowerView.as_view(), name="host-power"),
    path(f"outlets/<int:pk>/power/{ACTION}/", views.OutletPowerView.as_view(), name="outlet-power"),
    path(f"racks/<int:pk>/power/{ACTION}/", views.RackPowerView.as_view(), name="rack-power"),
    path("pdus/<int:pk>/live/", views.LiveReadView.as_view(), {"kind": "pdus"}, name="pdu-live"),
    path(
        "outlets/<int:pk>/live/",
        views.LiveReadView.as_view(),
        {"kind": "outlets"},
        name="outlet-live",
    ),
]
