"""Turns errors raised below the API into clear 4xx answers instead of 500s.

- Django ``ValidationError`` (from ``Model.clean`` or a service): 400, by field.
- ``ProtectedError`` (deleting something others depend on): 409, naming the dependants.
- ``IntegrityError`` (a concurrent write won a unique race): 409.
- ``DataError`` (a value the database cannot hold: an id beyond its integers, a time zone
  offset beyond its range): 400. Found by fuzzing the API (tests/test_fuzz.py). SQLite's
  driver raises ``OverflowError`` for an integer beyond 64 bits, before the database sees
  it: the same 400.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def django_errors_to_drf(exc: DjangoValidationError) -> dict | list:
    detail = serializers.as_serializer_error(exc)
    if isinstance(detail, dict) and "__all__" in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop("__all__")
    return detail


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _describe_protected(exc: ProtectedError | RestrictedError) -> str:
    objs = list(
        exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    )
    names = ", ".join(f"{obj._meta.verbose_name} {obj}" for obj in objs[:10])
    more = f" and {len(objs) - 10} more" if len(objs) > 10 else ""
    return f"Cannot delete: still in use by {names}{more}."


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_errors_to_drf(exc))
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict(_describe_protected(exc))
    elif isinstance(exc, IntegrityError):
        exc = Conflict("The change conflicts with a concurrent change; reload and try again.")
    elif isinstance(exc, DataError | OverflowError):
        exc = exceptions.ValidationError(
            {"detail": ["A value is out of the range the database can hold."]}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Conflict):
        return Response(response.data, status=status.HTTP_409_CONFLICT, headers=response.headers)
    return response


# Django's own error pages, for URLs no view answers (an id that is not a number, a path that
# does not exist) and for crashes: under /api/ a client gets JSON like every other error.
def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"detail": "Internal server error; the request id is in X-Request-ID."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
