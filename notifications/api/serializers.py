from rest_framework import serializers

from notifications.models import Notification, WebhookDelivery, WebhookEndpoint


class NotificationOutputSerializer(serializers.ModelSerializer):
    document_id = serializers.UUIDField(allow_null=True, read_only=True)
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "type", "title", "message", "document_id", "created_at", "read_at", "is_read", "expires_at"]
        read_only_fields = fields


class ReadAllOutputSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    owner = serializers.EmailField(source="owner.email", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "name",
            "url",
            "events",
            "scope",
            "team",
            "is_active",
            "owner",
            "failure_count",
            "last_success_at",
            "last_failure_at",
            "created_at",
        ]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointOutputSerializer):
    """The answer to creating an endpoint: the signing secret, for the receiver's configuration."""

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices), max_length=50)
    scope = serializers.ChoiceField(choices=WebhookEndpoint.Scope.choices, default=WebhookEndpoint.Scope.OWN)
    team = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    is_active = serializers.BooleanField(default=True)


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer):
    document_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "document_id",
            "status",
            "attempts",
            "max_attempts",
            "response_status",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields
