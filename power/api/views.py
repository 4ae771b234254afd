"""Power command endpoints: thin views over power.services."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from dcpower.api.viewsets import ModelResourceViewSet
from inventory.models import PDU, Host, Outlet, Rack
from power import services
from power.api.serializers import (
    BlastRadiusSerializer,
    PowerCommandSerializer,
    PowerRequestSerializer,
    ShortcutRequestSerializer,
)
from power.choices import CommandAction
from power.filtersets import PowerCommandFilterSet
from power.models import PowerCommand, PowerCommandOutlet

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A repeated request with the same key returns the same command.",
)


def _refusals(refusals) -> list[dict]:
    return [{"code": r.code, "message": r.message, "overridable": r.overridable} for r in refusals]


def power_request_response(request, **fields) -> Response:
    """Run a validated power request through the service and shape the answer."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > 200:
        return Response({"Idempotency-Key": ["At most 200 characters."]}, status=400)
    dry_run = fields.pop("dry_run")
    try:
        result = services.power_command_request(
            user=request.user,
            dry_run=dry_run,
            idempotency_key=key,
            outlet_ids=fields.pop("outlets"),
            host_ids=fields.pop("hosts"),
            rack_ids=fields.pop("racks"),
            **fields,
        )
    except services.GuardrailRefused as exc:
        return Response(
            {
                "detail": str(exc),
                "refusals": _refusals(exc.refusals),
                "blast_radius": BlastRadiusSerializer(services.radius_summary(exc.radius)).data,
            },
            status=status.HTTP_409_CONFLICT,
        )
    except services.OutletBusy as exc:
        return Response(
            {"detail": str(exc), "command": exc.command.pk if exc.command else None},
            status=status.HTTP_409_CONFLICT,
        )
    if dry_run:
        from power.guardrails import guardrail_refusals

        refusals = guardrail_refusals(
            result.radius, reason=fields.get("reason", ""), force=fields.get("force", False)
        )
        return Response(
            {
                "dry_run": True,
                "action": fields["action"],
                "blast_radius": BlastRadiusSerializer(services.radius_summary(result.radius)).data,
                "refusals": _refusals(refusals),
            }
        )
    command = _with_results(result.command.pk)
    data = PowerCommandSerializer(command, context={"request": request}).data
    return Response(data, status=status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK)


def _command_queryset():
    return PowerCommand.objects.select_related("site", "requested_by").prefetch_related(
        Prefetch("outlets", queryset=PowerCommandOutlet.objects.select_related("outlet__pdu"))
    )


def _with_results(pk: int) -> PowerCommand:
    return _command_queryset().get(pk=pk)


class PowerCommandViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Power commands: a read-only history, created through POST and cancelled while pending."""

    serializer_class = PowerCommandSerializer
    filterset_class = PowerCommandFilterSet
    ordering_fields = ["id", "created", "status", "action"]
    search_fields = ["reason", "ticket"]

    def get_queryset(self):
        return _command_queryset()

    def list(self, request, *args, **kwargs):
        ModelResourceViewSet.refuse_unknown_query_parameters(self, request)
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=PowerRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: PowerCommandSerializer, 200: PowerCommandSerializer},
    )
    def create(self, request):
        serializer = PowerRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return power_request_response(request, **serializer.validated_data)

    @extend_schema(request=None, responses={200: PowerCommandSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        command = services.power_command_cancel(command=self.get_object())
        return Response(
            PowerCommandSerializer(_with_results(command.pk), context={"request": request}).data
        )


class PowerShortcutView(APIView):
    """POST /api/v1/{hosts|outlets|racks}/{id}/power/{on|off|cycle}/: the general request
    with its target and action taken from the URL."""

    target_model = None
    target_field = ""
    queryset = PowerCommand.objects.none()  # model permissions are those of power commands

    @extend_schema(
        request=ShortcutRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: PowerCommandSerializer},
    )
    def post(self, request, pk: int, power_action: str):
        if power_action not in CommandAction.values:
            return Response({"action": [f"One of {', '.join(CommandAction.values)}."]}, status=400)
        get_object_or_404(self.target_model, pk=pk)
        serializer = ShortcutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = {"outlets": [], "hosts": [], "racks": [], **serializer.validated_data}
        fields[self.target_field] = [pk]
        return power_request_response(request, action=power_action, **fields)


class HostPowerView(PowerShortcutView):
    target_model, target_field = Host, "hosts"


class OutletPowerView(PowerShortcutView):
    target_model, target_field = Outlet, "outlets"


class RackPowerView(PowerShortcutView):
    target_model, target_field = Rack, "racks"


class LiveReadView(APIView):
    """GET /api/v1/pdus/{id}/live/ and /api/v1/outlets/{id}/live/: ask the device now."""

    queryset = PowerCommand.objects.none()

    @extend_schema(responses={200: dict, 502: dict, 504: dict})
    def get(self, request, pk: int, kind: str):
        if kind == "pdus":
            pdu = get_object_or_404(PDU.objects.select_related("rack__site"), pk=pk)
            outlet_number = None
        else:
            outlet = get_object_or_404(Outlet.objects.select_related("pdu__rack__site"), pk=pk)
            pdu, outlet_number = outlet.pdu, outlet.number
        try:
            result = services.pdu_live_read(pdu=pdu)
        except services.LiveReadTimeout as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_504_GATEWAY_TIMEOUT)
        if result.get("error"):
            return Response(
                {"detail": result["error"]["message"], **result}, status=status.HTTP_502_BAD_GATEWAY
            )
        if outlet_number is not None:
            matching = [o for o in result["outlets"] if o["number"] == outlet_number]
            if not matching:
                return Response(
                    {"detail": f"The PDU reports no outlet {outlet_number}."},
                    status=status.HTTP_502_BAD_GATEWAY,
                )
            result = {"outlet": pk, "pdu": pdu.pk, "read_at": result["read_at"], **matching[0]}
        return Response(result)
