"""Cross-field checks of an extraction, with German messages for the clerk.

A check is emitted only when its inputs were extracted (a missing IBAN is not a bad IBAN);
``required_fields`` is always emitted because absence is exactly what it reports.

Rules (``ValidationCheck.rule``) and when each runs:

* ``amounts_sum``: net + USt = total (net, USt and total present);
* ``vat_breakdown_sum``: per VAT rate net + USt = gross, and the rates add up to the totals (only
  when the caller passes a per-rate breakdown, ``vat_breakdown``);
* ``vat_rate_plausible``: USt / net is 19 %, 7 %, 0 % or a rate printed on the document;
* ``line_items_sum``: the positions' totals add up to the net amount (every position has a total,
  a net amount was read);
* ``line_item_arithmetic``: quantity x unit price = line total, for positions that print all three;
* ``iban_checksum`` (ISO 13616 MOD 97-10) and ``iban_country_format`` (the length and structure
  the SWIFT IBAN registry prescribes for the country);
* ``bic_format`` (ISO 9362), ``bic_matches_blz`` (the BIC the BLZ registry ``extraction.banks`` gives
  the IBAN's bank, where it lists it) and ``bic_matches_iban_country``;
* ``skonto_amount``: a printed Skonto amount is the Skonto rate of the total (cent tolerance);
* ``vat_id_format`` and ``vat_id_checksum`` (USt-IdNr.; the member state's own check digit);
* ``tax_number_plausible`` (Steuernummer in one of the Länder formats);
* ``currency_known`` (an active ISO 4217 code);
* ``credit_note_amounts_positive``: a Gutschrift is reported with positive amounts and its type says
  which way the money flows (``ablage.testing.invoices.InvoiceSpec``; EN 16931 for type code 381).
  A negative reading means a sign was printed that the booking would apply a second time;
* ``due_after_invoice_date``, ``dates_plausible``, ``required_fields``.

Two more need the database and are added by ``extraction.services.extraction_finish`` once the
supplier is known (built here, queried there):

* ``duplicate_invoice_number``: the owner has another live document of this supplier with the same
  invoice number (compared without spaces and case); a failed check, so it blocks auto-approval;
* ``template_*``: the supplier template's ``validation_rules`` (``template_checks``).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import regex
from django.utils.translation import gettext as _
from stdnum import bic as stdnum_bic
from stdnum import numdb
from stdnum.de import stnr
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.iso7064 import mod_97_10

from extraction.banks import bic_for_iban, same_bic
from extraction.normalize import ACTIVE_CURRENCIES, vat_id_format_ok
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

_CURRENCY_SIGNS = {"EUR": "€"}

# Territories whose banks carry their own ISO 3166 code in the BIC but use the IBAN of another
# country (Channel Islands and Isle of Man: GB; French overseas departments and collectivities: FR;
# Åland: FI). Everywhere else the BIC's country is the IBAN's country.
_BIC_COUNTRIES_OF_IBAN = {
    "GB": {"GB", "JE", "GG", "IM"},
    "FR": {"FR", "GF", "GP", "MQ", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF"},
    "FI": {"FI", "AX"},
}

_IBAN_REGISTRY = numdb.get("iban")
_IBAN_CHARS = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
_BBAN_PART = re.compile(r"(\d+)!?([nac])")
_BBAN_CHARS = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}


@dataclass(frozen=True, slots=True)
class VatGroup:
    """One row of a VAT breakdown (Steueraufschlüsselung): the base, tax and, where printed, gross per rate."""

    rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal | None = None


def _amount(fields: dict[str, FieldValue], name: str) -> Decimal | None:
    field = fields.get(name)
    return Decimal(field.normalized) if field else None


def _date(fields: dict[str, FieldValue], name: str) -> date | None:
    field = fields.get(name)
    return date.fromisoformat(field.normalized) if field else None


def german_amount(value: Decimal) -> str:
    text = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"-{text}" if value < 0 else text


def _money(value: Decimal, currency: str) -> str:
    """ "1.234,56 €" for euros, "1.234,56 CHF" otherwise: how the clerk reads it on the document."""
    return f"{german_amount(value)} {_CURRENCY_SIGNS.get(currency, currency)}"


def _rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f").replace(".", ",")


def validate(
    fields: dict[str, FieldValue],
    document_type: str,
    *,
    vat_rates: list[Decimal],
    today: date,
    line_items: Sequence[dict] | None = None,
    vat_breakdown: Sequence[VatGroup] | None = None,
) -> list[ValidationCheck]:
    """All checks whose inputs are present, in a stable order (the review screen lists them so).

    ``line_items`` are the position dicts of ``ExtractionResult.line_items`` (``quantity``,
    ``unit_price`` and ``line_total`` as canonical decimal strings, ``""`` when not printed);
    ``vat_breakdown`` the per-rate groups where the document prints them.
    """
    currency = fields["currency"].normalized if "currency" in fields else "EUR"
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

    skonto = _skonto_check(fields)
    if skonto is not None:
        checks.append(skonto)

    if "iban" in fields:
        checks += _iban_checks(fields["iban"].normalized)
    if "bic" in fields:
        checks += _bic_checks(fields["bic"].normalized, fields["iban"].normalized if "iban" in fields else None)

    if "supplier_vat_id" in fields:
        checks += _vat_id_checks(fields["supplier_vat_id"].normalized)
    if "supplier_tax_number" in fields:
        checks.append(_tax_number_check(fields["supplier_tax_number"].normalized))

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

    if vat_breakdown:
        checks.append(_vat_breakdown_check(vat_breakdown, net, vat, total, currency))
    if line_items:
        checks += _line_item_checks(line_items, net, total, currency)
    if "currency" in fields:
        checks.append(_currency_check(fields["currency"].normalized))
    if document_type == "credit_note":
        amounts = {"net_amount": net, "vat_amount": vat, "total_amount": total}
        amounts = {name: value for name, value in amounts.items() if value is not None}
        if amounts:
            checks.append(_credit_note_sign_check(amounts))
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


# --- bank details --------------------------------------------------------------------------------


def _iban_checks(iban: str) -> list[ValidationCheck]:
    checksum_ok = _IBAN_CHARS.fullmatch(iban) is not None and mod_97_10.is_valid(iban[4:] + iban[:4])
    checks = [
        ValidationCheck(
            "iban_checksum",
            checksum_ok,
            _("IBAN-Prüfsumme stimmt.") if checksum_ok else _("Die Prüfsumme der IBAN stimmt nicht."),
            ("iban",),
        )
    ]
    country = iban[:2]
    structure = _IBAN_REGISTRY.info(iban)[0][1].get("bban")
    if structure is None:
        message = _("„%(country)s“ ist kein Land, das IBANs vergibt.") % {"country": country}
        checks.append(ValidationCheck("iban_country_format", False, message, ("iban",)))
        return checks
    expected = 4 + _bban_length(structure)
    if len(iban) != expected:
        message = _("Eine IBAN aus %(country)s hat %(expected)s Zeichen, diese hat %(actual)s.") % {
            "country": country,
            "expected": expected,
            "actual": len(iban),
        }
        checks.append(ValidationCheck("iban_country_format", False, message, ("iban",)))
        return checks
    ok = _bban_pattern(structure).fullmatch(iban[4:]) is not None
    message = (
        _("Länge und Aufbau der IBAN passen zu %(country)s.")
        if ok
        else _("Der Aufbau der IBAN passt nicht zu %(country)s (Ziffern und Buchstaben an falscher Stelle).")
    ) % {"country": country}
    checks.append(ValidationCheck("iban_country_format", ok, message, ("iban",)))
    return checks


def _bban_length(structure: str) -> int:
    """Characters of a BBAN from its registry structure: "8!n10!n" -> 18."""
    return sum(int(count) for count, _kind in _BBAN_PART.findall(structure))


def _bban_pattern(structure: str) -> re.Pattern[str]:
    """The registry structure as a pattern: n digits, a capital letters, c either ("4!a14!n" for GB)."""
    return re.compile("".join(f"{_BBAN_CHARS[kind]}{{{count}}}" for count, kind in _BBAN_PART.findall(structure)))


def _skonto_check(fields: dict[str, FieldValue]) -> ValidationCheck | None:
    """The printed Skonto amount is the rate applied to the total (within a cent)."""
    names = ("skonto_rate", "skonto_amount", "total_amount")
    if not all(name in fields for name in names):
        return None
    try:
        rate, amount, total = (Decimal(fields[name].normalized) for name in names)
    except InvalidOperation:
        return None
    expected = (abs(total) * rate / 100).quantize(Decimal("0.01"))
    ok = abs(expected - amount) <= SUM_TOLERANCE
    message = (
        _("Skontobetrag passt zu Satz und Gesamtbetrag.")
        if ok
        else _("Skonto %(rate)s %% von %(total)s sind %(expected)s, gedruckt sind %(amount)s.")
        % {
            "rate": format(rate.normalize(), "f").replace(".", ","),
            "total": german_amount(total),
            "expected": german_amount(expected),
            "amount": german_amount(amount),
        }
    )
    return ValidationCheck("skonto_amount", ok, message, names)


def _bic_checks(bic: str, iban: str | None) -> list[ValidationCheck]:
    format_ok = stdnum_bic.is_valid(bic)
    checks = [
        ValidationCheck(
            "bic_format",
            format_ok,
            _("BIC hat ein gültiges Format.")
            if format_ok
            else _("Die BIC „%(bic)s“ hat kein gültiges Format (8 oder 11 Zeichen nach ISO 9362).") % {"bic": bic},
            ("bic",),
        )
    ]
    if not format_ok or iban is None or _IBAN_REGISTRY.info(iban)[0][1].get("bban") is None:
        return checks
    known = bic_for_iban(iban)
    if known is not None:
        ok = same_bic(bic, known)
        message = (
            _("Die BIC gehört zur Bankleitzahl der IBAN.")
            if ok
            else _("Die BIC „%(bic)s“ gehört nicht zur Bankleitzahl %(blz)s der IBAN (dort: %(known)s).")
            % {"bic": bic, "blz": iban[4:12], "known": known}
        )
        checks.append(ValidationCheck("bic_matches_blz", ok, message, ("bic", "iban")))
    bic_country, iban_country = bic[4:6], iban[:2]
    ok = bic_country in _BIC_COUNTRIES_OF_IBAN.get(iban_country, {iban_country})
    message = (
        _("BIC und IBAN gehören zum selben Land.")
        if ok
        else _("Die BIC gehört zu %(bic)s, die IBAN zu %(iban)s; beide müssen zum selben Konto gehören.")
        % {"bic": bic_country, "iban": iban_country}
    )
    checks.append(ValidationCheck("bic_matches_iban_country", ok, message, ("bic", "iban")))
    return checks


# --- tax identifiers -----------------------------------------------------------------------------


def _vat_id_checks(vat_id: str) -> list[ValidationCheck]:
    format_ok = vat_id_format_ok(vat_id)
    checksum_ok = True
    if format_ok:
        try:
            eu_vat.validate(vat_id)
        except InvalidChecksum:
            checksum_ok = False
        except ValidationError:
            # Stricter national rules than the pattern (a digit that may not be 0, a range): still the form.
            format_ok = False
    checks = [
        ValidationCheck(
            "vat_id_format",
            format_ok,
            _("USt-IdNr. hat ein gültiges Format.")
            if format_ok
            else _("Die USt-IdNr. hat kein gültiges Format (z. B. DE und 9 Ziffern)."),
            ("supplier_vat_id",),
        )
    ]
    if format_ok:
        message = (
            _("Die Prüfziffer der USt-IdNr. stimmt.")
            if checksum_ok
            else _("Die Prüfziffer der USt-IdNr. %(vat_id)s stimmt nicht; vermutlich wurde eine Ziffer falsch gelesen.")
            % {"vat_id": vat_id}
        )
        checks.append(ValidationCheck("vat_id_checksum", checksum_ok, message, ("supplier_vat_id",)))
    return checks


def _tax_number_check(tax_number: str) -> ValidationCheck:
    ok = stnr.is_valid(tax_number)
    message = (
        _("Die Steuernummer hat das Format eines Bundeslandes.")
        if ok
        else _("Die Steuernummer „%(number)s“ passt zu keinem Format der Bundesländer (10, 11 oder 13 Ziffern).")
        % {"number": tax_number}
    )
    return ValidationCheck("tax_number_plausible", ok, message, ("supplier_tax_number",))


# --- amounts -------------------------------------------------------------------------------------


def _vat_breakdown_check(
    groups: Sequence[VatGroup], net: Decimal | None, vat: Decimal | None, total: Decimal | None, currency: str
) -> ValidationCheck:
    problems = []
    for group in groups:
        if group.gross is not None and abs(group.net + group.vat - group.gross) > SUM_TOLERANCE:
            problems.append(
                _("%(rate)s %%: Netto %(net)s + USt %(vat)s ergibt %(sum)s, angegeben sind %(gross)s.")
                % {
                    "rate": _rate_text(group.rate),
                    "net": _money(group.net, currency),
                    "vat": _money(group.vat, currency),
                    "sum": _money(group.net + group.vat, currency),
                    "gross": _money(group.gross, currency),
                }
            )
    # Each group is rounded on its own, so the sums may drift by a cent per group.
    tolerance = SUM_TOLERANCE * len(groups)
    sums = (
        (sum((g.net for g in groups), Decimal(0)), net, _("Nettobetrag")),
        (sum((g.vat for g in groups), Decimal(0)), vat, _("Umsatzsteuer")),
        (sum((g.net + g.vat for g in groups), Decimal(0)), total, _("Gesamtbetrag")),
    )
    for summed, stated, label in sums:
        if stated is not None and abs(summed - stated) > tolerance:
            problems.append(
                _("Die Steuersätze ergeben zusammen %(summed)s, der %(label)s ist %(stated)s.")
                % {"summed": _money(summed, currency), "label": label, "stated": _money(stated, currency)}
            )
    if problems:
        return ValidationCheck(
            "vat_breakdown_sum", False, " ".join(problems), ("net_amount", "vat_amount", "total_amount")
        )
    return ValidationCheck(
        "vat_breakdown_sum",
        True,
        _("Netto + USt ergibt je Steuersatz den Bruttobetrag."),
        ("net_amount", "vat_amount", "total_amount"),
    )


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _line_item_checks(
    items: Sequence[dict], net: Decimal | None, total: Decimal | None, currency: str
) -> list[ValidationCheck]:
    checks = []
    line_totals = [_decimal(item.get("line_total")) for item in items]
    # Only positions that all print a total can be said to make up the invoice.
    if net is not None and all(value is not None for value in line_totals):
        summed = sum(line_totals, Decimal(0))
        if abs(summed - net) <= SUM_TOLERANCE:
            ok, message = True, _("Die Positionssummen (%(sum)s) ergeben den Nettobetrag.")
        elif total is not None and total != net and abs(summed - total) <= SUM_TOLERANCE:
            # Positions priced gross ("Preise inkl. USt", usual on receipts) add up to the total instead.
            ok, message = True, _("Die Positionssummen (%(sum)s) ergeben den Gesamtbetrag (Bruttopreise).")
        else:
            ok, message = False, _("Positionssummen (%(sum)s) ergeben nicht den Nettobetrag (%(net)s).")
        message %= {"sum": _money(summed, currency), "net": _money(net, currency)}
        checks.append(ValidationCheck("line_items_sum", ok, message, ("net_amount",)))

    wrong = []
    checked = 0
    for index, item in enumerate(items, start=1):
        quantity, price = _decimal(item.get("quantity")), _decimal(item.get("unit_price"))
        line_total = _decimal(item.get("line_total"))
        if quantity is None or price is None or line_total is None:
            continue
        checked += 1
        if abs(quantity * price - line_total) > SUM_TOLERANCE:
            wrong.append(
                _("Position %(position)s: %(quantity)s × %(price)s = %(product)s, angegeben sind %(total)s.")
                % {
                    "position": item.get("position") or index,
                    "quantity": _rate_text(quantity),
                    "price": _money(price, currency),
                    "product": _money((quantity * price).quantize(SUM_TOLERANCE), currency),
                    "total": _money(line_total, currency),
                }
            )
    if checked:
        ok = not wrong
        message = _("Menge × Einzelpreis ergibt in jeder Position den Positionsbetrag.") if ok else " ".join(wrong)
        checks.append(ValidationCheck("line_item_arithmetic", ok, message, ()))
    return checks


def _currency_check(code: str) -> ValidationCheck:
    ok = code in ACTIVE_CURRENCIES
    message = (
        _("Währung %(code)s ist bekannt.") if ok else _("„%(code)s“ ist keine gültige Währung nach ISO 4217.")
    ) % {"code": code}
    return ValidationCheck("currency_known", ok, message, ("currency",))


def _credit_note_sign_check(amounts: dict[str, Decimal]) -> ValidationCheck:
    negative = [name for name, value in amounts.items() if value < 0]
    if not negative:
        return ValidationCheck(
            "credit_note_amounts_positive", True, _("Die Beträge der Gutschrift sind positiv."), tuple(amounts)
        )
    message = _(
        "Die Gutschrift enthält negative Beträge (%(names)s); Gutschriften werden mit positiven Beträgen "
        "erfasst, die Richtung ergibt sich aus dem Dokumenttyp."
    ) % {"names": ", ".join(_AMOUNT_NAMES[name] for name in negative)}
    return ValidationCheck("credit_note_amounts_positive", False, message, tuple(negative))


_AMOUNT_NAMES = {"net_amount": "Nettobetrag", "vat_amount": "Umsatzsteuer", "total_amount": "Gesamtbetrag"}


# --- checks that need more than the document: earlier documents, the supplier's template ---------


def invoice_number_key(number: str) -> str:
    """The form invoice numbers are compared in: "re-2026 001" and "RE-2026001" are one number."""
    return re.sub(r"\s+", "", number).upper()


def duplicate_invoice_check(invoice_number: str, duplicates: Sequence[str]) -> ValidationCheck:
    """``duplicates`` names the owner's other documents of the same supplier with this number.

    A failed check, so a possible double booking is never approved without a person.
    """
    if not duplicates:
        return ValidationCheck(
            "duplicate_invoice_number",
            True,
            _("Rechnungsnummer %(number)s ist für diesen Lieferanten neu.") % {"number": invoice_number},
            ("invoice_number",),
        )
    return ValidationCheck(
        "duplicate_invoice_number",
        False,
        _("Mögliche Doppelerfassung: Rechnungsnummer %(number)s dieses Lieferanten gibt es schon (%(others)s).")
        % {"number": invoice_number, "others": ", ".join(duplicates)},
        ("invoice_number",),
    )


TEMPLATE_CONDITIONS = (
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "equals",
    "not_equals",
    "matches",
    "one_of",
)
TEMPLATE_RULE_KEYS = ("required_fields", "custom_checks", "total_must_equal_sum", "date_format")
_CONDITION_TEXT = {
    "greater_than": "größer als", "greater_or_equal": "mindestens", "less_than": "kleiner als",
    "less_or_equal": "höchstens", "equals": "gleich", "not_equals": "ungleich", "matches": "passend zu",
    "one_of": "einer von",
}  # fmt: skip
_DATE_FORMAT_PARTS = (("YYYY", r"\d{4}"), ("YY", r"\d{2}"), ("DD", r"\d{1,2}"), ("MM", r"\d{1,2}"))
TEMPLATE_REGEX_TIMEOUT_S = 0.25


def template_checks(
    fields: dict[str, FieldValue], rules: dict, *, template: str, checks: Sequence[ValidationCheck]
) -> list[ValidationCheck]:
    """The supplier template's own rules (``SupplierTemplate.validation_rules``), one check per rule.

    ``required_fields`` (list of field names), ``custom_checks`` (``{"field", "condition",
    "value"}``, conditions ``TEMPLATE_CONDITIONS``; a check on a field that was not read is not
    emitted), ``total_must_equal_sum`` (the ``amounts_sum`` check in ``checks`` ran and passed),
    ``date_format`` (``"DD.MM.YYYY"``: how the dates are printed). Anything else fails, so a typo in
    the template is seen instead of silently checking nothing.
    """
    if not isinstance(rules, dict):
        return [
            ValidationCheck(
                "template_rules", False, _("Die Prüfregeln der Vorlage %(t)s sind kein JSON-Objekt.") % {"t": template}
            )
        ]
    result = []
    unknown = sorted(set(rules) - set(TEMPLATE_RULE_KEYS))
    if unknown:
        result.append(
            ValidationCheck(
                "template_rules",
                False,
                _("Vorlage %(t)s: unbekannte Prüfregeln %(keys)s.") % {"t": template, "keys": ", ".join(unknown)},
            )
        )
    required = rules.get("required_fields") or []
    if required:
        names = [name for name in required if isinstance(name, str)]
        missing = [name for name in names if name not in fields]
        message = (
            _("Vorlage %(t)s: alle Pflichtfelder vorhanden.") if not missing else _("Vorlage %(t)s verlangt %(names)s.")
        ) % {"t": template, "names": ", ".join(str(FIELD_NAMES.get(name, name)) for name in missing)}
        result.append(ValidationCheck("template_required_fields", not missing, message, tuple(missing or names)))
    for check in rules.get("custom_checks") or []:
        outcome = _custom_check(fields, check, template)
        if outcome is not None:
            result.append(outcome)
    if rules.get("total_must_equal_sum"):
        ok = any(check.rule == "amounts_sum" and check.ok for check in checks)
        message = (
            _("Vorlage %(t)s: Netto + USt ergibt den Gesamtbetrag.")
            if ok
            else _("Vorlage %(t)s verlangt, dass Netto + USt den Gesamtbetrag ergeben; das ist nicht belegt.")
        ) % {"t": template}
        result.append(
            ValidationCheck("template_total_equals_sum", ok, message, ("net_amount", "vat_amount", "total_amount"))
        )
    date_format = rules.get("date_format")
    if date_format:
        result += _date_format_check(fields, date_format, template)
    return result


def _comparable(name: str, text):
    if name in ("net_amount", "vat_amount", "total_amount", "vat_rate"):
        return _decimal(str(text))
    if name in ("invoice_date", "due_date", "delivery_date"):
        try:
            return date.fromisoformat(str(text))
        except ValueError:
            return None
    return str(text)


def _custom_check(fields: dict[str, FieldValue], check, template: str) -> ValidationCheck | None:
    if not isinstance(check, dict) or check.get("condition") not in TEMPLATE_CONDITIONS or "field" not in check:
        return ValidationCheck(
            "template_custom_check",
            False,
            _("Vorlage %(t)s: Prüfung %(check)s ist unvollständig (field, condition, value; Bedingungen: %(known)s).")
            % {"t": template, "check": check, "known": ", ".join(TEMPLATE_CONDITIONS)},
        )
    name, condition, expected = check["field"], check["condition"], check.get("value")
    field = fields.get(name)
    if field is None:
        return None
    ok = _condition_holds(name, field.normalized, condition, expected)
    label = FIELD_NAMES.get(name, name)
    if ok is None:
        message = _("Vorlage %(t)s: %(field)s „%(value)s“ lässt sich nicht mit %(expected)s vergleichen.")
        ok = False
    elif ok:
        message = _("Vorlage %(t)s: %(field)s ist %(condition)s %(expected)s.")
    else:
        message = _("Vorlage %(t)s: %(field)s „%(value)s“ ist nicht %(condition)s %(expected)s.")
    message %= {
        "t": template,
        "field": label,
        "value": field.normalized,
        "condition": _CONDITION_TEXT[condition],
        "expected": expected,
    }
    return ValidationCheck("template_custom_check", ok, message, (name,))


def _condition_holds(name: str, value: str, condition: str, expected) -> bool | None:
    """True/False, or None when the values cannot be compared (wrong type in the template)."""
    if condition == "matches":
        try:
            return regex.fullmatch(str(expected), value, timeout=TEMPLATE_REGEX_TIMEOUT_S) is not None
        except (regex.error, TimeoutError):
            return None
    if condition == "one_of":
        if not isinstance(expected, list):
            return None
        options = [_comparable(name, option) for option in expected]
        return _comparable(name, value) in options
    left, right = _comparable(name, value), _comparable(name, expected)
    if left is None or right is None or type(left) is not type(right):
        return None
    if condition == "equals":
        return left == right
    if condition == "not_equals":
        return left != right
    if isinstance(left, str):
        return None  # no ordering of free text
    return {
        "greater_than": left > right,
        "greater_or_equal": left >= right,
        "less_than": left < right,
        "less_or_equal": left <= right,
    }[condition]


def _date_format_check(fields: dict[str, FieldValue], date_format, template: str) -> list[ValidationCheck]:
    if not isinstance(date_format, str):
        return [
            ValidationCheck(
                "template_date_format", False, _("Vorlage %(t)s: „date_format“ muss Text sein.") % {"t": template}
            )
        ]
    pattern = re.escape(date_format)
    for token, digits in _DATE_FORMAT_PARTS:
        pattern = pattern.replace(token, digits)
    dated = [name for name in ("invoice_date", "due_date", "delivery_date") if name in fields]
    if not dated:
        return []
    wrong = [name for name in dated if re.fullmatch(pattern, fields[name].value.strip()) is None]
    message = (
        _("Vorlage %(t)s: Datumsangaben im Format %(format)s.")
        if not wrong
        else _("Vorlage %(t)s: Datum nicht im Format %(format)s gedruckt (%(names)s); falsch gelesen?")
    ) % {"t": template, "format": date_format, "names": ", ".join(wrong)}
    return [ValidationCheck("template_date_format", not wrong, message, tuple(wrong or dated))]
