from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("anmelden/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("sprache/", views.language_set, name="language-set"),
]
