from django.urls import path

from system.api import views

urlpatterns = [
    path("config/", views.ConfigListApi.as_view(), name="config-list"),
    path("config/<str:key>/", views.ConfigDetailApi.as_view(), name="config-detail"),
]
