"""Health (public, for load balancers and monitoring) and the audit log (auditors and admins)."""

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.models import AuditLog

logger = logging.getLogger(__name__)


class HealthOutputSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="healthy | down")
    checks = serializers.DictField(child=serializers.CharField(), help_text="Je Komponente: healthy | down.")


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _storage() -> None:
    default_storage.exists("health-probe")


def _redis() -> None:
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()


class HealthApi(APIView):
    """No authentication: says only healthy/down per component, never why (details go to the log)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: HealthOutputSerializer, 503: HealthOutputSerializer}, auth=[])
    def get(self, request):
        probes = {"database": _database, "storage": _storage}
        if settings.REDIS_URL:
            probes["redis"] = _redis
        checks = {}
        for name, probe in probes.items():
            try:
                probe()
            except Exception:  # any failure of a probe means "down" for that component
                logger.warning("Health check %s failed", name, exc_info=True)
                checks[name] = "down"
            else:
                checks[name] = "healthy"
        healthy = all(state == "healthy" for state in checks.values())
        return Response({"status": "healthy" if healthy else "down", "checks": checks}, status=200 if healthy else 503)


class AuditLogOutputSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)

    class Meta:
        model = AuditLog
        fields = ["id", "created_at", "actor", "action", "object_type", "object_id", "changes", "message", "ip_address"]


class AuditLogApi(ListAPIView):
    """The audit log, newest first, for auditors (Betriebsprüfung) and admins."""

    serializer_class = AuditLogOutputSerializer

    def get_queryset(self):
        user = self.request.user
        if not (user.is_superuser or user.has_perm("monitoring.view_auditlog")):
            raise PermissionDenied("Nur für Prüfer und Administratoren.")
        entries = AuditLog.objects.select_related("actor")
        for name in ("action", "object_type", "object_id"):
            value = self.request.query_params.get(name)
            if value:
                entries = entries.filter(**{name: value})
        return entries

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, description="z. B. document.approved"),
            OpenApiParameter("object_type", str, description="z. B. documents.document"),
            OpenApiParameter("object_id", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
