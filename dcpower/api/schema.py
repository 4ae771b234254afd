"""drf-spectacular extensions: the brief related-object fields have one shape for requests
(an integer id) and another for responses (an object), and the schema says so."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes

_EXTRA_TYPES = {"number": OpenApiTypes.INT}


def _brief_schema(field) -> dict:
    properties = {
        "id": build_basic_type(OpenApiTypes.INT),
        "url": build_basic_type(OpenApiTypes.URI),
        "name": build_basic_type(OpenApiTypes.STR),
    }
    for attr in field.extra:
        properties[attr] = build_basic_type(_EXTRA_TYPES.get(attr, OpenApiTypes.STR))
    return build_object_type(properties=properties, required=list(properties))


class BriefRelatedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "dcpower.api.fields.BriefRelatedField"

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return build_basic_type(OpenApiTypes.INT)
        return _brief_schema(self.target)


class BriefObjectFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "dcpower.api.fields.BriefObjectField"

    def map_serializer_field(self, auto_schema, direction):
        return _brief_schema(self.target)


class NullableNestedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "dcpower.api.fields.NullableNestedField"

    def map_serializer_field(self, auto_schema, direction):
        component = auto_schema.resolve_serializer(self.target.serializer_class, direction)
        return {"oneOf": [component.ref, {"enum": [None]}]}


class ApiTokenAuthenticationExtension(OpenApiAuthenticationExtension):
    target_class = "dcpower.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token dcp_…`: an API token (docs/security.md#api-tokens).",
        }


class JwtAuthenticationExtension(SimpleJWTScheme):
    """Our JWTAuthentication (it names its user in logs) is documented as simplejwt's."""

    target_class = "dcpower.api.authentication.JwtAuthentication"


class ResourceAutoSchema(AutoSchema):
    """Documents bulk create: POST to a list endpoint takes one object or a list of them
    (at most BULK_CREATE_MAX_ITEMS) and answers with one object or the list."""

    def _is_bulk_create(self) -> bool:
        return getattr(self.view, "action", None) == "create" and getattr(
            self.view, "bulk_create_enabled", False
        )

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if self._is_bulk_create():
            schema = _one_or_many(schema)
        return schema, required

    def _get_response_for_code(
        self, serializer, status_code, media_types=None, direction="response"
    ):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        if self._is_bulk_create() and str(status_code) == "201":
            for media in response.get("content", {}).values():
                media["schema"] = _one_or_many(media["schema"])
        return response

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._is_bulk_create():
            # A bulk create's 400 lists each item's errors, in the items' order.
            responses["400"] = {
                "description": ERROR_RESPONSES["400"] + " For a list, one object per item.",
                "content": {"application/json": {"schema": _one_or_many(ERROR_SCHEMA)}},
            }
        return responses


def _one_or_many(schema: dict) -> dict:
    from dcpower.api.viewsets import BULK_CREATE_MAX_ITEMS

    return {
        "oneOf": [
            schema,
            {"type": "array", "items": schema, "minItems": 1, "maxItems": BULK_CREATE_MAX_ITEMS},
        ]
    }


# The errors any operation may answer with, documented on every operation (a client, and
# the schema fuzzer in tests/test_fuzz.py, must find every status code it can get).
ERROR_RESPONSES = {
    "400": "Bad input: the body names each field and the rule it breaks.",
    "401": "No valid credentials (an API token, a JWT or a session).",
    "403": "The user's roles do not allow this, here.",
    "404": "No such object.",
    "405": "Not allowed on this resource.",
    "409": "Conflicts with the current state (an outlet held by another command, a guardrail, "
    "something still in use).",
    "415": "The body is not JSON.",
    "429": "Too many requests: see Retry-After.",
}
ERROR_SCHEMA = {"type": "object", "additionalProperties": True}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add ERROR_RESPONSES to every operation."""
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    },
                )
    return result
