from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("glocke/", views.notification_bell, name="bell"),
    path("alle-gelesen/", views.notification_read_all, name="read-all"),
    path("<uuid:notification_id>/", views.notification_open, name="open"),
    path("<uuid:notification_id>/gelesen/", views.notification_read, name="read"),
    path("einstellungen/", views.notification_settings, name="settings"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<uuid:endpoint_id>/", views.webhook_detail, name="webhook"),
    path("webhooks/<uuid:endpoint_id>/loeschen/", views.webhook_delete, name="webhook-delete"),
    path("webhooks/zustellungen/<uuid:delivery_id>/erneut/", views.webhook_delivery_resend, name="delivery-resend"),
]
