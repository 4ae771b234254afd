"""Inventory API views: a queryset that loads every related object a page shows (a fixed number
of queries per page, pinned by tests), and the filters and ordering a client may use."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import (
    NotFound,
    ParseError,
    PermissionDenied,
    UnsupportedMediaType,
    ValidationError,
)
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dcpower.api.exceptions import PayloadTooLarge
from dcpower.api.negotiation import IgnoreAcceptHeader
from dcpower.api.schema import ERROR_SCHEMA
from dcpower.api.viewsets import ModelResourceViewSet, refuse_unknown_query_parameters
from dcpower.audit import bind_user
from inventory import csv_io, filtersets, selectors, services
from inventory.api import serializers
from inventory.api.parsers import CsvParser
from inventory.api.permissions import CsvPermissions
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


# --- CSV import and export: the admin's, for scripts (inventory/csv_io.py) ------------------

DRY_RUN_PARAMETER = OpenApiParameter(
    "dry_run",
    bool,
    OpenApiParameter.QUERY,
    required=False,
    description="true: validate every row and answer what the import would do; nothing is written.",
)
IMPORT_RESPONSES = {
    200: serializers.CsvImportResultSerializer,
    (400, "application/json"): OpenApiResponse(
        ERROR_SCHEMA,
        description="A row has an error: the same answer, `committed` false, every row error "
        "in `errors` (kind, row, column, message) and nothing written. Or the file cannot be "
        "read at all (encoding, header, too many rows): `detail` says why.",
    ),
    (413, "application/json"): OpenApiResponse(
        ERROR_SCHEMA, description=f"A file over {csv_io.MAX_FILE_BYTES:,} bytes."
    ),
}
CSV_FILE_SCHEMA = {"type": "string", "format": "binary"}
KIND_PARAMETER = OpenApiParameter(
    "kind", str, OpenApiParameter.PATH, enum=list(csv_io.KINDS), description="The CSV kind."
)


class CsvApiView(APIView):
    """What the CSV endpoints share: the admin's permission rules, JSON answers whatever the
    Accept header says (an export is the file or a JSON error), and the audit trail's user."""

    permission_classes = [CsvPermissions]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAcceptHeader

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # As ModelResourceViewSet: the import's saves are audited under this user.
        bind_user(request.user)

    def kinds_asked(self) -> list[str]:
        """The kind the URL names; every kind if it names none, or none that exists."""
        kind = self.kwargs.get("kind")
        return [kind] if kind in csv_io.KINDS else list(csv_io.KINDS)

    def dry_run(self, request) -> bool:
        """``?dry_run=``: true or false (the CSV cells' words); no other parameter."""
        refuse_unknown_query_parameters(request, {"dry_run"})
        raw = request.query_params.get("dry_run", "false").strip().lower()
        if raw not in csv_io.TRUE_WORDS | csv_io.FALSE_WORDS:
            raise ValidationError({"dry_run": ["true or false."]})
        return raw in csv_io.TRUE_WORDS

    def import_response(self, request, *, files, dry_run: bool) -> Response:
        result = csv_io.csv_import(user=request.user, files=files, commit=not dry_run)
        data = serializers.CsvImportResultSerializer(result, context={"dry_run": dry_run}).data
        return Response(
            data, status=status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST
        )


class CsvKindListView(CsvApiView):
    """/api/v1/csv/: the kinds and their columns (GET); several kinds' files imported together,
    in dependency order and all or nothing (POST, multipart)."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="csv_kinds",
        summary="The CSV kinds and their columns, in import order",
        responses={200: serializers.CsvFormatSerializer},
    )
    def get(self, request):
        refuse_unknown_query_parameters(request, ())
        formats = {
            "max_file_bytes": csv_io.MAX_FILE_BYTES,
            "max_rows": csv_io.MAX_ROWS,
            "kinds": list(csv_io.KINDS.values()),
        }
        return Response(serializers.CsvFormatSerializer(formats, context={"request": request}).data)

    @extend_schema(
        operation_id="csv_import_several",
        summary="Import several kinds' files together (one file field per kind)",
        description="Imported in dependency order, in one transaction: all or nothing.",
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {kind: CSV_FILE_SCHEMA for kind in csv_io.KINDS},
            }
        },
        parameters=[DRY_RUN_PARAMETER],
        responses=IMPORT_RESPONSES,
    )
    def post(self, request):
        dry_run = self.dry_run(request)
        files = self.uploaded_files(request)
        try:
            return self.import_response(request, files=files, dry_run=dry_run)
        except csv_io.CsvImportError as exc:
            raise ValidationError({exc.kind or "non_field_errors": [str(exc)]}) from None

    @staticmethod
    def uploaded_files(request) -> list[tuple[str, bytes]]:
        """One file per kind, each field named after its kind; any other field is refused."""
        fields = set(request.data) - set(request.FILES)  # DRF's data holds the files too
        errors = {name: ["Not a file: send each kind's CSV as a file."] for name in fields}
        for name in request.FILES:
            if name not in csv_io.KINDS:
                errors[name] = [f"No CSV kind {name!r}: the kinds are {', '.join(csv_io.KINDS)}."]
            elif len(request.FILES.getlist(name)) > 1:
                errors[name] = ["One file per kind."]
        if not errors and not request.FILES:
            errors["non_field_errors"] = [
                f"No file: send each kind's CSV as a file field named after the kind "
                f"({', '.join(csv_io.KINDS)})."
            ]
        if errors:
            raise ValidationError(errors)
        refused = [k for k in request.FILES if not csv_io.csv_may_import(user=request.user, kind=k)]
        if refused:
            raise PermissionDenied(f"You may not import {', '.join(refused)} as CSV.")
        for kind, upload in request.FILES.items():
            if upload.size > csv_io.MAX_FILE_BYTES:  # refused before it is read into memory
                raise PayloadTooLarge(f"{kind}: {csv_io.csv_too_large_message(upload.size)}")
        return [(kind, upload.read()) for kind, upload in request.FILES.items()]


class CsvKindView(CsvApiView):
    """/api/v1/csv/{kind}/: the admin's "Export all" of a kind (GET); a file of it imported
    (POST, ``text/csv``)."""

    parser_classes = [CsvParser]

    @staticmethod
    def known_kind(kind: str) -> str:
        if kind not in csv_io.KINDS:
            raise NotFound(f"No CSV kind {kind!r}: the kinds are {', '.join(csv_io.KINDS)}.")
        return kind

    @extend_schema(
        operation_id="csv_export",
        summary="Export every object of a kind as CSV",
        responses={
            (200, "text/csv"): OpenApiResponse(
                CSV_FILE_SCHEMA,
                description="Every object of the kind (reading is never scoped to sites), "
                "credentials left out: the file the admin's Export all gives.",
            )
        },
        parameters=[
            KIND_PARAMETER,
            OpenApiParameter(
                "Content-Disposition",
                str,
                OpenApiParameter.HEADER,
                response=[200],
                description='attachment; filename="dcpower-{kind}-{YYYYmmdd-HHMMSS}.csv"',
            ),
        ],
    )
    def get(self, request, kind: str):
        kind = self.known_kind(kind)
        refuse_unknown_query_parameters(request, ())
        return csv_io.csv_export_response(kind=kind, queryset=csv_io.csv_export_queryset(kind=kind))

    @extend_schema(
        operation_id="csv_import",
        summary="Import a CSV file of a kind (the body is the file)",
        description="Every row is validated; with any error nothing is written (400).",
        request={"text/csv": CSV_FILE_SCHEMA},
        parameters=[KIND_PARAMETER, DRY_RUN_PARAMETER],
        responses=IMPORT_RESPONSES,
    )
    def post(self, request, kind: str):
        kind = self.known_kind(kind)
        dry_run = self.dry_run(request)
        # Checked here, not only by the parser: DRF takes a body without a Content-Type for
        # an empty one, and an import of nothing would be a confusing answer.
        media_type = request.content_type.split(";")[0].strip().lower()
        if media_type != CsvParser.media_type:
            raise UnsupportedMediaType(request.content_type or "none")
        content = request.data if isinstance(request.data, bytes) else b""
        try:
            return self.import_response(request, files=[(kind, content)], dry_run=dry_run)
        except csv_io.CsvImportError as exc:
            raise ParseError(str(exc)) from None
