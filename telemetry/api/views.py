"""Telemetry endpoints: thin views over the selectors."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from dcpower.api.viewsets import ModelResourceViewSet
from inventory.models import Rack
from telemetry.api.serializers import (
    EventSerializer,
    RackElevationSerializer,
    RackPowerSummarySerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)
from telemetry.elevation import rack_elevation, rack_elevation_prefetch
from telemetry.filtersets import EventFilterSet, WebhookDeliveryFilterSet
from telemetry.models import Event, Webhook, WebhookDelivery
from telemetry.selectors import rack_measure, rack_measure_prefetch


class RackPowerSummaryView(APIView):
    """GET /api/v1/racks/{id}/power/: the rack's measured power against its redundant capacity,
    per side and per feed, from its PDUs' latest readings."""

    queryset = Rack.objects.none()  # model permissions are those of racks

    @extend_schema(responses={200: RackPowerSummarySerializer})
    def get(self, request, pk: int):
        rack = get_object_or_404(rack_measure_prefetch(Rack.objects.select_related("site")), pk=pk)
        data = RackPowerSummarySerializer(rack_measure(rack), context={"request": request}).data
        return Response(data)


class RackElevationView(APIView):
    """GET /api/v1/racks/{id}/elevation/: the rack as it stands, units top to bottom, with its
    hosts, their supplies' outlets, its PDUs by side and its measured power against its
    redundant capacity (telemetry/elevation.py)."""

    queryset = Rack.objects.none()  # model permissions are those of racks

    @extend_schema(responses={200: RackElevationSerializer})
    def get(self, request, pk: int):
        rack = get_object_or_404(rack_elevation_prefetch(Rack.objects.all()), pk=pk)
        data = RackElevationSerializer(rack_elevation(rack), context={"request": request}).data
        return Response(data)


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Events (drift, PDU down and up, rack over budget, power command finished): read-only."""

    queryset = Event.objects.select_related("site", "rack", "pdu", "outlet__pdu", "command")
    serializer_class = EventSerializer
    filterset_class = EventFilterSet
    ordering_fields = ["id", "created", "kind"]
    search_fields = ["message"]

    def list(self, request, *args, **kwargs):
        ModelResourceViewSet.refuse_unknown_query_parameters(self, request)
        return super().list(request, *args, **kwargs)


class WebhookViewSet(ModelResourceViewSet):
    """Endpoints that receive events as signed JSON POSTs; the secret is write-only."""

    queryset = Webhook.objects.all()
    serializer_class = WebhookSerializer
    filterset_fields = ["active"]
    search_fields = ["name"]
    ordering_fields = ["id", "name", "created"]


class WebhookDeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Every attempt to deliver an event to a webhook: read-only."""

    queryset = WebhookDelivery.objects.select_related("webhook", "event")
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilterSet
    ordering_fields = ["id", "attempted_at"]

    def list(self, request, *args, **kwargs):
        ModelResourceViewSet.refuse_unknown_query_parameters(self, request)
        return super().list(request, *args, **kwargs)
