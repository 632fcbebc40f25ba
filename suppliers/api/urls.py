from django.urls import path

from suppliers.api import views

urlpatterns = [
    path("suppliers/", views.SupplierListCreateApi.as_view(), name="supplier-list"),
    path("suppliers/duplicates/", views.SupplierDuplicatesApi.as_view(), name="supplier-duplicates"),
    path("suppliers/export/", views.SupplierExportApi.as_view(), name="supplier-export"),
    path("suppliers/import/", views.SupplierImportApi.as_view(), name="supplier-import"),
    path("suppliers/<uuid:supplier_id>/", views.SupplierDetailApi.as_view(), name="supplier-detail"),
    path("suppliers/<uuid:supplier_id>/merge/", views.SupplierMergeApi.as_view(), name="supplier-merge"),
    path("suppliers/<uuid:supplier_id>/contacts/", views.ContactListApi.as_view(), name="supplier-contacts"),
    path(
        "suppliers/<uuid:supplier_id>/contacts/<uuid:contact_id>/",
        views.ContactDetailApi.as_view(),
        name="supplier-contact",
    ),
    path(
        "suppliers/<uuid:supplier_id>/bank-accounts/", views.BankAccountListApi.as_view(), name="supplier-bank-accounts"
    ),
    path(
        "suppliers/<uuid:supplier_id>/bank-accounts/<uuid:account_id>/",
        views.BankAccountDetailApi.as_view(),
        name="supplier-bank-account",
    ),
    path("suppliers/<uuid:supplier_id>/templates/", views.TemplateListApi.as_view(), name="supplier-templates"),
    path(
        "suppliers/<uuid:supplier_id>/templates/<uuid:template_id>/",
        views.TemplateDetailApi.as_view(),
        name="supplier-template",
    ),
]
