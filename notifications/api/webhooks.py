"""Webhook endpoints over the API: the caller's own (every one for staff), as on the webhook
screens; the same services check the address (SSRF), the events and the scope."""

from django.contrib.auth.models import Group
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from ablage.errors import ApplicationError
from notifications import webhooks
from notifications.api.serializers import (
    WebhookDeliveryOutputSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
)
from notifications.models import WebhookEndpoint
from notifications.selectors import deliveries_for, webhook_endpoints_for


def _get_endpoint_for_user(user, endpoint_id) -> WebhookEndpoint:
    return get_object_or_404(webhook_endpoints_for(user), id=endpoint_id)


def _input(data) -> dict:
    serializer = WebhookEndpointInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    team_id = values.pop("team")
    values["team"] = None
    if team_id is not None:
        values["team"] = Group.objects.filter(pk=team_id).first()
        if values["team"] is None:
            raise ApplicationError("Unbekanntes Team.", code="webhook_team_unknown", extra={"field": "team"})
    return values


class WebhookListCreateApi(ListAPIView):
    serializer_class = WebhookEndpointOutputSerializer

    def get_queryset(self):
        return webhook_endpoints_for(self.request.user)

    @extend_schema(request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointCreatedSerializer})
    def post(self, request):
        values = _input(request.data)
        values.pop("is_active")
        endpoint = webhooks.endpoint_create(owner=request.user, **values)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(responses=WebhookEndpointOutputSerializer)
    def get(self, request, endpoint_id):
        return Response(WebhookEndpointOutputSerializer(_get_endpoint_for_user(request.user, endpoint_id)).data)

    @extend_schema(request=WebhookEndpointInputSerializer, responses=WebhookEndpointOutputSerializer)
    def put(self, request, endpoint_id):
        endpoint = _get_endpoint_for_user(request.user, endpoint_id)
        endpoint = webhooks.endpoint_update(endpoint=endpoint, **_input(request.data))
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id):
        webhooks.endpoint_delete(endpoint=_get_endpoint_for_user(request.user, endpoint_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(ListAPIView):
    serializer_class = WebhookDeliveryOutputSerializer

    def get_queryset(self):
        endpoint = _get_endpoint_for_user(self.request.user, self.kwargs["endpoint_id"])
        return deliveries_for(self.request.user).filter(endpoint=endpoint)


class WebhookDeliveryResendApi(APIView):
    @extend_schema(request=None, responses={202: WebhookDeliveryOutputSerializer})
    def post(self, request, delivery_id):
        delivery = get_object_or_404(deliveries_for(request.user).filter(endpoint__isnull=False), id=delivery_id)
        webhooks.delivery_resend(delivery=delivery)
        delivery.refresh_from_db()
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
