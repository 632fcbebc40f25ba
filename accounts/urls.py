from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("anmelden/", views.SignInView.as_view(), name="login"),
    path("anmelden/zwei-faktor/", views.two_factor_verify, name="two-factor"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("sprache/", views.language_set, name="language-set"),
    path("einstellungen/", views.account_settings, name="settings"),
    path("einstellungen/zeitzone/", views.timezone_set, name="timezone-set"),
    path("einstellungen/zwei-faktor/start/", views.two_factor_start, name="two-factor-start"),
    path("einstellungen/zwei-faktor/bestaetigen/", views.two_factor_confirm, name="two-factor-confirm"),
    path("einstellungen/zwei-faktor/abschalten/", views.two_factor_disable, name="two-factor-disable"),
    path("einstellungen/api-schluessel/", views.api_key_create_view, name="api-key-create"),
    path("einstellungen/api-schluessel/<uuid:key_id>/widerrufen/", views.api_key_revoke_view, name="api-key-revoke"),
]

# Password reset by e-mail: Django's views, German templates.
urlpatterns += [
    path(
        "passwort-vergessen/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password-reset-done"),
        ),
        name="password-reset",
    ),
    path(
        "passwort-vergessen/gesendet/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "passwort-neu/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "passwort-neu/fertig/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password-reset-complete",
    ),
]
