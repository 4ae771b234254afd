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
from rest_framework.exceptions import PermissionDenied
from rest_framework.validators import UniqueValidator

from dcpower.access import site_id_of
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
        self.check_site_permission(instance)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors_to_drf(exc)) from exc
        # clean() may normalise values (an empty asset tag becomes NULL): keep its result.
        for name in attrs:
            attrs[name] = getattr(instance, name)
        return attrs

    def check_site_permission(self, instance) -> None:
        """Roles are per site (dcpower/access.py): adding or changing an object needs the
        permission at the site the object will be at (the permission class checked the site
        it is at). Here, so that no viewset's save path can skip it."""
        request = self.context.get("request")
        if request is None:
            return
        meta = instance._meta
        action = "change" if self.instance is not None else "add"
        if not request.user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}", instance):
            site_id = site_id_of(instance)
            where = f" at site #{site_id}" if site_id else ""
            raise PermissionDenied(
                f"Your roles do not allow you to {action} {meta.verbose_name_plural}{where}."
            )

    def build_instance(self, attrs):
        """The object as it would be saved: a copy of the current one with attrs applied."""
        model = self.Meta.model
        if self.instance is None:
            instance = model()
        else:
            instance = copy.copy(self.instance)
            instance._state = copy.copy(self.instance._state)  # its own related-object cache
            instance._state.fields_cache = dict(self.instance._state.fields_cache)
        for name, value in attrs.items():
            setattr(instance, name, value)
        return instance
