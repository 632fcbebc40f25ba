from django.urls import path

from notifications.api import views

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read-all/", views.NotificationReadAllApi.as_view(), name="notification-read-all"),
    path("notifications/<uuid:notification_id>/read/", views.NotificationReadApi.as_view(), name="notification-read"),
]
