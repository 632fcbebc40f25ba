"""Forms of the settings page and the webhook screens; they parse input, services decide."""

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from notifications.models import NotificationPreference, WebhookEndpoint


class QuietHoursForm(forms.Form):
    quiet_hours_start = forms.TimeField(label=_("Ruhezeit von"), required=False)
    quiet_hours_end = forms.TimeField(label=_("Ruhezeit bis"), required=False)


class PreferenceRowForm(forms.Form):
    in_app = forms.BooleanField(label=_("In der Anwendung"), required=False)
    email = forms.BooleanField(label=_("E-Mail"), required=False)
    webhook = forms.BooleanField(label=_("Webhook"), required=False)
    digest = forms.ChoiceField(label=_("Zusammenfassung"), choices=NotificationPreference.Digest.choices)
    only_failures = forms.BooleanField(label=_("nur Fehlschläge"), required=False)
    confidence_below_percent = forms.IntegerField(
        label=_("nur bei Konfidenz unter (%)"), required=False, min_value=1, max_value=100
    )


class WebhookEndpointForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(label=_("URL"), max_length=500)
    events = forms.MultipleChoiceField(
        label=_("Ereignisse"), choices=WebhookEndpoint.Event.choices, widget=forms.CheckboxSelectMultiple
    )
    scope = forms.ChoiceField(label=_("Umfang"), choices=WebhookEndpoint.Scope.choices)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Group.objects.none(), required=False)
    is_active = forms.BooleanField(label=_("aktiv"), required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Group.objects.all() if user.is_superuser else user.groups.all()
