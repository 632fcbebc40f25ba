from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.services import audit_log_record
from suppliers import services
from suppliers.models import (
    Supplier,
    SupplierBankAccount,
    SupplierContact,
    SupplierLearningEvent,
    SupplierTemplate,
    SupplierTemplateVersion,
)

TIMESTAMP_FIELDS = ("id", "created_at", "updated_at")


class SupplierContactInline(admin.TabularInline):
    model = SupplierContact
    extra = 0
    fields = (
        "first_name",
        "last_name",
        "job_title",
        "department",
        "email",
        "phone",
        "mobile",
        "is_primary",
        "is_active",
    )


class SupplierBankAccountInline(admin.TabularInline):
    model = SupplierBankAccount
    extra = 0
    fields = ("iban", "bic", "bank_name", "is_primary")


class SupplierTemplateInline(admin.TabularInline):
    model = SupplierTemplate
    extra = 0
    # Patterns and layout are edited on the template's own page; the list is for overview.
    fields = ("name", "document_type", "is_active", "version", "usage_count", "last_used_at")
    readonly_fields = ("usage_count", "last_used_at")
    show_change_link = True


class SupplierTemplateVersionInline(admin.TabularInline):
    model = SupplierTemplateVersion
    extra = 0
    fields = ("version", "created_at", "created_by", "note", "confidence_threshold", "is_active", "field_patterns")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # versions are written by the template services only


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "supplier_number", "city", "vat_id", "is_active", "document_count")
    list_filter = ("is_active", "country", "industry")
    search_fields = ("name", "legal_name", "supplier_number", "vat_id", "iban", "bank_accounts__iban", "email")
    readonly_fields = (*TIMESTAMP_FIELDS, "deleted_at", "document_count")
    date_hierarchy = "created_at"
    inlines = (SupplierContactInline, SupplierBankAccountInline, SupplierTemplateInline)
    actions = ("soft_delete_selected",)

    def get_queryset(self, request):
        # Documents are soft-deleted too; a deleted document no longer counts for its supplier.
        return (
            super()
            .get_queryset(request)
            .annotate(document_count=Count("documents", filter=Q(documents__deleted_at__isnull=True), distinct=True))
        )

    @admin.display(description=_("Dokumente"), ordering="document_count")
    def document_count(self, obj):
        return obj.document_count

    def has_delete_permission(self, request, obj=None):
        # A hard delete would detach every document from its supplier; suppliers are only
        # ever soft-deleted (see the action below).
        return False

    @admin.action(description=_("Ausgewählte Lieferanten löschen (bleiben im Archiv erhalten)"), permissions=["change"])
    def soft_delete_selected(self, request, queryset):
        # The changelist queryset carries the document-count aggregate; work on plain rows.
        suppliers = list(Supplier.objects.filter(pk__in=list(queryset.values_list("pk", flat=True))))
        with transaction.atomic():
            updated = Supplier.objects.filter(pk__in=[s.pk for s in suppliers]).update(
                deleted_at=timezone.now(), is_active=False
            )
            for supplier in suppliers:
                audit_log_record(actor=request.user, action="supplier.soft_deleted", obj=supplier)
        self.message_user(
            request,
            ngettext("%(count)d Lieferant gelöscht.", "%(count)d Lieferanten gelöscht.", updated) % {"count": updated},
            messages.SUCCESS,
        )


@admin.register(SupplierContact)
class SupplierContactAdmin(admin.ModelAdmin):
    list_display = ("__str__", "supplier", "job_title", "email", "phone", "is_primary", "is_active")
    list_filter = ("is_active", "is_primary")
    list_select_related = ("supplier",)
    search_fields = ("first_name", "last_name", "email", "phone", "supplier__name")
    autocomplete_fields = ("supplier",)
    readonly_fields = TIMESTAMP_FIELDS


@admin.register(SupplierBankAccount)
class SupplierBankAccountAdmin(admin.ModelAdmin):
    list_display = ("__str__", "supplier", "bic", "bank_name", "is_primary")
    list_filter = ("is_primary",)
    list_select_related = ("supplier",)
    search_fields = ("iban", "bic", "bank_name", "supplier__name")
    autocomplete_fields = ("supplier",)
    readonly_fields = TIMESTAMP_FIELDS


@admin.register(SupplierTemplate)
class SupplierTemplateAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "supplier",
        "document_type",
        "is_active",
        "version",
        "confidence_threshold",
        "usage_count",
        "success_rate",
        "last_used_at",
    )
    list_filter = ("document_type", "is_active")
    list_select_related = ("supplier",)
    search_fields = ("name", "supplier__name")
    autocomplete_fields = ("supplier",)
    readonly_fields = (
        *TIMESTAMP_FIELDS,
        "version",
        "usage_count",
        "success_count",
        "success_rate",
        "last_used_at",
        "created_by",
    )
    date_hierarchy = "created_at"
    inlines = (SupplierTemplateVersionInline,)

    def save_model(self, request, obj, form, change):
        # Through the services, so that an edit in admin leaves a version behind like any other.
        data = {key: getattr(obj, key) for key in services.TEMPLATE_FIELDS}
        if change:
            services.supplier_template_update(template=obj, user=request.user, data=data)
        else:
            obj.pk = services.supplier_template_create(supplier=obj.supplier, user=request.user, data=data).pk
        obj.refresh_from_db()


@admin.register(SupplierLearningEvent)
class SupplierLearningEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "supplier", "field", "value", "user", "document")
    list_filter = ("field",)
    list_select_related = ("supplier", "user", "document")
    search_fields = ("value", "supplier__name")
    readonly_fields = ("supplier", "document", "field", "value", "reason", "user", *TIMESTAMP_FIELDS)

    def has_add_permission(self, request):
        return False  # written by supplier_learn_from_correction only
