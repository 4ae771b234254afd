"""Who may do what where: a role (a group of permissions, docs/security.md) granted to a user
for some sites, or for all of them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class RoleGrant(models.Model):
    """``user`` holds ``role``'s permissions at ``sites`` (none listed: at every site)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="grants")
    sites = models.ManyToManyField(
        "inventory.Site",
        blank=True,
        related_name="role_grants",
        help_text="Where the role applies; none: every site.",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="rolegrant_unique_user_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role}"
