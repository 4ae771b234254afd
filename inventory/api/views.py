"""Inventory API views: a queryset that loads every related object a page shows (a fixed number
of queries per page, pinned by tests), and the filters and ordering a client may use."""

from __future__ import annotations

from dcpower.api.viewsets import ModelResourceViewSet
from inventory import filtersets, selectors, services
from inventory.api import serializers
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site


class SiteViewSet(ModelResourceViewSet):
    queryset = Site.objects.all()
    serializer_class = serializers.SiteSerializer
    filterset_class = filtersets.SiteFilterSet
    search_fields = ["name", "slug", "description"]
    ordering_fields = ["id", "name", "slug", "created", "last_updated"]


class RackViewSet(ModelResourceViewSet):
    queryset = selectors.rack_power_prefetch(Rack.objects.select_related("site", "telemetry"))
    serializer_class = serializers.RackSerializer
    filterset_class = filtersets.RackFilterSet
    search_fields = ["name", "room", "row", "serial", "asset_tag", "description"]
    ordering_fields = ["id", "name", "site__name", "status", "u_height", "created", "last_updated"]


class PowerFeedViewSet(ModelResourceViewSet):
    queryset = PowerFeed.objects.select_related("site", "rack")
    serializer_class = serializers.PowerFeedSerializer
    filterset_class = filtersets.PowerFeedFilterSet
    search_fields = ["name", "description"]
    ordering_fields = [
        "id",
        "name",
        "site__name",
        "side",
        "status",
        "available_power_w",
        "created",
    ]


class PDUViewSet(ModelResourceViewSet):
    queryset = PDU.objects.select_related("rack__site", "feed", "telemetry")
    serializer_class = serializers.PDUSerializer
    filterset_class = filtersets.PDUFilterSet
    search_fields = ["name", "management_host", "serial", "asset_tag", "description"]
    ordering_fields = ["id", "name", "rack__name", "vendor_profile", "outlet_count", "created"]

    def perform_create(self, serializer):
        services.pdu_sync_outlets(pdu=serializer.save())

    def perform_update(self, serializer):
        services.pdu_sync_outlets(pdu=serializer.save())


class OutletViewSet(ModelResourceViewSet):
    queryset = Outlet.objects.select_related("pdu", "power_supply__host")
    serializer_class = serializers.OutletSerializer
    filterset_class = filtersets.OutletFilterSet
    search_fields = ["label", "pdu__name", "power_supply__host__name"]
    ordering_fields = ["id", "pdu__name", "number", "state", "power_w", "current_a"]

    def perform_destroy(self, instance):
        services.outlet_delete(outlet=instance)


class HostViewSet(ModelResourceViewSet):
    queryset = selectors.host_power_prefetch(Host.objects.select_related("site", "rack"))
    serializer_class = serializers.HostSerializer
    filterset_class = filtersets.HostFilterSet
    search_fields = ["name", "role", "serial", "asset_tag", "description"]
    ordering_fields = [
        "id",
        "name",
        "site__name",
        "rack__name",
        "position_u",
        "status",
        "role",
        "created",
    ]


class PowerSupplyViewSet(ModelResourceViewSet):
    queryset = PowerSupply.objects.select_related("host", "outlet__pdu")
    serializer_class = serializers.PowerSupplySerializer
    filterset_class = filtersets.PowerSupplyFilterSet
    search_fields = ["name", "host__name"]
    ordering_fields = ["id", "name", "host__name", "max_draw_w", "allocated_draw_w"]
