"""Runtime configuration (SystemConfig) over the API: admins only, API keys need the ``admin`` scope."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import APIKeyScopePermission, IsAdminUser
from documents.api.serializers import ErrorResponseSerializer
from system.api.serializers import ConfigInputSerializer, ConfigOutputSerializer
from system.models import SystemConfig
from system.services import config_set

REFUSALS = {403: ErrorResponseSerializer, 404: ErrorResponseSerializer}


def _output(config: SystemConfig) -> dict:
    # Secrets never leave the server, not even to admins: they can only be replaced.
    return {
        "key": config.key,
        "value": None if config.is_secret else config.value,
        "value_type": config.value_type,
        "category": config.category,
        "description": config.description,
        "validation_rules": config.validation_rules,
        "is_secret": config.is_secret,
        "updated_at": config.updated_at,
    }


class _AdminApi(APIView):
    permission_classes = [IsAuthenticated, APIKeyScopePermission, IsAdminUser]
    required_scope = "admin"
    pagination_class = None


class ConfigListApi(_AdminApi):
    @extend_schema(responses={200: ConfigOutputSerializer(many=True), **REFUSALS})
    def get(self, request):
        return Response(ConfigOutputSerializer([_output(c) for c in SystemConfig.objects.all()], many=True).data)


class ConfigDetailApi(_AdminApi):
    @extend_schema(responses={200: ConfigOutputSerializer, **REFUSALS})
    def get(self, request, key):
        return Response(ConfigOutputSerializer(_output(get_object_or_404(SystemConfig, key=key))).data)

    @extend_schema(
        request=ConfigInputSerializer,
        responses={200: ConfigOutputSerializer, 400: ErrorResponseSerializer, **REFUSALS},
        description="Ändert einen Wert nach Prüfung von Typ und Regeln; wird im Audit-Protokoll vermerkt.",
    )
    def put(self, request, key):
        get_object_or_404(SystemConfig, key=key)
        serializer = ConfigInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = config_set(key=key, value=serializer.validated_data["value"], user=request.user)
        return Response(ConfigOutputSerializer(_output(config)).data)
