"""Power commands in the admin: a read-only history whose pages follow a command's progress
outlet by outlet, and on/off/cycle actions on outlets and hosts that go through the same
service as the API, after a confirmation page that shows the blast radius and asks for a
reason."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from dcpower.admin import ReadOnlyAdminMixin
from inventory.admin import HostAdmin, OutletAdmin
from power import selectors, services
from power.blast_radius import blast_radius, resolve_outlets
from power.choices import CommandAction, OutletOutcome
from power.guardrails import guardrail_refusals
from power.models import PowerCommand

# How often a command's page asks for its progress while it is pending or running.
POLL_INTERVAL_MS = 2000


@admin.register(PowerCommand)
class PowerCommandAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Power commands are records of what was asked and what happened: nobody edits them."""

    list_display = [
        "id",
        "action",
        "status",
        "site",
        "requested_by",
        "reason",
        "ticket",
        "progress",
        "created",
        "finished_at",
    ]
    list_filter = ["status", "action", "site", "force"]
    search_fields = ["reason", "ticket", "requested_by__username"]
    list_select_related = ["site", "requested_by"]
    date_hierarchy = "created"
    # The page's progress summary and outcome table (power/selectors.py) stand in for inlines.
    change_form_template = "admin/power/powercommand/change_form.html"

    def get_queryset(self, request):
        finished = ~Q(outlets__outcome=OutletOutcome.PENDING)
        return (
            super()
            .get_queryset(request)
            .annotate(
                outlets_total=Count("outlets"), outlets_done=Count("outlets", filter=finished)
            )
        )

    @admin.display(description="Outlets finished")
    def progress(self, command):
        return f"{command.outlets_done} of {command.outlets_total}"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in PowerCommand._meta.fields]

    def get_urls(self):
        progress = path(
            "<path:object_id>/progress/",
            self.admin_site.admin_view(self.progress_view),
            name="power_powercommand_progress",
        )
        return [progress, *super().get_urls()]

    def progress_view(self, request, object_id):
        """The command's progress as JSON, which its page polls while it is not finished:
        the same permission as the page itself."""
        command = self.get_object(request, unquote(object_id))
        if command is None:
            raise Http404
        if not self.has_view_or_change_permission(request, command):
            raise PermissionDenied
        response = JsonResponse(selectors.command_progress(command=command).as_json())
        response["Cache-Control"] = "no-store"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        command = self.get_object(request, unquote(object_id))
        if command is not None:  # else the admin's own answer (a message and a redirect)
            extra_context = {
                **(extra_context or {}),
                "progress": selectors.command_progress(command=command),
                "progress_url": reverse("admin:power_powercommand_progress", args=[command.pk]),
                "poll_interval_ms": POLL_INTERVAL_MS,
            }
        return super().change_view(request, object_id, form_url, extra_context)


class PowerActionForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
    )
    ticket = forms.CharField(required=False, max_length=100)
    force = forms.BooleanField(
        required=False, help_text="Override the protected-host and last-supply guardrails."
    )


def _power_action(action: str, target_field: str):
    def admin_action(modeladmin, request, queryset):
        if not request.user.has_perm("power.add_powercommand"):
            raise PermissionDenied
        ids = list(queryset.values_list("pk", flat=True))
        targets = {f"{target_field}_ids": ids}
        try:
            outlets = resolve_outlets(**targets)
        except ValidationError as exc:
            modeladmin.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return None
        radius = blast_radius(action=action, outlets=outlets)
        form = PowerActionForm(request.POST if "confirm" in request.POST else None)
        refusals = []
        if form.is_bound and form.is_valid():
            try:
                result = services.power_command_request(
                    user=request.user,
                    action=action,
                    reason=form.cleaned_data["reason"],
                    ticket=form.cleaned_data["ticket"],
                    force=form.cleaned_data["force"],
                    **targets,
                )
            except services.GuardrailRefused as exc:
                refusals = exc.refusals
            except (services.OutletBusy, ValidationError, PermissionDenied) as exc:
                modeladmin.message_user(request, str(exc), messages.ERROR)
                return None
            else:
                command = result.command
                modeladmin.message_user(
                    request, f"Power command #{command.pk} ({action}) queued.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:power_powercommand_change", args=[command.pk])
                )
        else:
            refusals = guardrail_refusals(radius, reason="-", force=False)
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": f"Power {action}: confirm",
            "action": action,
            "action_name": request.POST.get("action"),
            "radius": radius,
            "refusals": refusals,
            "form": form if form.is_bound else PowerActionForm(),
            "selected": ids,
            "opts": modeladmin.model._meta,
            # The list as it was (its filters and search are in the query string).
            "cancel_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/power/confirm_power_action.html", context)

    admin_action.__name__ = f"power_{action}_{target_field}"
    admin_action.short_description = f"Power {action}…"
    return admin_action


for model_admin, field in ((OutletAdmin, "outlet"), (HostAdmin, "host")):
    model_admin.actions = [
        *(model_admin.actions or []),
        *(_power_action(a, field) for a in CommandAction.values),
    ]
