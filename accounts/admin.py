"""Admin for people (e-mail login) and their API keys."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ablage.errors import ApplicationError
from accounts.models import APIKey, LoginFailure, Team, User, default_api_key_scopes, hash_api_key
from accounts.services import api_key_networks_clean


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "display_name")

    def clean_email(self):
        # The login lower-cases addresses (UserManager), so uniqueness must ignore case too.
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("Ein Benutzer mit dieser E-Mail-Adresse existiert bereits."))
        return email


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("Ein Benutzer mit dieser E-Mail-Adresse existiert bereits."))
        return email


class LockedFilter(admin.SimpleListFilter):
    title = _("gesperrt")
    parameter_name = "gesperrt"

    def lookups(self, request, model_admin):
        return [("ja", _("Ja")), ("nein", _("Nein"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "ja":
            return queryset.filter(locked_until__gt=now)
        if self.value() == "nein":
            return queryset.exclude(locked_until__gt=now)
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("display_name", "language", "timezone", "preferences")}),
        (_("Rollen und Rechte"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Anmeldung"), {"fields": ("last_login", "last_login_ip", "failed_login_attempts", "locked_until")}),
        (_("Verlauf"), {"fields": ("created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "last_login_ip", "created_at", "updated_at")
    list_display = ("email", "display_name", "is_active", "is_staff", "locked", "role_names", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", LockedFilter, "groups")
    search_fields = ("email", "display_name")
    ordering = ("email",)
    actions = ["unlock_users"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(boolean=True, description=_("gesperrt"))
    def locked(self, obj):
        return obj.is_locked

    @admin.display(description=_("Rollen"))
    def role_names(self, obj):
        return ", ".join(group.name for group in obj.groups.all())

    @admin.action(description=_("Sperre aufheben"))
    def unlock_users(self, request, queryset):
        count = queryset.filter(locked_until__isnull=False).update(locked_until=None, failed_login_attempts=0)
        self.message_user(
            request,
            ngettext("%(count)d Benutzer entsperrt.", "%(count)d Benutzer entsperrt.", count) % {"count": count},
            messages.SUCCESS,
        )


class APIKeyAdminForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("Berechtigungen"),
        choices=APIKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[APIKey.Scope.READ],
        required=False,
        help_text=_("Ohne Auswahl: nur Lesen."),
    )
    allowed_networks = forms.CharField(
        label=_("Erlaubte IP-Adressen/Netze"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Eine Adresse oder ein Netz (CIDR) je Zeile; leer: alle Adressen."),
    )

    class Meta:
        model = APIKey
        fields = ("user", "name", "scopes", "expires_at", "allowed_networks", "rate_limit_per_minute")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["allowed_networks"] = "\n".join(self.instance.allowed_networks)

    def clean_allowed_networks(self):
        try:
            return api_key_networks_clean(self.cleaned_data["allowed_networks"].splitlines())
        except ApplicationError as refusal:
            raise ValidationError(refusal.message) from None

    def clean_scopes(self):
        return sorted(self.cleaned_data["scopes"]) or default_api_key_scopes()

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user") or getattr(self.instance, "user", None)
        if (
            user is not None
            and APIKey.Scope.ADMIN in cleaned.get("scopes", [])
            and not (user.is_staff or user.is_superuser)
        ):
            self.add_error("scopes", _("Nur Administratoren können Schlüssel mit Verwaltungsrechten erhalten."))
        return cleaned


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Creating a key here generates it; the full key is shown once in a message and never stored."""

    form = APIKeyAdminForm
    list_display = (
        "name",
        "user",
        "prefix",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "request_count",
        "revoked_at",
        "usable",
    )
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("name", "prefix", "user__email")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = (
        "prefix",
        "key_hash",
        "last_used_at",
        "last_used_ip",
        "request_count",
        "revoked_at",
        "created_at",
    )
    actions = ["revoke_keys"]

    _EDITABLE = ("scopes", "expires_at", "allowed_networks", "rate_limit_per_minute")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", *self._EDITABLE)
        return ("user", "name", "prefix", "key_hash", *self._EDITABLE, *self.readonly_fields[2:])

    @admin.display(description=_("Berechtigungen"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The owner of a key never changes: a key handed to an integrator must keep acting as the same person.
        return (*self.readonly_fields, "user")

    @admin.display(boolean=True, description=_("nutzbar"))
    def usable(self, obj):
        return obj.is_usable

    def save_model(self, request, obj, form, change):
        if not change:
            prefix, raw_key = APIKey.generate_raw_key()
            obj.prefix = prefix
            obj.key_hash = hash_api_key(raw_key)
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                _("Neuer API-Schlüssel „%(name)s“: %(key)s – bitte jetzt kopieren, er wird nicht erneut angezeigt.")
                % {"name": obj.name, "key": raw_key},
                messages.WARNING,
            )

    @admin.action(description=_("Ausgewählte Schlüssel widerrufen"))
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d Schlüssel widerrufen.", "%(count)d Schlüssel widerrufen.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count")
    search_fields = ("name", "members__email")
    filter_horizontal = ("members",)

    @admin.display(description=_("Mitglieder"))
    def member_count(self, obj):
        return obj.members.count()


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Read-only: rows are written by the sign-in and expire with the lockout window."""

    list_display = ("created_at", "email", "ip_address")
    search_fields = ("email", "ip_address")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
