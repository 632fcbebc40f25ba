from django.urls import path

from workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("neu/", views.workflow_edit, name="create"),
    path("<uuid:workflow_id>/", views.workflow_detail, name="detail"),
    path("<uuid:workflow_id>/bearbeiten/", views.workflow_edit, name="edit"),
    path("<uuid:workflow_id>/starten/", views.workflow_start, name="start"),
    path("ausfuehrungen/<uuid:execution_id>/", views.execution_detail, name="execution"),
]
