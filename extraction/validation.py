"""Cross-field checks of an extraction, with German messages for the clerk.

A check is emitted only when its inputs were extracted (a missing IBAN is not a bad IBAN);
``required_fields`` is always emitted because absence is exactly what it reports.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _

from extraction.normalize import iban_checksum_ok, vat_id_format_ok
from extraction.types import FieldValue, ValidationCheck

# Fields a document of each type must have before it may be approved without a person.
# "unknown" has none listed: a document we cannot classify always goes to review (decision.py).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice_number", "invoice_date", "total_amount", "supplier_name"),
    "credit_note": ("invoice_number", "invoice_date", "total_amount", "supplier_name"),
    "reminder": ("invoice_number", "total_amount", "supplier_name"),
    "receipt": ("invoice_date", "total_amount", "supplier_name"),
    "order": ("supplier_name", "order_number"),
    "delivery_note": ("supplier_name",),
    "contract": ("supplier_name",),
    "letter": ("supplier_name",),
    "form": ("supplier_name",),
}

FIELD_NAMES = {
    "invoice_number": "Rechnungsnummer", "invoice_date": "Rechnungsdatum", "total_amount": "Gesamtbetrag",
    "supplier_name": "Lieferant", "order_number": "Bestellnummer",
}  # fmt: skip

STANDARD_RATES = (Decimal("19"), Decimal("7"), Decimal("0"))
SUM_TOLERANCE = Decimal("0.01")
EARLIEST_DATE = date(2000, 1, 1)


def _amount(fields: dict[str, FieldValue], name: str) -> Decimal | None:
    field = fields.get(name)
    return Decimal(field.normalized) if field else None


def _date(fields: dict[str, FieldValue], name: str) -> date | None:
    field = fields.get(name)
    return date.fromisoformat(field.normalized) if field else None


def german_amount(value: Decimal) -> str:
    text = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"-{text}" if value < 0 else text


def validate(
    fields: dict[str, FieldValue], document_type: str, *, vat_rates: list[Decimal], today: date
) -> list[ValidationCheck]:
    checks = []
    net, vat, total = (_amount(fields, name) for name in ("net_amount", "vat_amount", "total_amount"))
    if net is not None and vat is not None and total is not None:
        ok = abs(net + vat - total) <= SUM_TOLERANCE
        message = (
            _("Netto + USt ergibt den Gesamtbetrag.")
            if ok
            else _("Netto %(net)s + USt %(vat)s = %(sum)s, gedruckt ist aber ein Gesamtbetrag von %(total)s.")
            % {
                "net": german_amount(net),
                "vat": german_amount(vat),
                "sum": german_amount(net + vat),
                "total": german_amount(total),
            }
        )
        checks.append(ValidationCheck("amounts_sum", ok, message, ("net_amount", "vat_amount", "total_amount")))

    if "iban" in fields:
        ok = iban_checksum_ok(fields["iban"].normalized)
        message = _("IBAN-Prüfsumme stimmt.") if ok else _("Die Prüfsumme der IBAN stimmt nicht.")
        checks.append(ValidationCheck("iban_checksum", ok, message, ("iban",)))

    if "supplier_vat_id" in fields:
        ok = vat_id_format_ok(fields["supplier_vat_id"].normalized)
        message = (
            _("USt-IdNr. hat ein gültiges Format.")
            if ok
            else _("Die USt-IdNr. hat kein gültiges Format (z. B. DE und 9 Ziffern).")
        )
        checks.append(ValidationCheck("vat_id_format", ok, message, ("supplier_vat_id",)))

    invoice_date, due_date = _date(fields, "invoice_date"), _date(fields, "due_date")
    if invoice_date is not None and due_date is not None:
        ok = due_date >= invoice_date
        message = _("Fälligkeit liegt nach dem Rechnungsdatum.") if ok else _("Fällig vor dem Rechnungsdatum.")
        checks.append(ValidationCheck("due_after_invoice_date", ok, message, ("invoice_date", "due_date")))

    dated = [name for name in ("invoice_date", "due_date", "delivery_date") if name in fields]
    if dated:
        latest = today + timedelta(days=365)
        wrong = [name for name in dated if not EARLIEST_DATE <= _date(fields, name) <= latest]
        ok = not wrong
        message = (
            _("Datumsangaben sind plausibel.")
            if ok
            else _("Unplausibles Datum (vor 2000 oder mehr als ein Jahr in der Zukunft).")
        )
        checks.append(ValidationCheck("dates_plausible", ok, message, tuple(wrong or dated)))

    checks.append(_required_check(fields, document_type))

    if net is not None and vat is not None and net != 0:
        ok = _rate_plausible(net, vat, vat_rates)
        rate = (vat / net * 100).quantize(Decimal("0.1"))
        message = (
            _("USt-Satz %(rate)s %% ist plausibel.") % {"rate": str(rate).replace(".", ",")}
            if ok
            else _("USt entspricht %(rate)s %% des Nettobetrags; erwartet sind 19 %%, 7 %% oder 0 %%.")
            % {"rate": str(rate).replace(".", ",")}
        )
        checks.append(ValidationCheck("vat_rate_plausible", ok, message, ("net_amount", "vat_amount")))
    return checks


def _required_check(fields: dict[str, FieldValue], document_type: str) -> ValidationCheck:
    required = REQUIRED_FIELDS.get(document_type)
    if required is None:
        return ValidationCheck(
            "required_fields", False, _("Dokumenttyp nicht erkannt; Pflichtfelder können nicht geprüft werden."), ()
        )
    missing = [name for name in required if name not in fields]
    if not missing:
        return ValidationCheck("required_fields", True, _("Alle Pflichtfelder sind vorhanden."), required)
    names = ", ".join(str(FIELD_NAMES.get(name, name)) for name in missing)
    return ValidationCheck(
        "required_fields", False, _("Es fehlen Pflichtfelder: %(names)s") % {"names": names}, tuple(missing)
    )


def _rate_plausible(net: Decimal, vat: Decimal, printed_rates: list[Decimal]) -> bool:
    # Rounding per VAT group allows a cent per group; 0.2 % of the net covers long invoices.
    tolerance = max(Decimal("0.02"), abs(net) * Decimal("0.002"))
    rates = set(STANDARD_RATES) | set(printed_rates)
    if any(abs(vat - net * rate / 100) <= tolerance for rate in rates):
        return True
    distinct = sorted(set(printed_rates))
    if len(distinct) >= 2:
        # Mixed 7 % / 19 % invoices: the effective rate lies between the printed ones.
        ratio = vat / net * 100
        return distinct[0] - Decimal("0.2") <= ratio <= distinct[-1] + Decimal("0.2")
    return False
