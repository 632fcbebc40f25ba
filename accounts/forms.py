"""Forms for signing in, the second factor, account settings and API keys."""

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ablage.errors import ApplicationError
from accounts.models import APIKey
from accounts.services import api_key_networks_clean, login_account_locked, login_address_locked, login_failure_record

LOCKED_MESSAGE = _("Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es später erneut.")


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites
    # it, and a lockout keyed on it could be dodged by sending a new value each time.
    return request.META.get("REMOTE_ADDR") or None


class LoginForm(AuthenticationForm):
    """Django's sign-in form plus lockout: checked before the password, counted after a failure.

    A locked account gets the same message as a locked address, so that the answer does
    not tell whether an e-mail address has an account.
    """

    def clean(self):
        # Addresses are stored lower-case (UserManager); "Owner@Example.com" is the same person.
        email = (self.cleaned_data.get("username") or "").strip().lower()
        self.cleaned_data["username"] = email
        ip_address = client_ip(self.request)
        if login_address_locked(ip_address=ip_address) or (email and login_account_locked(email=email)):
            raise ValidationError(LOCKED_MESSAGE, code="locked")
        try:
            return super().clean()
        except ValidationError:
            login_failure_record(email=email, ip_address=ip_address)
            raise


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code aus der Authenticator-App"), max_length=12)


class TimezoneForm(forms.Form):
    timezone = forms.ChoiceField(label=_("Zeitzone"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class APIKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Berechtigungen"),
        choices=APIKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[APIKey.Scope.READ],
    )
    expires_at = forms.DateTimeField(
        label=_("Läuft ab am"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    allowed_networks = forms.CharField(
        label=_("Erlaubte IP-Adressen/Netze"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Eine Adresse oder ein Netz (CIDR) je Zeile; leer: alle Adressen."),
    )
    rate_limit_per_minute = forms.IntegerField(
        label=_("Anfragen pro Minute"), required=False, min_value=1, max_value=100_000
    )

    def clean_allowed_networks(self):
        try:
            return api_key_networks_clean(self.cleaned_data["allowed_networks"].splitlines())
        except ApplicationError as refusal:
            raise ValidationError(refusal.message, code=refusal.code) from None
