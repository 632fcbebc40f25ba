from rest_framework import serializers


class ConfigOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="null bei geheimen Werten.")
    value_type = serializers.CharField()
    category = serializers.CharField()
    description = serializers.CharField()
    validation_rules = serializers.JSONField()
    is_secret = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class ConfigInputSerializer(serializers.Serializer):
    value = serializers.JSONField(help_text="Der neue Wert im Typ des Schlüssels (Zahl, Text, Ja/Nein, JSON).")
