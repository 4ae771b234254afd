"""The audit trail of inventory changes: every save and delete of an inventory model, made
through the API, the admin, a command or a service, becomes an AuditEntry with who made it,
from which request, and each changed field's value before and after (secrets masked).

Who and which request come from context variables that the request's middleware and the
API's views set (the API authenticates inside the view, after any middleware). Bulk updates
that bypass save() (telemetry readings, outlet states verified by power commands) are not
inventory edits and are recorded where they belong: polls and power commands.
"""

from __future__ import annotations

import contextvars
from datetime import date, datetime
from decimal import Decimal

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from dcpower.access import site_id_of
from dcpower.crypto import UndecryptableSecret
from dcpower.request_id import current_request_id

AUDITED_APPS = {"inventory"}
MASKED = {"snmp_read_community", "snmp_write_community", "snmp_v3_auth_key", "snmp_v3_priv_key"}
UNAUDITED_FIELDS = {"last_updated", "created"}
_user: contextvars.ContextVar = contextvars.ContextVar("audit_user", default=None)


def bind_user(user) -> contextvars.Token:
    return _user.set(user if user is not None and user.is_authenticated else None)


def _audited(sender) -> bool:
    return sender._meta.app_label in AUDITED_APPS


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _values(instance, unreadable: frozenset[str] = frozenset()) -> dict:
    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in UNAUDITED_FIELDS:
            continue
        if field.name in unreadable:
            values[field.name] = "***"
            continue
        value = getattr(instance, field.attname)
        values[field.name] = "***" if field.name in MASKED and value else _plain(value)
    return values


@receiver(pre_save, dispatch_uid="dcpower.audit.pre_save")
def _remember_before(sender, instance, raw=False, **kwargs):
    if raw or not _audited(sender) or instance.pk is None:
        return
    stored = sender._default_manager.filter(pk=instance.pk)
    try:
        before = stored.first()
        instance._audit_before = _values(before) if before is not None else None
    except UndecryptableSecret:
        # Secrets stored under a key no longer configured (being replaced now): the audit
        # only ever shows them masked anyway.
        masked = frozenset(f.name for f in sender._meta.concrete_fields if f.name in MASKED)
        before = stored.defer(*masked).first()
        instance._audit_before = _values(before, masked) if before is not None else None


@receiver(post_save, dispatch_uid="dcpower.audit.post_save")
def _record_save(sender, instance, created, raw=False, **kwargs):
    if raw or not _audited(sender):
        return
    after = _values(instance)
    before = None if created else getattr(instance, "_audit_before", None)
    if before is None:
        changes = {name: [None, value] for name, value in after.items()}
        action = "create"
    else:
        changes = {n: [before.get(n), v] for n, v in after.items() if before.get(n) != v}
        action = "update"
        if not changes:
            return  # saved unchanged: nothing happened
    _write(instance, action, changes)


@receiver(post_delete, dispatch_uid="dcpower.audit.post_delete")
def _record_delete(sender, instance, **kwargs):
    if not _audited(sender):
        return
    _write(instance, "delete", {name: [value, None] for name, value in _values(instance).items()})


def _write(instance, action: str, changes: dict) -> None:
    from dcpower.models import AuditEntry

    user = _user.get()
    AuditEntry.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        request_id=current_request_id(),
        action=action,
        model=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        site_id=site_id_of(instance),
        changes=changes,
    )


class AuditUserMiddleware:
    """Binds the session's user (the admin) for the audit trail; the API binds its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = bind_user(getattr(request, "user", None))
        try:
            return self.get_response(request)
        finally:
            _user.reset(token)
