"""The admin's side of roles: granting them, and admin pages that respect their sites."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from dcpower.models import ApiToken, AuditEntry, RoleGrant, WorkerHeartbeat
from dcpower.tokens import api_token_revoke


class ReadOnlyAdminMixin:
    """Records nobody edits by hand (the audit trail, power commands, what polls and workers
    wrote): viewable with the view permission, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SiteScopedAdminMixin:
    """Change and delete only where the user's roles reach (dcpower/access.py): Django's
    ModelAdmin asks ``has_perm`` without the object; this asks with it, so a technician of
    one site sees another site's racks read-only. A new object is checked at its site."""

    def _perm(self, action: str) -> str:
        return f"{self.opts.app_label}.{action}_{self.opts.model_name}"

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(self._perm("change"), obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(self._perm("delete"), obj)

    def save_model(self, request, obj, form, change):
        if not request.user.has_perm(self._perm("change" if change else "add"), obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class SiteScopedInlineMixin:
    """Inline rows follow their parent object's site."""

    def _perm(self, action: str) -> str:
        return f"{self.opts.app_label}.{action}_{self.opts.model_name}"

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(self._perm("add"), obj)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(self._perm("change"), obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(self._perm("delete"), obj)


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "where", "created"]
    list_filter = ["role", "sites"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["sites"]

    @admin.display(description="Sites")
    def where(self, grant):
        return ", ".join(s.name for s in grant.sites.all()) or "every site"

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("user", "role").prefetch_related("sites")
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made with their secret shown once (API or ``manage.py create_api_token``);
    here they are listed and revoked, never shown."""

    list_display = ["name", "user", "prefix", "created", "expires_at", "read_only", "revoked_at"]
    list_filter = ["read_only", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "created", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail: read-only."""

    list_display = ["created", "username", "action", "model", "object_repr", "request_id"]
    list_filter = ["action", "model", "created"]
    search_fields = ["object_repr", "username", "request_id", "object_id"]
    date_hierarchy = "created"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The Celery workers /readyz counts on (dcpower/heartbeat.py): read-only, for the admin
    role. A worker stopped cleanly removes its row; one that died leaves it, not live."""

    list_display = ["hostname", "live", "queue_list", "last_seen", "started_at", "pid"]
    search_fields = ["hostname"]

    @admin.display(boolean=True, description="Live")
    def live(self, heartbeat):
        window = heartbeat.MISSED_BEATS * settings.WORKER_HEARTBEAT_S
        return (timezone.now() - heartbeat.last_seen).total_seconds() <= window

    @admin.display(description="Queues")
    def queue_list(self, heartbeat):
        return ", ".join(heartbeat.queues)
