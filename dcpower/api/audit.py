"""/api/v1/audit/: the audit trail of inventory changes, read-only, filterable."""

from __future__ import annotations

import django_filters as filters
from rest_framework import mixins, serializers, viewsets

from dcpower.api.viewsets import ModelResourceViewSet
from dcpower.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created",
            "username",
            "request_id",
            "action",
            "model",
            "object_id",
            "object_repr",
            "site_id",
            "changes",
        ]
        read_only_fields = fields


class AuditEntryFilterSet(filters.FilterSet):
    user = filters.CharFilter(field_name="username")
    site = filters.NumberFilter(field_name="site_id")
    created_after = filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["model", "object_id", "action", "request_id"]


class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    ordering_fields = ["id", "created"]

    def list(self, request, *args, **kwargs):
        ModelResourceViewSet.refuse_unknown_query_parameters(self, request)
        return super().list(request, *args, **kwargs)
