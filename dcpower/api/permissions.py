"""Who may call the API until roles arrive (issue #7): any authenticated user reads; writes
need Django's model permissions (add/change/delete), which superusers hold."""

from rest_framework import permissions


class ReadAuthenticatedWriteModelPerms(permissions.DjangoModelPermissions):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return super().has_permission(request, view)
