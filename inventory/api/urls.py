from django.urls import path
from rest_framework.routers import DefaultRouter

from inventory.api import views

router = DefaultRouter()
router.register("sites", views.SiteViewSet, basename="site")
router.register("racks", views.RackViewSet, basename="rack")
router.register("power-feeds", views.PowerFeedViewSet, basename="powerfeed")
router.register("pdus", views.PDUViewSet, basename="pdu")
router.register("outlets", views.OutletViewSet, basename="outlet")
router.register("hosts", views.HostViewSet, basename="host")
router.register("power-supplies", views.PowerSupplyViewSet, basename="powersupply")

urlpatterns = [
    path("csv/", views.CsvKindListView.as_view(), name="csv-kinds"),
    path("csv/<str:kind>/", views.CsvKindView.as_view(), name="csv-kind"),
    *router.urls,
]
