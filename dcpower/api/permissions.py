"""Who may call the API: roles (dcpower/access.py). Every request needs a user (else 401);
reading needs the model's view permission, writing its add, change or delete permission,
at the object's site for the object itself (else 403). Creations and changes are checked
against the object as it will be by the viewset (ModelResourceViewSet), and power commands
against their site by the service."""

from rest_framework import permissions


class RolePermissions(permissions.DjangoObjectPermissions):
    def has_permission(self, request, view):
        if getattr(request.auth, "read_only", False) and request.method not in (
            permissions.SAFE_METHODS
        ):
            self.message = "This API token is read-only."
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
