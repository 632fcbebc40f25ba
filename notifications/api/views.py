"""The notification centre for API clients: the caller's own notifications only (foreign ids are 404)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import services
from notifications.api.serializers import NotificationOutputSerializer, ReadAllOutputSerializer
from notifications.selectors import notifications_for


class NotificationListApi(ListAPIView):
    serializer_class = NotificationOutputSerializer

    def get_queryset(self):
        notifications = notifications_for(self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications


class NotificationReadApi(APIView):
    @extend_schema(request=None, responses={200: NotificationOutputSerializer})
    def post(self, request, notification_id):
        notification = get_object_or_404(notifications_for(request.user), id=notification_id)
        services.notification_mark_read(user=request.user, notification_id=notification.id)
        notification.refresh_from_db()
        return Response(NotificationOutputSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @extend_schema(request=None, responses={200: ReadAllOutputSerializer})
    def post(self, request):
        count = services.notification_mark_all_read(user=request.user)
        return Response({"marked_read": count}, status=status.HTTP_200_OK)
