"""Supplier master data: suppliers, their contacts, bank accounts and layout templates."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel, SoftDeleteModel
from documents.models import Document


class Supplier(SoftDeleteModel):
    """A company that sends us documents.

    States: active <-> inactive (``is_active``); active/inactive -> merged (``deleted_at`` and
    ``merged_into`` set by ``supplier_merge``, terminal). Soft-deleted rows keep their history.
    """

    name = models.CharField(_("Name"), max_length=255, db_index=True)
    legal_name = models.CharField(_("Firmenname"), max_length=255, blank=True)
    supplier_number = models.CharField(_("Lieferantennummer"), max_length=50, null=True, blank=True, unique=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    website = models.URLField(blank=True)
    street = models.CharField(_("Straße"), max_length=255, blank=True)
    postal_code = models.CharField(_("PLZ"), max_length=20, blank=True)
    city = models.CharField(_("Ort"), max_length=100, blank=True)
    country = models.CharField(_("Land"), max_length=2, default="DE")
    tax_number = models.CharField(_("Steuernummer"), max_length=50, blank=True)
    vat_id = models.CharField(_("USt-IdNr."), max_length=20, blank=True, db_index=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, db_index=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    commercial_register = models.CharField(_("Handelsregister"), max_length=100, blank=True)
    industry = models.CharField(_("Branche"), max_length=100, blank=True)
    # DATEV export: the supplier's creditor account (Kreditor) and the usual expense account.
    datev_creditor_account = models.CharField(_("DATEV-Kreditorenkonto"), max_length=9, blank=True)
    datev_expense_account = models.CharField(_("DATEV-Aufwandskonto"), max_length=9, blank=True)
    name_variations = models.JSONField(_("Namensvarianten"), default=list, blank=True)
    typical_sender_emails = models.JSONField(default=list, blank=True)
    notes = models.TextField(_("Notizen"), blank=True)
    is_active = models.BooleanField(_("aktiv"), default=True)
    tags = models.ManyToManyField("documents.Tag", blank=True, related_name="suppliers", verbose_name=_("Schlagwörter"))
    # Set with ``deleted_at`` when this row was merged into another (``supplier_merge``), so a
    # link to the old supplier can still say where its documents went.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from", editable=False
    )

    class Meta:
        verbose_name = _("Lieferant")
        verbose_name_plural = _("Lieferanten")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vat_id="") | Q(vat_id__regex=r"^[A-Z]{2}[0-9A-Z]{2,13}$"), name="supplier_vat_id_format"
            ),
        ]

    def __str__(self):
        return self.name


class SupplierContact(BaseModel):
    """A person at a supplier we can ask about a document (Ansprechpartner).

    States: active <-> inactive (``is_active``, a person who left stays for history);
    at most one contact per supplier is primary (the flag moves, it is never shared).

    Not yet used by any code path: read by the review screen once it shows whom to ask
    about a document (review issue); until then maintained in admin.
    """

    supplier = models.ForeignKey(
        Supplier, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("Lieferant")
    )
    first_name = models.CharField(_("Vorname"), max_length=100, blank=True)
    last_name = models.CharField(_("Nachname"), max_length=100)
    job_title = models.CharField(_("Position"), max_length=100, blank=True)
    department = models.CharField(_("Abteilung"), max_length=100, blank=True)
    email = models.EmailField(_("E-Mail"), blank=True)
    phone = models.CharField(_("Telefon"), max_length=50, blank=True)
    mobile = models.CharField(_("Mobil"), max_length=50, blank=True)
    is_primary = models.BooleanField(_("Hauptansprechpartner"), default=False)
    is_active = models.BooleanField(_("aktiv"), default=True)
    notes = models.TextField(_("Notizen"), blank=True)

    class Meta:
        verbose_name = _("Ansprechpartner")
        verbose_name_plural = _("Ansprechpartner")
        ordering = ["supplier", "-is_primary", "last_name", "first_name"]
        constraints = [
            models.CheckConstraint(condition=~Q(last_name=""), name="supplier_contact_last_name_required"),
            models.UniqueConstraint(
                fields=["supplier"], condition=Q(is_primary=True), name="supplier_contact_one_primary"
            ),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


# ISO 13616 structure after normalisation (upper case, no spaces): country, two check
# digits, 11..30 alphanumerics (the shortest national BBAN, Norway, has 11).
IBAN_PATTERN = r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"
# ISO 9362: bank (4 letters), country (2 letters), location (2), optional branch (3).
BIC_PATTERN = r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$"


def normalize_iban(value: str) -> str:
    """``"de89 3704 0044 0532 0130 00"`` -> ``"DE89370400440532013000"``."""
    return "".join(value.split()).upper()


def iban_checksum_is_valid(iban: str) -> bool:
    """ISO 7064 MOD 97-10 over a normalised IBAN: move the first four characters to the
    end, replace letters by 10..35, and the number modulo 97 must be 1."""
    if not re.fullmatch(IBAN_PATTERN, iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


VAT_ID_PATTERN = r"^[A-Z]{2}[0-9A-Z]{2,13}$"  # the format Supplier's check constraint enforces


def normalize_vat_id(value: str) -> str:
    """``"de 123.456.789"`` -> ``"DE123456789"``."""
    return re.sub(r"[\s.\-/]", "", value or "").upper()


def vat_id_is_valid(vat_id: str) -> bool:
    """Format of a normalised USt-IdNr.; for German ones also the check digit (ISO 7064
    MOD 11,10 over the first eight digits), which catches most typing errors. Other
    countries' check digits differ per country and are left to the VIES query."""
    if not re.fullmatch(VAT_ID_PATTERN, vat_id):
        return False
    if not vat_id.startswith("DE"):
        return True
    if not re.fullmatch(r"DE[0-9]{9}", vat_id):
        return False
    product = 10
    for digit in vat_id[2:10]:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return str(0 if check == 10 else check) == vat_id[10]


class SupplierBankAccount(BaseModel):
    """One bank account of a supplier; suppliers often print several on an invoice.

    ``iban`` is stored normalised (upper case, no spaces) so that an IBAN read from a
    document can be matched with one equality lookup. At most one account per supplier is
    primary; the flag moves, it is never shared. No other states.

    Not yet used by any code path: read by supplier detection (match by IBAN) and the
    payment-data check of extraction once those issues land; until then maintained in admin.
    ``Supplier.iban`` stays the single account known from the first import.
    """

    supplier = models.ForeignKey(
        Supplier, on_delete=models.CASCADE, related_name="bank_accounts", verbose_name=_("Lieferant")
    )
    iban = models.CharField(_("IBAN"), max_length=34)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    bank_name = models.CharField(_("Bank"), max_length=255, blank=True)
    is_primary = models.BooleanField(_("Hauptkonto"), default=False)

    class Meta:
        verbose_name = _("Bankverbindung")
        verbose_name_plural = _("Bankverbindungen")
        ordering = ["supplier", "-is_primary", "iban"]
        constraints = [
            # IBAN first: the index behind this constraint also serves supplier detection,
            # "which supplier owns the IBAN printed on this invoice?".
            models.UniqueConstraint(fields=["iban", "supplier"], name="supplier_bank_account_iban_unique"),
            models.CheckConstraint(condition=Q(iban__regex=IBAN_PATTERN), name="supplier_bank_account_iban_format"),
            models.CheckConstraint(
                condition=Q(bic="") | Q(bic__regex=BIC_PATTERN), name="supplier_bank_account_bic_format"
            ),
            models.UniqueConstraint(
                fields=["supplier"], condition=Q(is_primary=True), name="supplier_bank_account_one_primary"
            ),
        ]

    def __str__(self):
        # Grouped in fours as printed on invoices, so clerks can compare at a glance.
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))

    def clean(self):
        # Normalise before the constraints are validated: admins paste IBANs with spaces.
        self.iban = normalize_iban(self.iban)
        self.bic = "".join(self.bic.split()).upper()
        if self.iban and not iban_checksum_is_valid(self.iban):
            raise ValidationError(
                {"iban": _("Die IBAN ist ungültig (Aufbau oder Prüfziffer stimmt nicht).")}, code="invalid_iban"
            )


class SupplierTemplate(BaseModel):
    """How one supplier lays out one document type: field patterns, layout, checks.

    ``field_patterns`` maps a field name to ``{"pattern": regex with one group, "position":
    {"x", "y", "tolerance"}, "validation": regex, "data_type": ...}``. ``confidence_threshold``
    and ``success_rate`` are fractions 0..1 (the seed used percentages).
    States: active <-> inactive; at most one active template per supplier and document type,
    so extraction never has to choose. ``version`` counts edits; each edit leaves a
    ``SupplierTemplateVersion`` behind (``supplier_template_update``). ``usage_count`` and
    ``success_count`` grow as documents of this supplier and type are approved
    (``supplier_document_reviewed``); a review without corrections is a success.
    """

    supplier = models.ForeignKey(
        Supplier, on_delete=models.CASCADE, related_name="templates", verbose_name=_("Lieferant")
    )
    name = models.CharField(_("Name"), max_length=255)
    document_type = models.CharField(_("Dokumenttyp"), max_length=20, choices=Document.DocumentType.choices)
    field_patterns = models.JSONField(_("Feldmuster"), default=dict, blank=True)
    typical_layout = models.JSONField(_("Typisches Layout"), default=dict, blank=True)
    validation_rules = models.JSONField(_("Prüfregeln"), default=dict, blank=True)
    confidence_threshold = models.FloatField(_("Konfidenzschwelle"), default=0.8)
    usage_count = models.IntegerField(_("Verwendungen"), default=0)
    success_count = models.IntegerField(_("Erfolgreiche Verwendungen"), default=0)
    success_rate = models.FloatField(_("Erfolgsquote"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("Zuletzt verwendet"), null=True, blank=True)
    is_active = models.BooleanField(_("aktiv"), default=True)
    version = models.IntegerField(_("Version"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Angelegt von"),
    )

    class Meta:
        verbose_name = _("Lieferantenvorlage")
        verbose_name_plural = _("Lieferantenvorlagen")
        ordering = ["supplier", "document_type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "name"], name="supplier_template_name_unique_per_supplier"),
            # Also the index for "the active template for this supplier and document type".
            models.UniqueConstraint(
                fields=["supplier", "document_type"],
                condition=Q(is_active=True),
                name="supplier_template_one_active_per_type",
            ),
            models.CheckConstraint(
                condition=Q(confidence_threshold__gte=0, confidence_threshold__lte=1),
                name="supplier_template_confidence_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(success_rate__isnull=True) | Q(success_rate__gte=0, success_rate__lte=1),
                name="supplier_template_success_rate_range",
            ),
            models.CheckConstraint(condition=Q(usage_count__gte=0), name="supplier_template_usage_count_non_negative"),
            models.CheckConstraint(condition=Q(version__gte=1), name="supplier_template_version_positive"),
            # A negative usage count is usage_count_non_negative's to report, not this one's.
            models.CheckConstraint(
                condition=Q(success_count__gte=0) & (Q(success_count__lte=F("usage_count")) | Q(usage_count__lt=0)),
                name="supplier_template_success_count_range",
            ),
        ]

    def __str__(self):
        return f"{self.supplier} – {self.name}"

    def clean(self):
        errors = validate_field_patterns(self.field_patterns)
        for key in ("typical_layout", "validation_rules"):
            if not isinstance(getattr(self, key), dict):
                errors.setdefault(key, []).append(_("Erwartet wird ein JSON-Objekt."))
        if errors:
            raise ValidationError(errors)


def validate_field_patterns(field_patterns) -> dict[str, list]:
    """Errors in a template's ``field_patterns``, keyed for ``ValidationError`` (empty = valid).

    Regexes are compiled here so that a broken pattern is refused in the form where it was
    typed, not discovered by the first document that hits the template.
    """
    if not isinstance(field_patterns, dict):
        return {"field_patterns": [_("Erwartet wird ein JSON-Objekt {Feldname: {pattern: ...}}.")]}
    messages = []
    for field_name, spec in field_patterns.items():
        if not isinstance(spec, dict):
            messages.append(gettext("Feld „%(field)s“: erwartet wird ein JSON-Objekt.") % {"field": field_name})
            continue
        for key in ("pattern", "validation"):
            if key not in spec:
                continue
            try:
                re.compile(spec[key])
            except (re.error, TypeError) as exc:
                messages.append(
                    gettext("Feld „%(field)s“, %(key)s: kein gültiger regulärer Ausdruck (%(error)s).")
                    % {"field": field_name, "key": key, "error": exc}
                )
    return {"field_patterns": messages} if messages else {}


class SupplierTemplateVersion(BaseModel):
    """A template as it was at ``version``; written on every change, never edited afterwards.

    No state transitions: the history is append-only, so an edit that made extraction worse
    can be compared with what came before.
    """

    template = models.ForeignKey(
        SupplierTemplate, on_delete=models.CASCADE, related_name="versions", verbose_name=_("Vorlage")
    )
    version = models.IntegerField(_("Version"))
    name = models.CharField(_("Name"), max_length=255)
    document_type = models.CharField(_("Dokumenttyp"), max_length=20, choices=Document.DocumentType.choices)
    field_patterns = models.JSONField(_("Feldmuster"), default=dict)
    typical_layout = models.JSONField(_("Typisches Layout"), default=dict)
    validation_rules = models.JSONField(_("Prüfregeln"), default=dict)
    confidence_threshold = models.FloatField(_("Konfidenzschwelle"))
    is_active = models.BooleanField(_("aktiv"))
    note = models.CharField(_("Anlass"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("Vorlagenversion")
        verbose_name_plural = _("Vorlagenversionen")
        ordering = ["template", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="supplier_template_version_unique"),
        ]

    def __str__(self):
        return f"{self.template} v{self.version}"


class SupplierLearningEvent(BaseModel):
    """Why the supplier's master data grew by itself: a value learned from a clerk's work on a
    document (a name variation, a sender address, a bank account), who did it and where.

    No state transitions: one row per learned value, never edited.
    """

    class Field(models.TextChoices):
        NAME = "supplier_name", _("Namensvariante")
        IBAN = "iban", _("Bankverbindung")
        SENDER_EMAIL = "sender_email", _("Absenderadresse")

    supplier = models.ForeignKey(
        Supplier, on_delete=models.CASCADE, related_name="learning_events", verbose_name=_("Lieferant")
    )
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("Dokument")
    )
    field = models.CharField(_("Feld"), max_length=20, choices=Field.choices)
    value = models.CharField(_("Wert"), max_length=255)
    reason = models.CharField(_("Anlass"), max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("Gelernter Lieferantenwert")
        verbose_name_plural = _("Gelernte Lieferantenwerte")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.supplier}: {self.get_field_display()} {self.value}"
