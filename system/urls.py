from django.urls import path

from system import views

app_name = "system"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("konfiguration/<str:key>/", views.config_update, name="config-update"),
    path("schalter/<str:key>/", views.flag_update, name="flag-update"),
    path("aufgaben/<str:name>/", views.task_toggle, name="task-toggle"),
]
