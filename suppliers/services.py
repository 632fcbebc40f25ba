"""Writes to supplier master data: creation from a document, learning from corrections."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils.translation import gettext

from ablage.errors import ApplicationError
from documents.models import Document
from monitoring.services import audit_log_record
from suppliers.matching import name_key, normalize_email
from suppliers.models import (
    BIC_PATTERN,
    Supplier,
    SupplierBankAccount,
    iban_checksum_is_valid,
    normalize_iban,
)
from suppliers.selectors import document_field_values, supplier_prefill

VAT_ID_PATTERN = r"^[A-Z]{2}[0-9A-Z]{2,13}$"  # the format Supplier's check constraint enforces


def _lock_vat_id(vat_id: str) -> None:
    """Serialise creations for one USt-IdNr. until commit: there is no unique constraint
    (historic duplicates exist), so two clerks creating the same supplier at once would both
    pass the existence check. SQLite serialises writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"supplier-vat-id:{vat_id}"])


def _validated_prefill(document: Document) -> dict[str, str]:
    values = supplier_prefill(document_field_values(document))
    if not values["name"]:
        raise ApplicationError(
            gettext("Das Dokument nennt keinen Lieferantennamen; bitte zuerst das Feld „Lieferant“ ausfüllen."),
            code="supplier_name_missing",
        )
    if values["vat_id"] and not re.fullmatch(VAT_ID_PATTERN, values["vat_id"]):
        raise ApplicationError(
            gettext("Die USt-IdNr. „%(value)s“ im Dokument ist ungültig; bitte zuerst das Feld korrigieren.")
            % {"value": values["vat_id"]},
            code="invalid_vat_id",
        )
    if values["iban"] and not iban_checksum_is_valid(values["iban"]):
        raise ApplicationError(
            gettext("Die IBAN „%(value)s“ im Dokument ist ungültig; bitte zuerst das Feld korrigieren.")
            % {"value": values["iban"]},
            code="invalid_iban",
        )
    if values["bic"] and not re.fullmatch(BIC_PATTERN, values["bic"]):
        raise ApplicationError(
            gettext("Die BIC „%(value)s“ im Dokument ist ungültig; bitte zuerst das Feld korrigieren.")
            % {"value": values["bic"]},
            code="invalid_bic",
        )
    return values


@transaction.atomic
def supplier_create_from_document(*, document: Document, user) -> Supplier:
    """A new supplier from what the document prints (name, USt-IdNr., Steuernummer, IBAN, BIC),
    linked to the document. Refused when a supplier with that USt-IdNr. exists already."""
    values = _validated_prefill(document)
    if values["vat_id"]:
        _lock_vat_id(values["vat_id"])
        existing = Supplier.objects.filter(vat_id=values["vat_id"]).first()
        if existing is not None:
            raise ApplicationError(
                gettext("Ein Lieferant mit der USt-IdNr. %(vat_id)s existiert bereits: %(name)s%(inactive)s.")
                % {
                    "vat_id": values["vat_id"],
                    "name": existing.name,
                    "inactive": "" if existing.is_active else gettext(" (inaktiv)"),
                },
                code="supplier_exists",
                status_code=409,
                extra={"supplier_id": str(existing.pk)},
            )
    supplier = Supplier(**values)
    try:
        supplier.full_clean()
    except ValidationError as exc:
        messages = "; ".join(f"{key}: {' '.join(errors)}" for key, errors in exc.message_dict.items())
        raise ApplicationError(
            gettext("Der Lieferant kann so nicht angelegt werden: %(errors)s") % {"errors": messages},
            code="invalid_supplier",
        ) from exc
    supplier.save()
    if values["iban"]:
        SupplierBankAccount.objects.create(supplier=supplier, iban=values["iban"], bic=values["bic"], is_primary=True)
    previous_supplier_id = document.supplier_id
    document.supplier = supplier
    document.save(update_fields=["supplier", "updated_at"])
    audit_log_record(
        actor=user,
        action="supplier.created_from_document",
        obj=supplier,
        changes={**{key: value for key, value in values.items() if value}, "document": str(document.pk)},
        message=gettext("Angelegt aus Dokument „%(title)s“.") % {"title": document.title},
    )
    audit_log_record(
        actor=user,
        action="document.supplier_linked",
        obj=document,
        changes={"supplier": [str(previous_supplier_id) if previous_supplier_id else None, str(supplier.pk)]},
    )
    return supplier


LEARNABLE_FIELDS = ("supplier_name", "iban", "sender_email")


@transaction.atomic
def supplier_learn_from_correction(
    *, supplier: Supplier, field: str, value: str, user, document: Document | None = None
) -> bool:
    """Remember what a clerk confirmed for this supplier, so the next document matches by itself.

    ``field`` is ``supplier_name`` (a name variation), ``iban`` (a bank account) or
    ``sender_email`` (a typical sender address). ``document`` is where the correction was made
    and goes into the audit entry as the reason. Returns False when the value was known already.
    """
    if field not in LEARNABLE_FIELDS:
        raise ApplicationError(
            gettext("Aus dem Feld „%(field)s“ kann nichts über den Lieferanten gelernt werden.") % {"field": field},
            code="field_not_learnable",
        )
    # Row lock: two corrections at once must not overwrite each other's list entries.
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    reason = (
        gettext("Korrektur in Dokument „%(title)s“.") % {"title": document.title}
        if document is not None
        else gettext("Korrektur durch Benutzer.")
    )
    if field == "supplier_name":
        learned = _learn_name(supplier, value)
    elif field == "iban":
        learned = _learn_iban(supplier, value)
    else:
        learned = _learn_sender_email(supplier, value)
    if learned is None:
        return False
    changes = {"field": field, "value": learned}
    if document is not None:
        changes["document"] = str(document.pk)
    audit_log_record(actor=user, action=f"supplier.learned_{field}", obj=supplier, changes=changes, message=reason)
    return True


def _learn_name(supplier: Supplier, value: str) -> str | None:
    name = re.sub(r"\s+", " ", value or "").strip()
    if not name_key(name).core:
        raise ApplicationError(gettext("Der Name ist leer."), code="invalid_name")
    known = {name_key(existing) for existing in [supplier.name, supplier.legal_name, *supplier.name_variations]}
    if name_key(name) in known:
        return None
    supplier.name_variations = [*supplier.name_variations, name]
    supplier.save(update_fields=["name_variations", "updated_at"])
    return name


def _learn_iban(supplier: Supplier, value: str) -> str | None:
    iban = normalize_iban(value or "")
    if not iban_checksum_is_valid(iban):
        raise ApplicationError(
            gettext("Die IBAN „%(value)s“ ist ungültig (Aufbau oder Prüfziffer stimmt nicht).") % {"value": value},
            code="invalid_iban",
        )
    if supplier.bank_accounts.filter(iban=iban).exists() or normalize_iban(supplier.iban) == iban:
        return None
    # An account of another supplier is never learned: on an invoice it is the fraud signal
    # that matching reports, and learning it would silence that signal for good.
    owner = (
        Supplier.objects.exclude(pk=supplier.pk).filter(bank_accounts__iban=iban).first()
        or Supplier.objects.exclude(pk=supplier.pk).filter(iban=iban).first()
    )
    if owner is not None:
        raise ApplicationError(
            gettext("Die IBAN %(iban)s gehört zum Lieferanten %(name)s und wird nicht übernommen.")
            % {"iban": iban, "name": owner.name},
            code="iban_of_other_supplier",
        )
    SupplierBankAccount.objects.create(supplier=supplier, iban=iban, is_primary=not supplier.bank_accounts.exists())
    return iban


def _learn_sender_email(supplier: Supplier, value: str) -> str | None:
    email = normalize_email(value)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(
            gettext("„%(value)s“ ist keine gültige E-Mail-Adresse.") % {"value": value}, code="invalid_email"
        ) from exc
    known = {normalize_email(str(address)) for address in supplier.typical_sender_emails}
    if email in known:
        return None
    supplier.typical_sender_emails = [*supplier.typical_sender_emails, email]
    supplier.save(update_fields=["typical_sender_emails", "updated_at"])
    return email
