from rest_framework import serializers

from ablage.api_fields import OptionalAddressesModelSerializer
from documents.models import Document
from suppliers.models import (
    Supplier,
    SupplierBankAccount,
    SupplierContact,
    SupplierTemplate,
    SupplierTemplateVersion,
)


class ContactSerializer(OptionalAddressesModelSerializer):
    class Meta:
        model = SupplierContact
        fields = [
            "id",
            "first_name",
            "last_name",
            "job_title",
            "department",
            "email",
            "phone",
            "mobile",
            "is_primary",
            "is_active",
            "notes",
        ]
        read_only_fields = ["id"]


class ContactInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False)
    job_title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    department = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    mobile = serializers.CharField(max_length=50, required=False, allow_blank=True)
    is_primary = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)


class BankAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupplierBankAccount
        fields = ["id", "iban", "bic", "bank_name", "is_primary"]


class BankAccountInputSerializer(serializers.Serializer):
    iban = serializers.CharField(max_length=42)
    bic = serializers.CharField(max_length=14, required=False, allow_blank=True, default="")
    bank_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    is_primary = serializers.BooleanField(required=False, default=False)


class TemplateVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = SupplierTemplateVersion
        fields = [
            "version",
            "name",
            "document_type",
            "field_patterns",
            "typical_layout",
            "validation_rules",
            "confidence_threshold",
            "is_active",
            "note",
            "created_by",
            "created_at",
        ]


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupplierTemplate
        fields = [
            "id",
            "name",
            "document_type",
            "field_patterns",
            "typical_layout",
            "validation_rules",
            "confidence_threshold",
            "is_active",
            "version",
            "usage_count",
            "success_count",
            "success_rate",
            "last_used_at",
        ]


class TemplateDetailSerializer(TemplateSerializer):
    versions = TemplateVersionSerializer(many=True, read_only=True)

    class Meta(TemplateSerializer.Meta):
        fields = [*TemplateSerializer.Meta.fields, "versions"]


class TemplateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    document_type = serializers.ChoiceField(choices=Document.DocumentType.choices, required=False)
    field_patterns = serializers.JSONField(required=False)
    typical_layout = serializers.JSONField(required=False)
    validation_rules = serializers.JSONField(required=False)
    confidence_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
    is_active = serializers.BooleanField(required=False)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True)


class SupplierSerializer(OptionalAddressesModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Supplier
        fields = [
            "id",
            "name",
            "legal_name",
            "supplier_number",
            "street",
            "postal_code",
            "city",
            "country",
            "vat_id",
            "tax_number",
            "commercial_register",
            "iban",
            "bic",
            "email",
            "phone",
            "website",
            "industry",
            "datev_creditor_account",
            "datev_expense_account",
            "name_variations",
            "typical_sender_emails",
            "tags",
            "notes",
            "is_active",
            "created_at",
            "updated_at",
        ]


class SupplierDetailSerializer(SupplierSerializer):
    contacts = ContactSerializer(many=True, read_only=True)
    bank_accounts = BankAccountSerializer(many=True, read_only=True)
    templates = TemplateSerializer(many=True, read_only=True)

    class Meta(SupplierSerializer.Meta):
        fields = [*SupplierSerializer.Meta.fields, "contacts", "bank_accounts", "templates"]


class SupplierInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    legal_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    supplier_number = serializers.CharField(max_length=50, required=False, allow_blank=True, allow_null=True)
    street = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    vat_id = serializers.CharField(max_length=30, required=False, allow_blank=True)
    tax_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    commercial_register = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    website = serializers.URLField(required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    datev_creditor_account = serializers.RegexField(r"^[0-9]{0,9}$", required=False, allow_blank=True)
    datev_expense_account = serializers.RegexField(r"^[0-9]{0,9}$", required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    name_variations = serializers.ListField(child=serializers.CharField(max_length=255), required=False)
    typical_sender_emails = serializers.ListField(child=serializers.CharField(max_length=255), required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)


class MergeInputSerializer(serializers.Serializer):
    duplicate = serializers.UUIDField(help_text="Der Lieferant, der in diesen übernommen und danach gelöscht wird.")


class DuplicateSerializer(serializers.Serializer):
    first = SupplierSerializer()
    second = SupplierSerializer()
    reasons = serializers.ListField(child=serializers.CharField())


class ImportInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    name = serializers.CharField()
    ok = serializers.BooleanField()
    action = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField())
    supplier_id = serializers.SerializerMethodField()

    def get_supplier_id(self, row) -> str | None:
        return str(row.supplier.pk) if row.supplier is not None and row.ok and not self.context.get("dry_run") else None


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    encoding = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    refused = serializers.IntegerField()
    rows = ImportRowSerializer(many=True)
