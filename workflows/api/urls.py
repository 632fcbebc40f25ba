from django.urls import path

from workflows.api import views

urlpatterns = [
    path("workflows/", views.WorkflowListCreateApi.as_view(), name="workflow-list"),
    path("workflows/<uuid:workflow_id>/", views.WorkflowDetailApi.as_view(), name="workflow-detail"),
    path("workflows/<uuid:workflow_id>/run/", views.WorkflowRunApi.as_view(), name="workflow-run"),
    path("workflows/<uuid:workflow_id>/dry-run/", views.WorkflowDryRunApi.as_view(), name="workflow-dry-run"),
    path("workflows/<uuid:workflow_id>/hook/", views.WorkflowHookApi.as_view(), name="workflow-hook"),
    path("workflow-executions/", views.ExecutionListApi.as_view(), name="workflow-execution-list"),
    path(
        "workflow-executions/<uuid:execution_id>/", views.ExecutionDetailApi.as_view(), name="workflow-execution-detail"
    ),
]
