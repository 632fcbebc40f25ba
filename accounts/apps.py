from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Benutzer und Rechte"

    def ready(self):
        # Registers the OpenAPI description of API-key authentication (drf-spectacular extension).
        from accounts.api import schema  # noqa: F401
