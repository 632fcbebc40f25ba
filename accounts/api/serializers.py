from rest_framework import serializers

from accounts.models import User


class MeOutputSerializer(serializers.ModelSerializer):
    roles = serializers.SlugRelatedField(source="groups", many=True, read_only=True, slug_field="name")
    teams = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "display_name",
            "language",
            "timezone",
            "is_staff",
            "is_superuser",
            "roles",
            "teams",
            "has_two_factor",
        ]
        read_only_fields = fields


class MeInputSerializer(serializers.Serializer):
    """What people may change about themselves; anything else in the body is refused, not ignored."""

    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=User.Language.choices, required=False)
    timezone = serializers.CharField(max_length=64, required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "Dieses Feld kann hier nicht geändert werden."))
        return attrs
