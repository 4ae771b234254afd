"""drf-spectacular extensions: the brief related-object fields have one shape for requests
(an integer id) and another for responses (an object), and the schema says so."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
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
