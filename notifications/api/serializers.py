from rest_framework import serializers

from notifications.models import Notification


class NotificationOutputSerializer(serializers.ModelSerializer):
    document_id = serializers.UUIDField(allow_null=True, read_only=True)
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "type", "title", "message", "document_id", "created_at", "read_at", "is_read", "expires_at"]
        read_only_fields = fields


class ReadAllOutputSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()
