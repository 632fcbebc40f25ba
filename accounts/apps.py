from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Benutzer und Rechte"

    def ready(self):
        # Registers the OpenAPI description of API-key authentication (drf-spectacular extension).
        from accounts.api import schema  # noqa: F401

        # Django creates permissions in post_migrate, app by app (auth's receiver runs first);
        # right after, the admin and auditor roles get those of the app just migrated.
        post_migrate.connect(_roles_grant_new_permissions, dispatch_uid="accounts.roles_grant_new_permissions")


def _roles_grant_new_permissions(app_config, using="default", **kwargs):
    from accounts.services import roles_grant_new_permissions

    roles_grant_new_permissions(app_label=app_config.label, using=using)
