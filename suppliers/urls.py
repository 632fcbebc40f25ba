from django.urls import path

from suppliers import views

app_name = "suppliers"

urlpatterns = [
    path("aus-dokument/<uuid:document_id>/", views.supplier_create_from_document_view, name="create-from-document"),
]
