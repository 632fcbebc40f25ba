from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core.signals import got_request_exception

        from monitoring.errors import on_request_exception

        got_request_exception.connect(on_request_exception, dispatch_uid="monitoring.error_capture")
