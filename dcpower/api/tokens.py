"""/api/v1/tokens/: each user's own API tokens. Created with their secret in the answer (the
only time it is shown), listed without it, revoked (kept as a record)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from dcpower.models import ApiToken
from dcpower.tokens import api_token_create, api_token_revoke


class OwnTokens(permissions.IsAuthenticated):
    message = "This API token is read-only."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        read_only = getattr(request.auth, "read_only", False)
        return not (read_only and request.method not in permissions.SAFE_METHODS)


class ApiTokenSerializer(serializers.ModelSerializer):
    allowed_networks = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "created",
            "expires_at",
            "read_only",
            "allowed_networks",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = ["prefix", "created", "last_used_at", "revoked_at"]

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class NewApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown this once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ApiTokenSerializer
    permission_classes = [OwnTokens]
    queryset = ApiToken.objects.none()  # the model, for the schema; get_queryset is per user
    filter_backends = []
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema, generated without a user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=ApiTokenSerializer, responses={201: NewApiTokenSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token, plaintext = api_token_create(user=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        token.token = plaintext
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return Response(ApiTokenSerializer(api_token_revoke(token=self.get_object())).data)
