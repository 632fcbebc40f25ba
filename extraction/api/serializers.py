from rest_framework import serializers

from documents.models import Document
from extraction.models import ExtractionRule, ExtractionRuleVersion
from extraction.rules import RULE_FIELDS, rule_config_errors, validation_regex_error
from suppliers.models import Supplier, SupplierTemplate


class RuleInputSerializer(serializers.Serializer):
    """A rule as typed by an admin; the config is checked for its type (``rule_config_errors``).

    For a partial update the stored rule (``context["rule"]``) supplies what was not sent.
    """

    name = serializers.CharField(max_length=255)
    field_name = serializers.ChoiceField(choices=RULE_FIELDS)
    rule_type = serializers.ChoiceField(choices=ExtractionRule.RuleType.choices)
    rule_config = serializers.JSONField()
    validation_regex = serializers.CharField(max_length=500, required=False, allow_blank=True)
    supplier = serializers.PrimaryKeyRelatedField(queryset=Supplier.objects.all(), required=False, allow_null=True)
    template = serializers.PrimaryKeyRelatedField(
        queryset=SupplierTemplate.objects.all(), required=False, allow_null=True
    )
    document_type = serializers.ChoiceField(choices=Document.DocumentType.choices, required=False, allow_blank=True)
    required = serializers.BooleanField(required=False)
    priority = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)
    is_active = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, write_only=True)

    def validate_validation_regex(self, value):
        if value and (problem := validation_regex_error(value)):
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        rule = self.context.get("rule")
        rule_type = attrs.get("rule_type", getattr(rule, "rule_type", None))
        config = attrs.get("rule_config", getattr(rule, "rule_config", None))
        if "rule_type" in attrs or "rule_config" in attrs:
            problems = rule_config_errors(rule_type, config)
            if problems:
                raise serializers.ValidationError({"rule_config": problems})
        return attrs


class RuleVersionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExtractionRuleVersion
        fields = [
            "version",
            "rule_type",
            "rule_config",
            "learned_from",
            "measurement",
            "rolled_back",
            "usage_count",
            "success_count",
            "avg_confidence",
            "performance_delta",
            "notes",
            "created_at",
        ]


class RuleOutputSerializer(serializers.ModelSerializer):
    supplier_name = serializers.CharField(source="supplier.name", read_only=True, default=None)

    class Meta:
        model = ExtractionRule
        fields = [
            "id",
            "name",
            "field_name",
            "rule_type",
            "rule_config",
            "validation_regex",
            "supplier",
            "supplier_name",
            "template",
            "document_type",
            "required",
            "priority",
            "is_active",
            "version",
            "usage_count",
            "success_count",
            "success_rate",
            "avg_confidence",
            "last_used_at",
            "last_error",
            "last_error_at",
            "learned_from",
            "created_at",
            "updated_at",
        ]


class RuleDetailOutputSerializer(RuleOutputSerializer):
    versions = RuleVersionOutputSerializer(many=True, read_only=True)

    class Meta(RuleOutputSerializer.Meta):
        fields = [*RuleOutputSerializer.Meta.fields, "versions"]


class RuleRollbackInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Die Version, deren Konfiguration zurückkommt; ohne: die vorherige."
    )


class RuleTestInputSerializer(serializers.Serializer):
    document = serializers.UUIDField()


class DraftRuleTestInputSerializer(RuleInputSerializer):
    document = serializers.UUIDField()


class RuleTestOutputSerializer(serializers.Serializer):
    rule = serializers.DictField()
    document = serializers.UUIDField()
    applies = serializers.BooleanField()
    not_applicable_reason = serializers.CharField()
    found = serializers.BooleanField()
    value = serializers.CharField()
    normalized = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    page = serializers.IntegerField(allow_null=True)
    bbox = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    note = serializers.CharField()
    error = serializers.CharField()
    current = serializers.DictField(allow_null=True)
