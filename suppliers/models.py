"""Supplier master data."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ablage.models import SoftDeleteModel


class Supplier(SoftDeleteModel):
    """A company that sends us documents.

    States: active <-> inactive (``is_active``); soft-deleted rows keep their documents' history.
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
    name_variations = models.JSONField(_("Namensvarianten"), default=list, blank=True)
    typical_sender_emails = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(_("aktiv"), default=True)

    class Meta:
        verbose_name = _("Lieferant")
        verbose_name_plural = _("Lieferanten")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(vat_id="") | Q(vat_id__regex=r"^[A-Z]{2}[0-9A-Z]{2,13}$"),
                                   name="supplier_vat_id_format"),
        ]

    def __str__(self):
        return self.name
