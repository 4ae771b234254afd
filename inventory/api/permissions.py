"""Who may use the CSV endpoints: the admin's rules (``csv_io.csv_may_export`` and
``csv_io.csv_may_import``), with the API's conventions: no user is a 401, a read-only API
token never imports, and each row's site is checked by the import itself."""

from __future__ import annotations

from rest_framework import permissions

from dcpower.api.permissions import READ_ONLY_REFUSAL, writes_with_read_only_token
from inventory import csv_io


class CsvPermissions(permissions.BasePermission):
    """Reading (the kinds, an export) needs the export rule, importing the import rule, for
    the kind in the URL. Where the URL names no kind (the listing, several files in one
    request) or one that does not exist, for some kind: the view then checks each file's kind,
    or answers 404 naming the kinds (a 403 to a caller who may use none of them)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if writes_with_read_only_token(request):
            self.message = READ_ONLY_REFUSAL
            return False
        if request.method in permissions.SAFE_METHODS:
            may, verb = csv_io.csv_may_export, "export"
        else:
            may, verb = csv_io.csv_may_import, "import"
        kinds = view.kinds_asked()
        what = kinds[0] if len(kinds) == 1 else "any kind"
        self.message = f"You may not {verb} {what} as CSV."
        return any(may(user=user, kind=kind) for kind in kinds)
