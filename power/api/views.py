"""Power command endpoints: thin views over power.services."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from dcpower.api.viewsets import ModelResourceViewSet, refuse_unknown_query_parameters
from dcpower.throttling import PowerCommandThrottle
from inventory.models import PDU, Host, Outlet, Rack
from power import completion, services
from power.api.serializers import (
    BlastRadiusSerializer,
    PowerCommandSerializer,
    PowerRequestSerializer,
    ShortcutRequestSerializer,
    power_command_results,
)
from power.blast_radius import UnknownTargets
from power.choices import ACTIVE_COMMAND_STATUSES, CommandAction
from power.filtersets import PowerCommandFilterSet
from power.models import PowerCommand

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A repeated request with the same key returns the same command.",
)


PREFER_HEADER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="`wait=N` (RFC 7240, whole seconds, at most POWER_MAX_WAIT_S): answer when the "
    "command has finished (201, with every outlet's verified outcome) or after N seconds "
    "(202, still running).",
)
WAIT_PARAMETER = OpenApiParameter(
    "wait",
    float,
    OpenApiParameter.QUERY,
    required=False,
    description="Seconds (at most POWER_MAX_WAIT_S) to wait for the command to finish before "
    "answering; the answer shows it finished or as it stands then.",
)


def requested_wait_s(request) -> float | None:
    """The ``wait`` preference of a ``Prefer`` header (RFC 7240), capped; None without one.
    Other preferences are ignored, as the RFC asks; a malformed wait is a 400."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.split(";")[0].strip().partition("=")
        if name.strip().lower() != "wait":
            continue
        value = value.strip().strip('"')
        if not value.isdigit():
            raise ValidationError(
                {"Prefer": ["wait takes whole seconds (RFC 7240), e.g. 'Prefer: wait=10'."]}
            )
        return min(float(value), settings.POWER_MAX_WAIT_S)
    return None


def _query_wait_s(request) -> float | None:
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= settings.POWER_MAX_WAIT_S:
        raise ValidationError(
            {"wait": [f"Seconds from 0 to {settings.POWER_MAX_WAIT_S:g}, e.g. wait=10."]}
        )
    return wait


def _refusals(refusals) -> list[dict]:
    return [{"code": r.code, "message": r.message, "overridable": r.overridable} for r in refusals]


def power_request_response(request, **fields) -> Response:
    """Run a validated power request through the service and shape the answer."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > 200:
        return Response({"Idempotency-Key": ["At most 200 characters."]}, status=400)
    wait_s = requested_wait_s(request)
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
    command = result.command
    headers = {}
    answer = status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK
    if wait_s is not None and result.created and command.not_before is None:
        headers["Preference-Applied"] = f"wait={wait_s:g}"
        waited = completion.wait_until_finished(command.pk, wait_s)
        if waited.finished:
            answer = status.HTTP_201_CREATED
        # The outcome the executor announced, written into the command at hand; else (not
        # finished, cancelled, found in the database) the command read back.
        if waited.outcome is None or not waited.outcome.apply(command):
            command = _with_results(command.pk)
    elif not result.created:
        command = _with_results(command.pk)
    data = PowerCommandSerializer(command, context={"request": request}).data
    if answer == status.HTTP_201_CREATED:
        # A plain str: the URL is DRF's Hyperlink, which WSGI servers (wsgiref) refuse.
        headers["Location"] = str(data["url"])
    return Response(data, status=answer, headers=headers)


def _command_queryset():
    # The results are not prefetched: PowerCommandResultsSerializer reads them as values (one
    # query per command, or power_command_results for a list's page).
    return PowerCommand.objects.select_related("site", "requested_by")


def _with_results(pk: int) -> PowerCommand:
    return _command_queryset().get(pk=pk)


class PowerCommandViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Power commands: a read-only history, created through POST and cancelled while pending."""

    throttle_classes = [PowerCommandThrottle]  # POSTs only

    serializer_class = PowerCommandSerializer
    filterset_class = PowerCommandFilterSet
    ordering_fields = ["id", "created", "status", "action"]
    search_fields = ["reason", "ticket"]

    def get_queryset(self):
        return _command_queryset()

    def filter_queryset(self, queryset):
        # The list's filters mean nothing to one command by id (and building the filter set
        # was a third of a detail read, which a waiting request pays too).
        if self.action == "retrieve":
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        ModelResourceViewSet.refuse_unknown_query_parameters(self, request)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # The page's results in one query, not one per command.
        results = power_command_results([command.pk for command in page])
        context = {**self.get_serializer_context(), "results": results}
        serializer = self.get_serializer(page, many=True, context=context)
        return self.get_paginated_response(serializer.data)

    @extend_schema(parameters=[WAIT_PARAMETER])
    def retrieve(self, request, *args, **kwargs):
        refuse_unknown_query_parameters(request, {"wait", "format"})
        wait_s = _query_wait_s(request)
        command = self.get_object()
        if wait_s and command.status in ACTIVE_COMMAND_STATUSES:
            completion.wait_until_finished(command.pk, wait_s)
            command = self.get_object()
        return Response(self.get_serializer(command).data)

    @extend_schema(
        request=PowerRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={
            202: PowerCommandSerializer,
            201: PowerCommandSerializer,
            200: PowerCommandSerializer,
        },
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
    throttle_classes = [PowerCommandThrottle]

    @extend_schema(
        request=ShortcutRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={202: PowerCommandSerializer, 201: PowerCommandSerializer},
    )
    def post(self, request, pk: int, power_action: str):
        if power_action not in CommandAction.values:
            return Response({"action": [f"One of {', '.join(CommandAction.values)}."]}, status=400)
        serializer = ShortcutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = {"outlets": [], "hosts": [], "racks": [], **serializer.validated_data}
        fields[self.target_field] = [pk]
        try:
            return power_request_response(request, action=power_action, **fields)
        except UnknownTargets as exc:  # the target in the URL: not found, not a bad body
            if self.target_field in exc.fields:
                raise Http404(exc.message_dict[self.target_field][0]) from None
            raise


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
