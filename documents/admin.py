"""Admin for documents and what the pipeline made of them.

Documents, jobs, OCR results and versions are created by the pipeline (a document without
its stored original would be broken), so the admin can inspect and correct them but not add
them. Status is read-only here: status changes are guarded transitions in the services.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from documents.models import (
    Category,
    Document,
    DocumentPage,
    DocumentRelation,
    DocumentVersion,
    ExtractedField,
    JobEvent,
    OCRResult,
    ProcessingJob,
    Tag,
)


class DeletedFilter(admin.SimpleListFilter):
    title = _("gelöscht")
    parameter_name = "geloescht"

    def lookups(self, request, model_admin):
        return [("nein", _("Nein")), ("ja", _("Ja"))]

    def queryset(self, request, queryset):
        if self.value() == "ja":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "nein":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class DocumentPageInline(admin.TabularInline):
    model = DocumentPage
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ("page_number", "text_source", "ocr_confidence", "width_px", "height_px", "dpi")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ExtractedFieldInline(admin.TabularInline):
    model = ExtractedField
    extra = 0
    fields = ("name", "value", "normalized_value", "confidence", "source", "page", "locked")
    readonly_fields = ("confidence", "source", "page")


class ProcessingJobInline(admin.TabularInline):
    model = ProcessingJob
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("status", "queue", "backend", "attempts", "current_stage", "error_code", "started_at", "finished_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "status",
        "document_type",
        "owner",
        "total_amount",
        "currency",
        "overall_confidence",
        "created_at",
    )
    list_filter = ("status", "document_type", "source", "decision", DeletedFilter, "category", "created_at")
    search_fields = ("title", "original_filename", "sha256", "document_number")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    raw_id_fields = ("owner", "supplier", "assigned_to", "reviewed_by")
    filter_horizontal = ("tags",)
    inlines = [DocumentPageInline, ExtractedFieldInline, ProcessingJobInline]
    actions = ["trash_selected", "restore_selected", "purge_selected"]

    def has_delete_permission(self, request, obj=None):
        # The admin's own delete would bypass the reason, the audit and the confirmation;
        # removal goes through the actions below (and the model refuses retained documents anyway).
        return False

    @admin.action(description=_("In den Papierkorb (Grund: Verwaltung)"), permissions=["change"])
    def trash_selected(self, request, queryset):
        from ablage.errors import ApplicationError
        from documents.retention_services import document_trash

        done = 0
        for document in queryset.filter(deleted_at=None):
            try:
                document_trash(document=document, user=request.user, reason="In der Verwaltung gelöscht")
            except ApplicationError as refusal:
                self.message_user(request, f"{document.title}: {refusal.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, _("%(count)d Dokument(e) im Papierkorb.") % {"count": done})

    @admin.action(description=_("Aus dem Papierkorb wiederherstellen"), permissions=["change"])
    def restore_selected(self, request, queryset):
        from ablage.errors import ApplicationError
        from documents.retention_services import document_restore

        done = 0
        for document in queryset.exclude(deleted_at=None):
            try:
                document_restore(document=document, user=request.user)
            except ApplicationError as refusal:
                self.message_user(request, f"{document.title}: {refusal.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, _("%(count)d Dokument(e) wiederhergestellt.") % {"count": done})

    @admin.action(description=_("Endgültig löschen (nur nach Ablauf der Aufbewahrung)"), permissions=["change"])
    def purge_selected(self, request, queryset):
        from ablage.errors import ApplicationError
        from documents.retention_services import document_purge

        for document in queryset:
            try:
                document_purge(document=document, user=request.user, confirmation=document.title)
            except ApplicationError as refusal:
                self.message_user(request, refusal.message, messages.ERROR)
            else:
                self.message_user(request, _("„%(title)s“ endgültig gelöscht.") % {"title": document.title})

    readonly_fields = (
        "status",
        "status_reason",
        "decision",
        "original_filename",
        "mime_type",
        "file_size",
        "sha256",
        "storage_key",
        "thumbnails",
        "archive_key",
        "complexity",
        "source",
        "source_reference",
        "content_source",
        "ocr_backend",
        "page_count",
        "document_type_confidence",
        "overall_confidence",
        "validation",
        "line_items",
        "timings_ms",
        "reviewed_by",
        "reviewed_at",
        "processed_at",
        "created_at",
        "updated_at",
        "deleted_at",
        "deletion_reason",
        "legal_hold",
        "legal_hold_reason",
    )
    fieldsets = (
        (None, {"fields": ("title", "owner", "status", "status_reason", "decision")}),
        (
            _("Beleg"),
            {
                "fields": (
                    "document_type",
                    "document_type_confidence",
                    "supplier",
                    "category",
                    "tags",
                    "document_date",
                    "document_number",
                    "total_amount",
                    "currency",
                    "overall_confidence",
                    "line_items",
                    "validation",
                )
            },
        ),
        (_("Bearbeitung"), {"fields": ("priority", "assigned_to", "reviewed_by", "reviewed_at", "processed_at")}),
        (
            _("Datei"),
            {
                "classes": ("collapse",),
                "fields": (
                    "original_filename",
                    "mime_type",
                    "file_size",
                    "sha256",
                    "storage_key",
                    "archive_key",
                    "thumbnails",
                    "source",
                    "source_reference",
                    "content_source",
                    "ocr_backend",
                    "language",
                    "page_count",
                    "complexity",
                    "timings_ms",
                ),
            },
        ),
        (_("Verlauf"), {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
        (_("Archiv"), {"fields": ("deleted_at", "deletion_reason", "legal_hold", "legal_hold_reason")}),
    )

    def get_queryset(self, request):
        # Admins must be able to find soft-deleted documents too (the "gelöscht" filter).
        return Document.all_objects.select_related("owner")

    def has_add_permission(self, request):
        return False


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "event_type", "message", "data")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ProcessingJob)
class ProcessingJobAdmin(admin.ModelAdmin):
    list_display = ("id", "document", "status", "queue", "backend", "attempts", "current_stage", "created_at")
    list_filter = ("status", "queue", "backend")
    search_fields = ("id", "document__title", "document__original_filename", "error_code")
    list_select_related = ("document",)
    raw_id_fields = ("document", "created_by")
    inlines = [JobEventInline]
    readonly_fields = (
        "document",
        "status",
        "queue",
        "backend",
        "attempts",
        "max_attempts",
        "current_stage",
        "timings_ms",
        "error_code",
        "error_message",
        "started_at",
        "finished_at",
        "created_by",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(OCRResult)
class OCRResultAdmin(admin.ModelAdmin):
    list_display = ("document", "backend", "content_source", "average_confidence", "word_count", "is_current")
    list_filter = ("backend", "content_source", "is_current")
    search_fields = ("document__title", "document__original_filename")
    list_select_related = ("document",)
    readonly_fields = (
        "document",
        "job",
        "backend",
        "content_source",
        "text",
        "average_confidence",
        "min_confidence",
        "word_count",
        "low_confidence_word_count",
        "is_current",
        "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExtractedField)
class ExtractedFieldAdmin(admin.ModelAdmin):
    list_display = ("document", "name", "value", "normalized_value", "confidence", "source", "locked")
    list_filter = ("name", "source", "locked")
    search_fields = ("document__title", "name", "value", "normalized_value")
    list_select_related = ("document",)
    raw_id_fields = ("document", "corrected_by")
    readonly_fields = ("extracted_value", "corrected_by", "corrected_at", "created_at", "updated_at")


@admin.register(DocumentVersion)
class DocumentVersionAdmin(admin.ModelAdmin):
    list_display = ("document", "version_number", "change_type", "created_by", "created_at")
    list_filter = ("change_type",)
    search_fields = ("document__title", "description")
    list_select_related = ("document", "created_by")
    readonly_fields = (
        "document",
        "version_number",
        "change_type",
        "snapshot",
        "changed_fields",
        "description",
        "created_by",
        "created_at",
    )

    # Versions are history: written by the services, never edited.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DocumentRelation)
class DocumentRelationAdmin(admin.ModelAdmin):
    list_display = ("source", "relation_type", "target", "confidence", "created_by", "created_at")
    list_filter = ("relation_type",)
    search_fields = ("source__title", "target__title", "notes")
    list_select_related = ("source", "target", "created_by")
    raw_id_fields = ("source", "target")
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


def _category_path(category: Category) -> str:
    return f"{category.parent.path}/{category.slug}" if category.parent_id else category.slug


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ("parent", "name", "slug", "description", "color", "sort_order")

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        node = parent
        while node is not None and self.instance.pk is not None:
            # Walking up from the new parent must never reach this category, or the tree gets a cycle.
            if node.pk == self.instance.pk:
                raise forms.ValidationError(_("Eine Kategorie kann nicht unter sich selbst hängen."))
            node = node.parent
        return parent


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("name", "path", "parent", "sort_order")
    search_fields = ("name", "slug", "path")
    list_select_related = ("parent",)
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("path",)

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        obj.path = _category_path(obj)
        super().save_model(request, obj, form, change)
        # A renamed or moved category moves its whole subtree: children's paths follow.
        pending = list(obj.children.all())
        while pending:
            child = pending.pop()
            child.path = _category_path(child)
            child.save(update_fields=["path", "updated_at"])
            pending.extend(child.children.all())


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "color", "description")
    search_fields = ("name",)


# E-mail intake registers its own admin (mailboxes, mails taken).
import documents.mail.admin  # noqa: E402, F401
