"""The base viewset for model resources: transactional writes and all-or-nothing bulk create."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from dcpower.audit import bind_user

BULK_CREATE_MAX_ITEMS = 1000


def refuse_unknown_query_parameters(request, allowed) -> None:
    """A 400 naming each query parameter not in ``allowed``: a misspelt filter or option must
    not silently act on everything (a whole list, a real import instead of a dry run)."""
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise ValidationError({name: ["Unknown query parameter."] for name in unknown})


class ModelResourceViewSet(viewsets.ModelViewSet):
    """CRUD where every write runs in one transaction.

    Validation runs inside that transaction, so a rule that locks a parent row (a rack while
    a host is placed in it) holds its lock until the write commits.

    POSTing a JSON list creates every item or none: each item is validated against the state
    that includes the items before it, and the answer is either 201 with all objects or 400
    with one error object per item (empty for the items that were fine).
    """

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    bulk_create_enabled = True  # the schema documents the list form of POST (dcpower.api.schema)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # The API authenticates here, after the middleware: the audit trail's user is now known.
        bind_user(request.user)

    def list(self, request, *args, **kwargs):
        self.refuse_unknown_query_parameters(request)
        return super().list(request, *args, **kwargs)

    def refuse_unknown_query_parameters(self, request) -> None:
        """A misspelt filter must not silently return the whole list (a script would act on
        every object): parameters that are neither filters nor paging/ordering are refused."""
        allowed = {
            api_settings.SEARCH_PARAM,
            api_settings.ORDERING_PARAM,
            api_settings.URL_FORMAT_OVERRIDE,
            "limit",
            "offset",
        }
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        allowed |= set(getattr(self, "filterset_fields", None) or [])
        refuse_unknown_query_parameters(request, allowed)

    def create(self, request, *args, **kwargs):
        if isinstance(request.data, list):
            return self.bulk_create(request)
        with transaction.atomic():
            return super().create(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)

    def bulk_create(self, request):
        items = request.data
        if not items:
            raise ValidationError({"non_field_errors": ["A bulk create needs at least one item."]})
        if len(items) > BULK_CREATE_MAX_ITEMS:
            raise ValidationError(
                {"non_field_errors": [f"At most {BULK_CREATE_MAX_ITEMS} items per request."]}
            )
        created, errors = [], []
        with transaction.atomic():
            for item in items:
                serializer = self.get_serializer(data=item)
                if not serializer.is_valid():
                    errors.append(serializer.errors)
                    continue
                try:
                    with transaction.atomic():  # a savepoint: a failed item leaves the rest usable
                        self.perform_create(serializer)
                except IntegrityError:
                    errors.append({"non_field_errors": ["Conflicts with a concurrent change."]})
                    continue
                errors.append({})
                created.append(serializer.instance)
            if any(errors):
                transaction.set_rollback(True)
                return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        # Read back through the list queryset so related objects are loaded in a few queries.
        objects = self.get_queryset().filter(pk__in=[obj.pk for obj in created])
        by_pk = {obj.pk: obj for obj in objects}
        data = self.get_serializer([by_pk[obj.pk] for obj in created], many=True).data
        return Response(data, status=status.HTTP_201_CREATED)
