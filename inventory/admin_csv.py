"""CSV import and export in the admin: thin views over ``inventory.csv_io``.

Each changelist of a CSV kind gets "Import CSV" and "Export all (filtered)" links
(templates/admin/inventory/change_list.html) and an "Export selected as CSV" action. Import is
upload -> preview (every row, its action and its errors; nothing written) -> confirm (the same
content validated again, then written all or nothing).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from inventory import csv_io


def _preview_row(row: csv_io.RowResult, columns: list[str]) -> dict:
    """A row of the preview table: its cells (credentials are never shown), each marked when
    an error names it, and all its errors."""
    erroneous = {error.column for error in row.errors}
    return {
        "number": row.number,
        "action": row.action or "",
        "cells": [(row.values.get(c, ""), c in erroneous) for c in columns],
        "errors": [f"{e.column}: {e.message}" if e.column else e.message for e in row.errors],
    }


class CsvImportExportMixin:
    """For the ModelAdmin of a model in ``csv_io.KINDS``."""

    actions = ["export_csv"]

    @property
    def csv_kind(self) -> str:
        return csv_io.KIND_OF_MODEL[self.model].name

    def _csv_url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}_csv"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import-csv/", wrap(self.import_csv_view), name=self._csv_url_name("import")),
            path("export-csv/", wrap(self.export_csv_view), name=self._csv_url_name("export")),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        if csv_io.csv_may_import(user=request.user, kind=self.csv_kind):
            extra_context["csv_import_url"] = reverse(f"admin:{self._csv_url_name('import')}")
        query = request.GET.urlencode()
        export_url = reverse(f"admin:{self._csv_url_name('export')}")
        extra_context["csv_export_url"] = f"{export_url}?{query}" if query else export_url
        return super().changelist_view(request, extra_context)

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_io.csv_export_response(kind=self.csv_kind, queryset=queryset)

    def export_csv_view(self, request):
        """Every object the changelist shows with the request's filters and search."""
        if not csv_io.csv_may_export(user=request.user, kind=self.csv_kind):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter in the query string.")
        queryset = changelist.get_queryset(request)
        return csv_io.csv_export_response(kind=self.csv_kind, queryset=queryset)

    def import_csv_view(self, request):
        # Anywhere: the rows' sites are checked row by row by the import itself.
        if not csv_io.csv_may_import(user=request.user, kind=self.csv_kind):
            raise PermissionDenied
        kind = self.csv_kind
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import {self.opts.verbose_name_plural} from CSV",
            "kind": kind,
            "columns": csv_io.KINDS[kind].columns,
            "shown_columns": [c.name for c in csv_io.KINDS[kind].exported_columns],
            "max_bytes": csv_io.MAX_FILE_BYTES,
            "max_rows": csv_io.MAX_ROWS,
        }
        if request.method == "POST":
            confirm = "token" in request.POST
            try:
                if confirm:
                    content = csv_io.csv_preview_token_open(
                        user=request.user, kind=kind, token=request.POST["token"]
                    )
                else:
                    content = self._uploaded(request)
                result = csv_io.csv_import(
                    user=request.user, files=[(kind, content)], commit=confirm
                )
            except csv_io.CsvImportError as exc:
                context["file_error"] = str(exc)
                return TemplateResponse(request, "admin/inventory/csv_import.html", context)
            if result.committed:
                self.message_user(request, f"Imported {result.summary()}.", messages.SUCCESS)
                return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            context["result"] = result
            context["rows"] = [_preview_row(row, context["shown_columns"]) for row in result.rows]
            context["counts"] = result.counts()
            if result.ok:
                context["token"] = csv_io.csv_preview_token(
                    user=request.user, kind=kind, content=content
                )
        return TemplateResponse(request, "admin/inventory/csv_import.html", context)

    @staticmethod
    def _uploaded(request) -> bytes:
        upload = request.FILES.get("file")
        if upload is None:
            raise csv_io.CsvImportError("Choose a CSV file to import.")
        if upload.size > csv_io.MAX_FILE_BYTES:  # refused before it is read into memory
            raise csv_io.CsvImportError(csv_io.csv_too_large_message(upload.size))
        return upload.read()
