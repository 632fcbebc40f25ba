from django.urls import path

from notifications.api import views, webhooks

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read-all/", views.NotificationReadAllApi.as_view(), name="notification-read-all"),
    path("notifications/<uuid:notification_id>/read/", views.NotificationReadApi.as_view(), name="notification-read"),
    path("webhooks/", webhooks.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<uuid:endpoint_id>/", webhooks.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/", webhooks.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>/resend/",
        webhooks.WebhookDeliveryResendApi.as_view(),
        name="webhook-delivery-resend",
    ),
]
