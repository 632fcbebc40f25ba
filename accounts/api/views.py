"""The signed-in person (or the API key's user) over the API."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import MeInputSerializer, MeOutputSerializer
from accounts.services import user_profile_update
from documents.api.serializers import ErrorResponseSerializer


class MeApi(APIView):
    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        return Response(MeOutputSerializer(request.user).data)

    @extend_schema(
        request=MeInputSerializer,
        responses={200: MeOutputSerializer, 400: ErrorResponseSerializer},
        description="Anzeigename, Sprache und Zeitzone. Rollen, Admin-Rechte und E-Mail ändern nur Admins.",
    )
    def patch(self, request):
        serializer = MeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = user_profile_update(
            user=request.user,
            display_name=data.get("display_name"),
            language=data.get("language"),
            timezone_name=data.get("timezone"),
        )
        return Response(MeOutputSerializer(user).data)
