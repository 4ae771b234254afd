"""The roles (groups of permissions) of dcpower/access.py ROLES."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from dcpower.access import ROLES

    # Permissions are normally created after migrate; the roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, names in ROLES.items():
        permissions = []
        for dotted in names:
            app_label, codename = dotted.split(".")
            try:
                apps.get_model(app_label, codename.split("_", 1)[1])
            except LookupError:
                continue  # a model made by a later migration, which grants it (0003: heartbeats)
            permissions.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    from dcpower.access import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dcpower", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0005_encrypted_credentials"),
        ("power", "0004_force_permission"),
        ("telemetry", "0002_webhooks"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
