from django.urls import path

from monitoring.api import views

urlpatterns = [
    path("health/", views.HealthApi.as_view(), name="health"),
    path("audit-log/", views.AuditLogApi.as_view(), name="audit-log"),
]
