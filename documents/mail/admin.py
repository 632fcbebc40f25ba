"""Admin for e-mail intake: mailboxes (password write-only, "test connection") and the mails taken."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ablage.errors import ApplicationError
from documents.mail import imap
from documents.mail.services import mail_account_poll, mail_account_set_password, mail_account_test_connection
from documents.models import MailAccount, MailMessage


class MailAccountForm(forms.ModelForm):
    # Write-only: the stored password is never rendered back, not even masked.
    password = forms.CharField(
        label=_("Kennwort"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Wird verschlüsselt gespeichert. Leer lassen, um das gespeicherte Kennwort zu behalten."),
    )

    class Meta:
        model = MailAccount
        fields = [
            "name",
            "owner",
            "active",
            "host",
            "port",
            "security",
            "tls_ca_certificate",
            "username",
            "password",
            "folder",
            "sender_filter",
            "subject_filter",
            "intake",
            "processed_action",
            "processed_folder",
        ]

    def clean_tls_ca_certificate(self):
        pem = self.cleaned_data.get("tls_ca_certificate", "").strip()
        if pem:
            try:
                imap.ca_certificate_check(pem)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return pem

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("password") and not self.instance.imap_password:
            self.add_error("password", _("Bitte ein Kennwort angeben."))
        if cleaned.get("processed_action") == MailAccount.ProcessedAction.MOVE and not cleaned.get("processed_folder"):
            self.add_error("processed_folder", _("Zum Verschieben bitte einen Zielordner angeben."))
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("password"):
            mail_account_set_password(account=self.instance, password=self.cleaned_data["password"])
        return super().save(commit=commit)


@admin.register(MailAccount)
class MailAccountAdmin(admin.ModelAdmin):
    form = MailAccountForm
    list_display = ("name", "owner", "host", "folder", "active", "last_polled_at", "last_error")
    list_filter = ("active", "security", "processed_action")
    search_fields = ("name", "host", "username")
    list_select_related = ("owner",)
    readonly_fields = ("last_polled_at", "last_error")
    actions = ["test_connection", "poll_now"]

    @admin.action(description=_("Verbindung testen"))
    def test_connection(self, request, queryset):
        for account in queryset:
            try:
                found = mail_account_test_connection(account=account)
            except ApplicationError as exc:
                self.message_user(request, f"{account.name}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{account.name}: {found}", level=messages.SUCCESS)

    @admin.action(description=_("Jetzt abrufen"))
    def poll_now(self, request, queryset):
        for account in queryset:
            try:
                result = mail_account_poll(account=account)
            except ApplicationError as exc:
                self.message_user(request, f"{account.name}: {exc.message}", level=messages.ERROR)
                continue
            if result is None:
                self.message_user(request, f"{account.name}: wird gerade abgerufen.", level=messages.WARNING)
            else:
                self.message_user(
                    request,
                    f"{account.name}: {result.taken} Mails, {result.documents} Dokumente, "
                    f"{result.refused} abgelehnte Anhänge.",
                    level=messages.SUCCESS,
                )


@admin.register(MailMessage)
class MailMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "account", "sender", "subject")
    list_filter = ("account",)
    search_fields = ("sender", "subject", "message_id")
    list_select_related = ("account",)
    readonly_fields = ("account", "folder", "uid_validity", "uid", "message_id", "sender", "subject", "results")
    exclude = ("documents",)

    def has_add_permission(self, request):
        return False  # written by the poll only
