from django.urls import path

from suppliers import views

app_name = "suppliers"

urlpatterns = [
    path("", views.supplier_list_page, name="list"),
    path("neu/", views.supplier_create, name="create"),
    path("dubletten/", views.supplier_duplicates_page, name="duplicates"),
    path("import/", views.supplier_import, name="import"),
    path("export.csv", views.supplier_export, name="export"),
    path("<uuid:supplier_id>/", views.supplier_detail, name="detail"),
    path("<uuid:supplier_id>/bearbeiten/", views.supplier_edit, name="edit"),
    path("<uuid:supplier_id>/zusammenfuehren/", views.supplier_merge, name="merge"),
    path("<uuid:supplier_id>/ansprechpartner/", views.supplier_contact_add, name="contact-add"),
    path("<uuid:supplier_id>/ansprechpartner/<uuid:contact_id>/", views.supplier_contact_edit, name="contact-edit"),
    path(
        "<uuid:supplier_id>/ansprechpartner/<uuid:contact_id>/entfernen/",
        views.supplier_contact_delete,
        name="contact-delete",
    ),
    path("<uuid:supplier_id>/konten/", views.supplier_bank_account_add, name="bank-account-add"),
    path(
        "<uuid:supplier_id>/konten/<uuid:account_id>/", views.supplier_bank_account_action, name="bank-account-action"
    ),
    path("<uuid:supplier_id>/vorlagen/neu/", views.supplier_template_edit, name="template-create"),
    path("<uuid:supplier_id>/vorlagen/<uuid:template_id>/", views.supplier_template_edit, name="template"),
    path("aus-dokument/<uuid:document_id>/", views.supplier_create_from_document_view, name="create-from-document"),
]
