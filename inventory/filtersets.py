"""Query filters for the inventory API (django-filter), e.g. ``?site=1&status=active``."""

import django_filters as filters

from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site

NAME_LOOKUPS = ["exact", "icontains", "istartswith"]


class SiteFilterSet(filters.FilterSet):
    class Meta:
        model = Site
        fields = {"id": ["exact", "in"], "name": NAME_LOOKUPS, "slug": ["exact"]}


class RackFilterSet(filters.FilterSet):
    site_slug = filters.CharFilter(field_name="site__slug")

    class Meta:
        model = Rack
        fields = {
            "id": ["exact", "in"],
            "site": ["exact", "in"],
            "name": NAME_LOOKUPS,
            "status": ["exact", "in"],
            "room": ["exact"],
            "row": ["exact"],
            "u_height": ["exact", "gte", "lte"],
            "asset_tag": ["exact"],
            "serial": ["exact"],
        }


class PowerFeedFilterSet(filters.FilterSet):
    class Meta:
        model = PowerFeed
        fields = {
            "id": ["exact", "in"],
            "site": ["exact", "in"],
            "rack": ["exact", "in"],
            "name": NAME_LOOKUPS,
            "status": ["exact", "in"],
            "side": ["exact"],
            "phase": ["exact"],
        }


class PDUFilterSet(filters.FilterSet):
    site = filters.NumberFilter(field_name="rack__site")

    class Meta:
        model = PDU
        fields = {
            "id": ["exact", "in"],
            "rack": ["exact", "in"],
            "feed": ["exact", "in"],
            "name": NAME_LOOKUPS,
            "vendor_profile": ["exact", "in"],
            "protocol": ["exact"],
            "management_host": ["exact"],
            "serial": ["exact"],
            "asset_tag": ["exact"],
        }


class OutletFilterSet(filters.FilterSet):
    site = filters.NumberFilter(field_name="pdu__rack__site")
    rack = filters.NumberFilter(field_name="pdu__rack")
    connected = filters.BooleanFilter(
        field_name="power_supply",
        lookup_expr="isnull",
        exclude=True,
        label="Has a power supply plugged in",
    )
    host = filters.NumberFilter(field_name="power_supply__host")

    class Meta:
        model = Outlet
        fields = {
            "id": ["exact", "in"],
            "pdu": ["exact", "in"],
            "number": ["exact", "gte", "lte"],
            "state": ["exact"],
            "locked": ["exact"],
            "label": NAME_LOOKUPS,
        }


class HostFilterSet(filters.FilterSet):
    class Meta:
        model = Host
        fields = {
            "id": ["exact", "in"],
            "site": ["exact", "in"],
            "rack": ["exact", "in"],
            "name": NAME_LOOKUPS,
            "status": ["exact", "in"],
            "role": ["exact", "in"],
            "protected": ["exact"],
            "serial": ["exact"],
            "asset_tag": ["exact"],
        }


class PowerSupplyFilterSet(filters.FilterSet):
    site = filters.NumberFilter(field_name="host__site")
    rack = filters.NumberFilter(field_name="host__rack")
    pdu = filters.NumberFilter(field_name="outlet__pdu")
    connected = filters.BooleanFilter(
        field_name="outlet", lookup_expr="isnull", exclude=True, label="Plugged into an outlet"
    )

    class Meta:
        model = PowerSupply
        fields = {
            "id": ["exact", "in"],
            "host": ["exact", "in"],
            "outlet": ["exact"],
            "name": NAME_LOOKUPS,
        }
