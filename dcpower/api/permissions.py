"""Who may call the API: roles (dcpower/access.py). Every request needs a user (else 401);
reading needs the model's view permission, writing its add, change or delete permission,
at the object's site for the object itself (else 403). Creations and changes are checked
against the object as it will be by the viewset (ModelResourceViewSet), and power commands
against their site by the service."""

from rest_framework import permissions

READ_ONLY_REFUSAL = "This API token is read-only."


def writes_with_read_only_token(request) -> bool:
    """A write (any method but GET, HEAD, OPTIONS) authenticated by a read-only API token."""
    return bool(getattr(request.auth, "read_only", False)) and (
        request.method not in permissions.SAFE_METHODS
    )


class RolePermissions(permissions.DjangoObjectPermissions):
    def has_permission(self, request, view):
        if writes_with_read_only_token(request):
            self.message = READ_ONLY_REFUSAL
            return False
        return super().has_permission(request, view)

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }
