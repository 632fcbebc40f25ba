"""Writes to supplier master data: suppliers, contacts, bank accounts, templates (versioned),
creation from a document, learning from review, and merging duplicates."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from ablage.errors import ApplicationError
from documents.models import Document, ExtractedField
from monitoring.services import audit_log_record
from suppliers.matching import name_key, normalize_email, normalize_vat_id
from suppliers.models import (
    BIC_PATTERN,
    VAT_ID_PATTERN,
    Supplier,
    SupplierBankAccount,
    SupplierContact,
    SupplierLearningEvent,
    SupplierTemplate,
    SupplierTemplateVersion,
    iban_checksum_is_valid,
    normalize_iban,
    vat_id_is_valid,
)
from suppliers.selectors import document_field_values, document_sender_email, supplier_prefill


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
    SupplierLearningEvent.objects.create(
        supplier=supplier, document=document, field=field, value=learned[:255], reason=reason[:255], user=user
    )
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


# --- master data edited by people ----------------------------------------------------------------

SUPPLIER_FIELDS = (
    "name",
    "legal_name",
    "supplier_number",
    "street",
    "postal_code",
    "city",
    "country",
    "vat_id",
    "tax_number",
    "commercial_register",
    "email",
    "phone",
    "website",
    "industry",
    "datev_creditor_account",
    "datev_expense_account",
    "notes",
    "is_active",
)


def _refusal_from(exc: ValidationError, what: str) -> ApplicationError:
    messages = "; ".join(f"{key}: {' '.join(errors)}" for key, errors in exc.message_dict.items())
    return ApplicationError(
        gettext("%(what)s kann so nicht gespeichert werden: %(errors)s") % {"what": what, "errors": messages},
        code="invalid",
        extra={"fields": exc.message_dict},
    )


def _clean_lines(values, *, email=False) -> list[str]:
    """A list typed as lines or given as a list: trimmed, blanks and repeats dropped."""
    if isinstance(values, str):
        values = values.splitlines()
    result: list[str] = []
    for value in values or []:
        value = re.sub(r"\s+", " ", str(value)).strip()
        if email:
            normalized = normalize_email(value)
            if value and not normalized:
                raise ApplicationError(
                    gettext("„%(value)s“ ist keine gültige E-Mail-Adresse.") % {"value": value},
                    code="invalid_email",
                    extra={"fields": {"typical_sender_emails": [value]}},
                )
            value = normalized
        if value and value.casefold() not in {known.casefold() for known in result}:
            result.append(value)
    return result


def _set_tags(supplier: Supplier, names) -> None:
    from documents.models import Tag

    tags = [Tag.objects.get_or_create(name=name[:100])[0] for name in _clean_lines(names)]
    supplier.tags.set(tags)


def _apply_supplier_data(supplier: Supplier, data: dict) -> dict:
    """Copy the editable fields onto ``supplier``; returns {field: [before, after]} of changes."""
    changes = {}
    for key, value in data.items():
        if key in SUPPLIER_FIELDS:
            if isinstance(value, str):
                value = value.strip()
            if key == "vat_id":
                value = normalize_vat_id(value)
            elif key == "supplier_number":
                value = value or None  # unique, so "no number" must be NULL, not ""
            elif key == "country":
                value = (value or "DE").upper()
        elif key == "name_variations":
            value = _clean_lines(value)
        elif key == "typical_sender_emails":
            value = _clean_lines(value, email=True)
        else:
            continue
        before = getattr(supplier, key)
        if before != value:
            changes[key] = [before, value]
            setattr(supplier, key, value)
    return changes


def _check_identifiers(supplier: Supplier) -> None:
    if supplier.vat_id and not vat_id_is_valid(supplier.vat_id):
        raise ApplicationError(
            gettext("Die USt-IdNr. „%(value)s“ ist ungültig (Aufbau oder Prüfziffer).") % {"value": supplier.vat_id},
            code="invalid_vat_id",
            extra={"fields": {"vat_id": [gettext("Ungültige USt-IdNr.")]}},
        )


@transaction.atomic
def supplier_create(*, user, data: dict, tags=None) -> Supplier:
    """A supplier typed in by a clerk. ``data`` holds ``SUPPLIER_FIELDS`` plus the lists
    ``name_variations`` and ``typical_sender_emails``; ``tags`` are tag names."""
    supplier = Supplier()
    _apply_supplier_data(supplier, data)
    _check_identifiers(supplier)
    try:
        supplier.full_clean(exclude=["tags"])
    except ValidationError as exc:
        raise _refusal_from(exc, gettext("Der Lieferant")) from exc
    supplier.save()
    if tags is not None:
        _set_tags(supplier, tags)
    audit_log_record(
        actor=user,
        action="supplier.created",
        obj=supplier,
        changes={key: value for key, value in data.items() if value not in ("", None, [])},
    )
    return supplier


@transaction.atomic
def supplier_update(*, supplier: Supplier, user, data: dict, tags=None) -> Supplier:
    """Edit master data; only what changed is audited."""
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    changes = _apply_supplier_data(supplier, data)
    if "vat_id" in changes:
        _check_identifiers(supplier)
    try:
        supplier.full_clean(exclude=["tags"])
    except ValidationError as exc:
        raise _refusal_from(exc, gettext("Der Lieferant")) from exc
    supplier.save()
    if tags is not None:
        before = sorted(supplier.tags.values_list("name", flat=True))
        _set_tags(supplier, tags)
        after = sorted(supplier.tags.values_list("name", flat=True))
        if before != after:
            changes["tags"] = [before, after]
    if changes:
        audit_log_record(actor=user, action="supplier.updated", obj=supplier, changes=_jsonable(changes))
    return supplier


def _jsonable(changes: dict) -> dict:
    return {
        key: [value if isinstance(value, (str, int, float, bool, list, type(None))) else str(value) for value in pair]
        for key, pair in changes.items()
    }


CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "job_title",
    "department",
    "email",
    "phone",
    "mobile",
    "is_primary",
    "is_active",
    "notes",
)


@transaction.atomic
def supplier_contact_save(*, supplier: Supplier, user, data: dict, contact: SupplierContact | None = None):
    """Create or edit an Ansprechpartner. Making one primary takes the flag from the other."""
    Supplier.objects.select_for_update().filter(pk=supplier.pk).first()  # serialise primary moves
    creating = contact is None
    contact = contact or SupplierContact(supplier=supplier)
    for key in CONTACT_FIELDS:
        if key in data:
            value = data[key]
            setattr(contact, key, value.strip() if isinstance(value, str) else value)
    if contact.is_primary:
        supplier.contacts.exclude(pk=contact.pk).filter(is_primary=True).update(is_primary=False)
    try:
        contact.full_clean()
    except ValidationError as exc:
        raise _refusal_from(exc, gettext("Der Ansprechpartner")) from exc
    contact.save()
    audit_log_record(
        actor=user,
        action="supplier.contact_created" if creating else "supplier.contact_updated",
        obj=supplier,
        changes={"contact": str(contact.pk), "name": contact.full_name, "primary": contact.is_primary},
    )
    return contact


@transaction.atomic
def supplier_contact_delete(*, contact: SupplierContact, user) -> None:
    audit_log_record(
        actor=user,
        action="supplier.contact_deleted",
        obj=contact.supplier,
        changes={"contact": str(contact.pk), "name": contact.full_name},
    )
    contact.delete()


@transaction.atomic
def supplier_bank_account_add(
    *, supplier: Supplier, user, iban: str, bic: str = "", bank_name: str = "", is_primary: bool = False
) -> SupplierBankAccount:
    """Another account of the supplier. Refused when another supplier owns it (that IBAN on an
    invoice is the fraud signal matching reports) or when this supplier has it already."""
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    iban = normalize_iban(iban)
    if not iban_checksum_is_valid(iban):
        raise ApplicationError(
            gettext("Die IBAN „%(value)s“ ist ungültig (Aufbau oder Prüfziffer stimmt nicht).") % {"value": iban},
            code="invalid_iban",
            extra={"fields": {"iban": [gettext("Ungültige IBAN.")]}},
        )
    if supplier.bank_accounts.filter(iban=iban).exists():
        raise ApplicationError(
            gettext("Die IBAN %(iban)s ist bei diesem Lieferanten schon hinterlegt.") % {"iban": iban},
            code="iban_exists",
            extra={"fields": {"iban": [gettext("Schon hinterlegt.")]}},
        )
    owner = iban_owner(iban, exclude=supplier)
    if owner is not None:
        raise ApplicationError(
            gettext("Die IBAN %(iban)s gehört zum Lieferanten %(name)s.") % {"iban": iban, "name": owner.name},
            code="iban_of_other_supplier",
            extra={"fields": {"iban": [gettext("Gehört einem anderen Lieferanten.")]}},
        )
    is_primary = is_primary or not supplier.bank_accounts.exists()
    if is_primary:
        supplier.bank_accounts.filter(is_primary=True).update(is_primary=False)
    account = SupplierBankAccount(
        supplier=supplier, iban=iban, bic=bic, bank_name=(bank_name or "").strip(), is_primary=is_primary
    )
    try:
        account.full_clean()
    except ValidationError as exc:
        raise _refusal_from(exc, gettext("Die Bankverbindung")) from exc
    account.save()
    audit_log_record(actor=user, action="supplier.bank_account_added", obj=supplier, changes={"iban": iban})
    return account


def iban_owner(iban: str, *, exclude: Supplier | None = None) -> Supplier | None:
    """The (other) supplier that has this IBAN as an account or as its legacy ``iban``."""
    others = Supplier.objects.exclude(pk=exclude.pk) if exclude is not None else Supplier.objects.all()
    return others.filter(Q(bank_accounts__iban=iban) | Q(iban=iban)).distinct().first()


@transaction.atomic
def supplier_bank_account_make_primary(*, account: SupplierBankAccount, user) -> None:
    Supplier.objects.select_for_update().filter(pk=account.supplier_id).first()
    SupplierBankAccount.objects.filter(supplier=account.supplier_id, is_primary=True).update(is_primary=False)
    SupplierBankAccount.objects.filter(pk=account.pk).update(is_primary=True)
    audit_log_record(
        actor=user, action="supplier.bank_account_primary", obj=account.supplier, changes={"iban": account.iban}
    )


@transaction.atomic
def supplier_bank_account_delete(*, account: SupplierBankAccount, user) -> None:
    account = SupplierBankAccount.objects.select_for_update().select_related("supplier").get(pk=account.pk)
    supplier = account.supplier
    audit_log_record(actor=user, action="supplier.bank_account_deleted", obj=supplier, changes={"iban": account.iban})
    was_primary = account.is_primary
    account.delete()
    if was_primary:
        # Another account, if any, takes over: a supplier with accounts always has a Hauptkonto.
        successor = supplier.bank_accounts.order_by("created_at").first()
        if successor is not None:
            SupplierBankAccount.objects.filter(pk=successor.pk).update(is_primary=True)


# --- templates ------------------------------------------------------------------------------------

TEMPLATE_FIELDS = (
    "name",
    "document_type",
    "field_patterns",
    "typical_layout",
    "validation_rules",
    "confidence_threshold",
    "is_active",
)


def _template_version(template: SupplierTemplate, *, user, note: str) -> SupplierTemplateVersion:
    return SupplierTemplateVersion.objects.create(
        template=template,
        version=template.version,
        note=note[:255],
        created_by=user if getattr(user, "is_authenticated", False) else None,
        **{key: getattr(template, key) for key in TEMPLATE_FIELDS},
    )


def _save_template(template: SupplierTemplate) -> None:
    # The clash first: full_clean would report the constraint only by its generic message.
    if template.is_active:
        clash = SupplierTemplate.objects.filter(
            supplier=template.supplier_id, document_type=template.document_type, is_active=True
        ).exclude(pk=template.pk)
        if clash.exists():
            raise ApplicationError(
                gettext(
                    "Für diesen Dokumenttyp gibt es schon eine aktive Vorlage („%(name)s“); bitte erst deaktivieren."
                )
                % {"name": clash.first().name},
                code="active_template_exists",
                status_code=409,
                extra={"fields": {"is_active": [gettext("Schon eine aktive Vorlage.")]}},
            )
    try:
        template.full_clean()
    except ValidationError as exc:
        raise _refusal_from(exc, gettext("Die Vorlage")) from exc
    template.save()


@transaction.atomic
def supplier_template_create(*, supplier: Supplier, user, data: dict) -> SupplierTemplate:
    """A template for one document type of the supplier; version 1 is recorded."""
    template = SupplierTemplate(
        supplier=supplier, created_by=user if getattr(user, "is_authenticated", False) else None
    )
    for key in TEMPLATE_FIELDS:
        if key in data:
            setattr(template, key, data[key])
    _save_template(template)
    _template_version(template, user=user, note=gettext("Angelegt"))
    audit_log_record(
        actor=user, action="supplier.template_created", obj=supplier, changes={"template": str(template.pk)}
    )
    return template


@transaction.atomic
def supplier_template_update(*, template: SupplierTemplate, user, data: dict, note: str = "") -> SupplierTemplate:
    """Edit a template. A real change raises ``version`` and keeps a version row; the old
    versions stay. Usage statistics carry on (they describe the supplier's layout, which an
    edit of the patterns does not change)."""
    template = SupplierTemplate.objects.select_for_update().get(pk=template.pk)
    changed = [key for key in TEMPLATE_FIELDS if key in data and getattr(template, key) != data[key]]
    if not changed:
        return template
    for key in changed:
        setattr(template, key, data[key])
    template.version += 1
    _save_template(template)
    _template_version(
        template, user=user, note=note or gettext("Geändert: %(fields)s") % {"fields": ", ".join(changed)}
    )
    audit_log_record(
        actor=user,
        action="supplier.template_updated",
        obj=template.supplier,
        changes={"template": str(template.pk), "version": template.version, "fields": changed},
    )
    return template


# --- review feedback ----------------------------------------------------------------------------


@transaction.atomic
def supplier_document_reviewed(*, document: Document, user) -> None:
    """Called when a clerk approves a document: the supplier learns from the clerk's work.

    * The active template for the supplier and document type counts one use, and a success
      when the clerk corrected no field (the template's success rate).
    * Fields the clerk corrected by hand become master data: the supplier name as a name
      variation, the IBAN as a bank account; for a document that came by e-mail the sender
      becomes a typical sender address. Each learned value leaves a ``SupplierLearningEvent``.

    A value that cannot be learned (an IBAN of another supplier, the fraud signal) is left
    out; it never stops the approval.
    """
    if document.supplier_id is None:
        return
    supplier = Supplier.objects.filter(pk=document.supplier_id).first()
    if supplier is None:
        return
    corrected = {
        field.name: (field.normalized_value or field.value)
        for field in document.fields.filter(source=ExtractedField.Source.MANUAL)
    }
    template = SupplierTemplate.objects.filter(
        supplier=supplier, document_type=document.document_type, is_active=True
    ).first()
    if template is not None:
        success = 0 if corrected else 1
        SupplierTemplate.objects.filter(pk=template.pk).update(
            usage_count=F("usage_count") + 1, success_count=F("success_count") + success, last_used_at=timezone.now()
        )
        template.refresh_from_db(fields=["usage_count", "success_count"])
        SupplierTemplate.objects.filter(pk=template.pk).update(
            success_rate=template.success_count / template.usage_count
        )
    learnable = [(name, corrected[name]) for name in ("supplier_name", "iban") if corrected.get(name)]
    if corrected.get("supplier_name"):
        from suppliers.matching import match_supplier

        # A name that is another supplier's says the document is linked wrongly, not that
        # this supplier has a new name.
        other = match_supplier(fields={"supplier_name": corrected["supplier_name"]})
        if other is not None and other.supplier.pk != supplier.pk:
            learnable.remove(("supplier_name", corrected["supplier_name"]))
    sender = document_sender_email(document)
    if sender:
        learnable.append(("sender_email", sender))
    for field, value in learnable:
        try:
            with transaction.atomic():
                supplier_learn_from_correction(
                    supplier=supplier, field=field, value=value, user=user, document=document
                )
        except ApplicationError:
            continue


# --- merging duplicates ----------------------------------------------------------------------------

# Filled on the surviving supplier only where it has nothing yet: a merge never overwrites
# what a clerk entered on the supplier that is kept.
MERGE_FILL_FIELDS = (
    "legal_name",
    "street",
    "postal_code",
    "city",
    "vat_id",
    "tax_number",
    "iban",
    "bic",
    "commercial_register",
    "industry",
    "email",
    "phone",
    "website",
    "datev_creditor_account",
    "datev_expense_account",
)


def _free_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name} ({n})"
        n += 1
    return candidate


@transaction.atomic
def supplier_merge(*, source: Supplier, target: Supplier, user) -> Supplier:
    """Merge the duplicate ``source`` into ``target`` and soft-delete ``source``.

    Moved to ``target``: documents (also soft-deleted ones, for history), contacts, bank
    accounts, templates, extraction rules, learning events; ``source``'s names become name
    variations, its sender addresses and tags are added, and empty master-data fields of
    ``target`` are filled from ``source``. All or nothing.
    """
    from documents.models import Document as DocumentModel
    from extraction.models import ExtractionRule

    if source.pk == target.pk:
        raise ApplicationError(
            gettext("Ein Lieferant kann nicht mit sich selbst zusammengeführt werden."), code="merge_same"
        )
    # Lock both rows in one order, so two merges of the same pair cannot deadlock.
    locked = {
        s.pk: s for s in Supplier.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk")
    }
    if len(locked) != 2:
        raise ApplicationError(
            gettext("Einer der Lieferanten existiert nicht mehr."), code="merge_gone", status_code=409
        )
    source, target = locked[source.pk], locked[target.pk]
    moved = {}
    moved["documents"] = DocumentModel.all_objects.filter(supplier=source).update(supplier=target)

    target_has_primary_contact = target.contacts.filter(is_primary=True).exists()
    if target_has_primary_contact:
        source.contacts.filter(is_primary=True).update(is_primary=False)
    moved["contacts"] = source.contacts.update(supplier=target)

    known_ibans = set(target.bank_accounts.values_list("iban", flat=True))
    duplicates = source.bank_accounts.filter(iban__in=known_ibans)
    duplicates.delete()
    if target.bank_accounts.filter(is_primary=True).exists():
        source.bank_accounts.filter(is_primary=True).update(is_primary=False)
    moved["bank_accounts"] = source.bank_accounts.update(supplier=target)
    if source.iban and normalize_iban(source.iban) not in known_ibans | {normalize_iban(target.iban)}:
        iban = normalize_iban(source.iban)
        if iban_checksum_is_valid(iban) and not target.bank_accounts.filter(iban=iban).exists():
            SupplierBankAccount.objects.create(
                supplier=target,
                iban=iban,
                bic=source.bic if re.fullmatch(BIC_PATTERN, source.bic or "") else "",
                is_primary=not target.bank_accounts.exists() and not target.iban,
            )
            moved["bank_accounts"] += 1

    template_names = set(target.templates.values_list("name", flat=True))
    active_types = set(target.templates.filter(is_active=True).values_list("document_type", flat=True))
    templates = list(source.templates.all())
    for template in templates:
        # The kept supplier's active template stays the one extraction uses; the moved one
        # stays available, inactive, to compare or re-activate.
        if template.is_active and template.document_type in active_types:
            template.is_active = False
        template.name = _free_name(template.name, template_names)
        template_names.add(template.name)
        template.supplier = target
        template.save(update_fields=["is_active", "name", "supplier", "updated_at"])
    moved["templates"] = len(templates)

    rule_names = set(ExtractionRule.objects.filter(supplier=target).values_list("name", flat=True))
    rules = list(ExtractionRule.objects.filter(supplier=source))
    for rule in rules:
        rule.name = _free_name(rule.name, rule_names)
        rule_names.add(rule.name)
        rule.supplier = target
        rule.save(update_fields=["name", "supplier", "updated_at"])
    moved["extraction_rules"] = len(rules)
    SupplierLearningEvent.objects.filter(supplier=source).update(supplier=target)

    from suppliers.matching import supplier_names

    known_keys = {name_key(name) for name in supplier_names(target)}
    variations = list(target.name_variations or [])
    for name in supplier_names(source):
        if name_key(name) not in known_keys and name_key(name).core:
            variations.append(name)
            known_keys.add(name_key(name))
    target.name_variations = variations
    target.typical_sender_emails = _clean_lines(
        [*(target.typical_sender_emails or []), *(source.typical_sender_emails or []), source.email], email=False
    )
    filled = []
    for key in MERGE_FILL_FIELDS:
        if not getattr(target, key) and getattr(source, key):
            setattr(target, key, getattr(source, key))
            filled.append(key)
    if not target.supplier_number and source.supplier_number:
        number, source.supplier_number = source.supplier_number, None
        source.save(update_fields=["supplier_number"])
        target.supplier_number = number
        filled.append("supplier_number")
    target.save()
    target.tags.add(*source.tags.all())

    source.is_active = False
    source.deleted_at = timezone.now()
    source.merged_into = target
    source.save(update_fields=["is_active", "deleted_at", "merged_into", "updated_at"])
    audit_log_record(
        actor=user,
        action="supplier.merged",
        obj=target,
        changes={"merged": str(source.pk), "name": source.name, "moved": moved, "filled": filled},
        message=gettext("„%(source)s“ in „%(target)s“ zusammengeführt.")
        % {"source": source.name, "target": target.name},
    )
    audit_log_record(
        actor=user,
        action="supplier.merged_into",
        obj=source,
        changes={"into": str(target.pk), "moved": moved},
    )
    return target
