"""The base serializer for model resources.

Validation is the model's: ``validate()`` runs ``Model.full_clean()`` on the would-be object,
so the admin and the API enforce exactly the same rules and report them on the same fields.
DRF's own uniqueness validators are switched off for that reason (the model reports them, on
the right field). Unknown fields in a request are refused rather than silently ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from dcpower.api.exceptions import django_errors_to_drf


class ModelCleanSerializer(serializers.ModelSerializer):
    def get_validators(self):
        return []  # uniqueness and constraints are validated by Model.full_clean()

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        validators = field_kwargs.get("validators")
        if validators:
            field_kwargs["validators"] = [
                v for v in validators if not isinstance(v, UniqueValidator)
            ]
        return field_class, field_kwargs

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = self.build_instance(attrs)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors_to_drf(exc)) from exc
        # clean() may normalise values (an empty asset tag becomes NULL): keep its result.
        for name in attrs:
            attrs[name] = getattr(instance, name)
        return attrs

    def build_instance(self, attrs):
        """The object as it would be saved: a copy of the current one with attrs applied."""
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        for name, value in attrs.items():
            setattr(instance, name, value)
        return instance
