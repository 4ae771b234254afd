"""Roles, and who may do what at which site (docs/security.md).

A role is a Django group of permissions, created by a data migration from ROLES below. A user
holds a role through a RoleGrant, for some sites or for all of them; Django's own user and
group permissions still apply, everywhere (superusers, break-glass accounts).

Reading is never scoped: a role that may view racks views every site's racks ("viewer: read
everything"). Writing is: adding, changing or deleting an object, and switching its power,
needs a grant that covers the object's site. Callers check ``user.has_perm(perm, obj)`` with
the object (or, for a creation, the object about to be created); without an object, the
question is "anywhere?", used to show or refuse a whole endpoint.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

INVENTORY = ["rack", "powerfeed", "pdu", "outlet", "host", "powersupply"]
VIEWABLE = {
    "inventory": ["site", *INVENTORY],
    "power": ["powercommand", "powercommandoutlet"],
    "telemetry": ["pdustatus", "rackstatus", "event", "webhook", "webhookdelivery"],
}
VIEW = [f"{app}.view_{model}" for app, models in VIEWABLE.items() for model in models]
EDIT_INVENTORY = [f"inventory.{a}_{m}" for m in INVENTORY for a in ("add", "change", "delete")]
SWITCH_POWER = ["power.add_powercommand", "power.change_powercommand"]
FORCE = ["power.force_powercommand"]
ADMINISTER = [
    *(f"inventory.{a}_site" for a in ("add", "change", "delete")),
    *(f"telemetry.{a}_webhook" for a in ("add", "change", "delete")),
    *(f"dcpower.{a}_rolegrant" for a in ("add", "change", "delete", "view")),
    *(f"auth.{a}_user" for a in ("add", "change", "delete", "view")),
    "auth.view_group",
    "dcpower.view_auditentry",
    "dcpower.view_workerheartbeat",
    *(f"dcpower.{a}_apitoken" for a in ("add", "change", "delete", "view")),
]

# Role name -> permissions ("app_label.codename"). The data migration creates these groups.
ROLES: dict[str, list[str]] = {
    "viewer": VIEW,
    "technician": VIEW + EDIT_INVENTORY,
    "operator": VIEW + SWITCH_POWER,
    # Service accounts: inventory sync and power actions, never force.
    "automation": VIEW + EDIT_INVENTORY + SWITCH_POWER,
    # Given with operator (or automation) to those who may override the guardrails.
    "guardrail-override": FORCE,
    "admin": VIEW + EDIT_INVENTORY + SWITCH_POWER + FORCE + ADMINISTER,
}

# How to find an object's site, by model: an attribute path (vendor-style data, not code).
SITE_PATHS = {
    "inventory.site": "pk",
    "inventory.rack": "site_id",
    "inventory.powerfeed": "site_id",
    "inventory.host": "site_id",
    "inventory.pdu": "rack.site_id",
    "inventory.outlet": "pdu.rack.site_id",
    "inventory.powersupply": "host.site_id",
    "power.powercommand": "site_id",
    "telemetry.event": "site_id",
}


def site_id_of(obj) -> int | None:
    """The id of the site an object belongs to; None when it has none (or not yet)."""
    path = SITE_PATHS.get(obj._meta.label_lower)
    if path is None:
        return None
    value = obj
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


class RoleBackend(ModelBackend):
    """Django's permissions (global), plus roles granted per site through RoleGrant; logins
    of an account locked by too many failures are refused (dcpower/throttling.py)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from dcpower.throttling import login_locked

        if login_locked(username):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        if not user_obj.is_active:
            return False
        # Django's own user and group permissions: everywhere. (Not super().has_perm: it asks
        # get_all_permissions below, which includes the roles' without their sites.)
        if perm in ModelBackend.get_all_permissions(self, user_obj):
            return True
        unscoped = obj is None or perm.split(".", 1)[-1].startswith("view_")
        site_id = None if unscoped else site_id_of(obj)
        for permissions, site_ids in self._grants(user_obj):
            if perm not in permissions:
                continue
            if unscoped or site_ids is None or site_id in site_ids:
                return True
        return False

    def has_module_perms(self, user_obj, app_label) -> bool:
        prefix = f"{app_label}."
        return user_obj.is_active and any(
            p.startswith(prefix) for p in self.get_all_permissions(user_obj)
        )

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        permissions = set(super().get_all_permissions(user_obj, obj))
        if user_obj.is_active and obj is None:
            for granted, _ in self._grants(user_obj):
                permissions |= granted
        return permissions

    @staticmethod
    def _grants(user_obj) -> list[tuple[frozenset[str], frozenset[int] | None]]:
        """The user's grants: (permissions, site ids or None for every site), read once per
        user object (one request)."""
        cached = getattr(user_obj, "_dcpower_role_grants", None)
        if cached is not None:
            return cached
        if user_obj.is_anonymous:
            return []
        from dcpower.models import RoleGrant

        grants = []
        for grant in RoleGrant.objects.filter(user=user_obj).prefetch_related(
            "role__permissions__content_type", "sites"
        ):
            permissions = frozenset(
                f"{p.content_type.app_label}.{p.codename}" for p in grant.role.permissions.all()
            )
            site_ids = frozenset(s.pk for s in grant.sites.all()) or None
            grants.append((permissions, site_ids))
        user_obj._dcpower_role_grants = grants
        return grants
