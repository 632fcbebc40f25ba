"""Safe reading of e-invoice XML and its mapping to an ``ExtractionResult``.

Nothing is guessed here: every field comes from the element the standard defines for it, so
each gets confidence 1.0 and a rule naming the business term (BT-n) and path. What can still be
wrong is the sender's arithmetic, and that is what the checks look at: the project's own
validation (``extraction.validation.validate``) plus the EN 16931 sum rules (BR-CO-10/13/15/16,
BR-CO-17 per VAT rate).

Safety: an e-invoice has no business with a DTD. Any DOCTYPE - and with it entity
declarations ("billion laughs"), external entities (``SYSTEM "file:///etc/passwd"``) and
external DTDs fetched from the network - is refused before a single entity is expanded.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from django.utils.translation import gettext as _

from extraction.einvoice.cii import read_cii
from extraction.einvoice.raw import CII_DATE, ISO_DATE, Raw, RawInvoice, RawLine
from extraction.einvoice.syntax import ROOTS, UBL, EInvoiceSource
from extraction.einvoice.ubl import read_ubl
from extraction.normalize import CENT
from extraction.types import ExtractionResult, FieldValue, ValidationCheck
from extraction.validation import REQUIRED_FIELDS, german_amount, validate
from ocr.errors import StopProcessing

HOSTILE_XML = "hostile_xml"
INVALID_EINVOICE = "invalid_einvoice"

# Real e-invoices are a few hundred KB even with thousands of lines; anything near this is
# either not an invoice or an attempt to exhaust memory.
MAX_XML_BYTES = 20 * 1024 * 1024

# UNTDID 1001 codes EN 16931 allows for BT-3. A credit note (Gutschrift/Rechnungskorrektur als
# Gutschrift) is 381 and its relatives; 389 is a self-billed *invoice* (Gutschriftsverfahren
# nach § 14 Abs. 2 UStG), which books like an invoice, so it is not in the credit list.
CREDIT_NOTE_TYPE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})
INVOICE_TYPE_CODES = frozenset({
    "71", "80", "82", "84", "102", "130", "202", "203", "204", "211", "218", "219", "326", "331", "380",
    "382", "383", "384", "385", "386", "387", "388", "389", "393", "395", "456", "457", "527", "575",
    "623", "633", "751", "780", "875", "876", "877", "935",
})  # fmt: skip

# UN/ECE Recommendation 20 unit codes -> the abbreviation a German invoice prints.
UNIT_NAMES = {
    "H87": "Stk.", "C62": "Stk.", "XPP": "Stk.", "EA": "Stk.", "HUR": "Std.", "MIN": "min", "DAY": "Tag",
    "WEE": "Woche", "MON": "Monat", "ANN": "Jahr", "KGM": "kg", "GRM": "g", "TNE": "t", "LTR": "l",
    "MTR": "m", "MTK": "m²", "MTQ": "m³", "KMT": "km", "LS": "pauschal", "SET": "Satz", "PR": "Paar",
    "XBX": "Karton", "XPK": "Pck.", "KWH": "kWh",
}  # fmt: skip

DATE_NAMES = ("invoice_date", "due_date", "delivery_date")
# Failed checks lower the overall confidence; a sum that does not add up means an amount the
# booking would take is wrong, so it weighs most (same scale as extraction.engine).
FAILED_CHECK_FACTORS = {"amounts_sum": 0.45, "required_fields": 0.6}
FAILED_TOTALS_FACTOR = 0.45
FAILED_CHECK_DEFAULT = 0.75

# A price per unit worked out from a price per 100 or 1000 units; six places are exact for
# every basis quantity we have seen and keep 1/3 from printing 28 digits.
_PRICE_PLACES = Decimal("0.000001")
_DECIMAL_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_CII_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def read_xml(data: bytes) -> Element:
    """Parse e-invoice XML, refusing DTDs and entities (``hostile_xml``) and garbage (``invalid_einvoice``)."""
    if len(data) > MAX_XML_BYTES:
        raise StopProcessing(
            _("Die E-Rechnung ist %(size)s MB groß; erlaubt sind höchstens %(limit)s MB.")
            % {"size": f"{len(data) / 1024 / 1024:.1f}".replace(".", ","), "limit": MAX_XML_BYTES // 1024 // 1024},
            code=INVALID_EINVOICE,
        )
    try:
        # forbid_dtd refuses the DOCTYPE itself, so neither internal entity declarations nor an
        # external DTD/entity is ever looked at; expat (pyexpat) never fetches URLs on its own.
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise StopProcessing(
            _(
                "Die E-Rechnung enthält eine DTD oder Entity-Deklarationen (DOCTYPE). E-Rechnungen "
                "dürfen keine enthalten; die Datei wird aus Sicherheitsgründen nicht verarbeitet."
            ),
            code=HOSTILE_XML,
        ) from exc
    except ParseError as exc:
        line, column = exc.position
        raise StopProcessing(
            _("Die E-Rechnung ist kein gültiges XML (Fehler in Zeile %(line)s, Spalte %(column)s).")
            % {"line": line, "column": column},
            code=INVALID_EINVOICE,
        ) from exc


def syntax_of_root(root: Element) -> str:
    namespace, _sep, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    syntax = ROOTS.get((namespace, local))
    if syntax is None:
        raise StopProcessing(
            _("Die XML-Datei ist keine E-Rechnung (ZUGFeRD, Factur-X oder XRechnung); Wurzelelement „%(root)s“.")
            % {"root": local},
            code=INVALID_EINVOICE,
        )
    return syntax


def parse_einvoice(source: EInvoiceSource, *, today: date | None = None) -> ExtractionResult:
    """Map the e-invoice in ``source`` to the project's ``ExtractionResult``.

    Raises ``StopProcessing`` with code ``hostile_xml`` or ``invalid_einvoice`` (see ``read_xml``).
    """
    root = read_xml(source.xml)
    syntax = syntax_of_root(root)
    raw = read_ubl(root) if syntax == UBL else read_cii(root, syntax)
    return _Mapper(raw).result(today=today or date.today())


class _Mapper:
    """Normalises one ``RawInvoice``; values it cannot read are collected as problems, not dropped silently."""

    def __init__(self, raw: RawInvoice):
        self.raw = raw
        self.problems: list[str] = []

    def result(self, *, today: date) -> ExtractionResult:
        document_type = self._document_type()
        fields = self._fields()
        amounts = {name: self._decimal(raw) for name, raw in self.raw.totals.items()}
        for name, total_name in (
            ("net_amount", "tax_basis"),
            ("vat_amount", "tax_total"),
            ("total_amount", "grand_total"),
        ):
            value, raw = amounts.get(total_name), self.raw.totals.get(total_name)
            if value is not None:
                fields[name] = _field(name, raw, _money_text(value))
        taxes = [
            (self._decimal(tax.basis), self._decimal(tax.amount), self._decimal(tax.rate)) for tax in self.raw.taxes
        ]
        rates = sorted({rate for _basis, _amount, rate in taxes if rate is not None})
        if len(rates) == 1 and self.raw.taxes[0].rate is not None:
            fields["vat_rate"] = _field("vat_rate", self.raw.taxes[0].rate, _plain(rates[0]))
        line_items = [self._line(line) for line in self.raw.lines]
        fields = dict(sorted(fields.items()))

        checks = validate(fields, document_type, vat_rates=rates, today=today)
        checks += _totals_checks(amounts, taxes, line_items)
        checks.append(self._values_check())
        return ExtractionResult(
            document_type=document_type,
            document_type_confidence=1.0,
            fields=fields,
            line_items=line_items,
            validation=checks,
            overall_confidence=overall_confidence(fields, checks, document_type),
        )

    def _document_type(self) -> str:
        code = self.raw.type_code.text if self.raw.type_code else ""
        if self.raw.is_credit_note_root or code in CREDIT_NOTE_TYPE_CODES:
            return "credit_note"
        if code not in INVOICE_TYPE_CODES:
            self.problems.append(
                _("Rechnungsart (BT-3) „%(code)s“ ist kein zulässiger Code; als Rechnung gelesen.") % {"code": code}
                if code
                else _("Rechnungsart (BT-3) fehlt; als Rechnung gelesen.")
            )
        return "invoice"

    def _fields(self) -> dict[str, FieldValue]:
        fields = {}
        for name, raw in self.raw.fields.items():
            normalized = self._normalise(name, raw)
            if normalized is not None:
                fields[name] = _field(name, raw, normalized)
        return fields

    def _normalise(self, name: str, raw: Raw) -> str | None:
        if name in DATE_NAMES:
            return self._date(raw)
        if name == "supplier_vat_id":
            return re.sub(r"[\s.\-]", "", raw.text).upper()
        if name in ("iban", "bic"):
            return re.sub(r"\s", "", raw.text).upper()
        if name == "currency":
            code = raw.text.upper()
            if not re.fullmatch(r"[A-Z]{3}", code):
                self.problems.append(_("Währung „%(value)s“ ist kein ISO-4217-Code.") % {"value": raw.text})
                return None
            return code
        return raw.text

    def _date(self, raw: Raw) -> str | None:
        pattern = _ISO_DATE_RE if raw.date_format == ISO_DATE else _CII_DATE_RE
        match = pattern.match(raw.text)
        if raw.date_format not in (ISO_DATE, CII_DATE, ""):
            # 610 (month) and 616 (week) name no day a booking could use.
            match = None
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
            except ValueError:
                pass
        self.problems.append(
            _("%(rule)s: „%(value)s“ ist kein gültiges Datum.") % {"rule": raw.rule, "value": raw.text}
        )
        return None

    def _decimal(self, raw: Raw | None) -> Decimal | None:
        if raw is None:
            return None
        if _DECIMAL_RE.match(raw.text):
            try:
                return Decimal(raw.text)
            except InvalidOperation:
                pass
        self.problems.append(_("%(rule)s: „%(value)s“ ist keine Zahl.") % {"rule": raw.rule, "value": raw.text})
        return None

    def _line(self, line: RawLine) -> dict:
        quantity = self._decimal(line.quantity)
        price = self._decimal(line.unit_price)
        basis = self._decimal(line.price_basis_quantity)
        if price is not None and basis is not None and basis not in (0, 1):
            # BT-149: the price is per basis quantity ("4,49 je 100 Stück"); report it per unit.
            price = (price / basis).quantize(_PRICE_PLACES)
        rate = self._decimal(line.vat_rate)
        total = self._decimal(line.line_total)
        unit_code = line.quantity.unit_code if line.quantity else ""
        return {
            "position": line.position.text if line.position else "",
            "description": line.description.text if line.description else "",
            "quantity": _plain(quantity) if quantity is not None else "",
            "unit": UNIT_NAMES.get(unit_code.upper(), unit_code),
            "unit_price": _money_text(price) if price is not None else "",
            "vat_rate": _plain(rate) if rate is not None else "",
            "line_total": _money_text(total) if total is not None else "",
        }

    def _values_check(self) -> ValidationCheck:
        if not self.problems:
            return ValidationCheck("einvoice_values", True, _("Alle Angaben der E-Rechnung sind lesbar."))
        return ValidationCheck(
            "einvoice_values",
            False,
            _("Nicht lesbare Angaben in der E-Rechnung: %(problems)s") % {"problems": " ".join(self.problems)},
        )


def _field(name: str, raw: Raw, normalized: str) -> FieldValue:
    return FieldValue(
        name=name,
        value=raw.text,
        normalized=normalized,
        confidence=1.0,
        page=None,
        bbox=None,
        rule=f"einvoice:{raw.rule}",
    )


def _money_text(value: Decimal) -> str:
    """Cents as the rest of the project writes them ("1234.50"), more places only where the XML has them."""
    cents = value.quantize(CENT)
    return str(cents) if cents == value else _plain(value)


def _plain(value: Decimal) -> str:
    """ "10.0000" -> "10", "2.50" -> "2.5", "1E+2" -> "100"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _sum_check(rule: str, ok: bool, message_ok: str, message_failed: str, values: dict, fields=()) -> ValidationCheck:
    shown = {key: german_amount(value) for key, value in values.items()}
    return ValidationCheck(rule, ok, (message_ok if ok else message_failed) % shown, tuple(fields))


def _totals_checks(amounts: dict, taxes: list[tuple], line_items: list[dict]) -> list[ValidationCheck]:
    """EN 16931 sum rules over the totals the sender stated; each runs only when its inputs are there."""
    checks = []
    line_total = amounts.get("line_total")
    tax_basis, tax_total, grand_total = amounts.get("tax_basis"), amounts.get("tax_total"), amounts.get("grand_total")
    totals = [item["line_total"] for item in line_items]
    if line_items and line_total is not None and all(totals):
        lines = sum((Decimal(value) for value in totals), Decimal("0"))
        ok = lines == line_total
        message = (
            _("Die Positionen ergeben die Summe der Positionen (%(stated)s).") % {"stated": german_amount(line_total)}
            if ok
            else _(
                "Die %(count)s Positionen ergeben %(lines)s, angegeben ist eine Summe der Positionen von %(stated)s."
            )
            % {"count": len(line_items), "lines": german_amount(lines), "stated": german_amount(line_total)}
        )
        checks.append(ValidationCheck("einvoice_totals_lines", ok, message, ("net_amount",)))
    if line_total is not None and tax_basis is not None:
        charges, allowances = amounts.get("charge_total") or Decimal(0), amounts.get("allowance_total") or Decimal(0)
        expected = line_total + charges - allowances
        checks.append(
            _sum_check(
                "einvoice_totals_tax_basis",
                expected == tax_basis,
                _("Summe der Positionen mit Zu- und Abschlägen ergibt den Nettobetrag (%(basis)s)."),
                _(
                    "Positionen %(lines)s + Zuschläge %(charges)s − Abschläge %(allowances)s = %(expected)s, "
                    "angegeben ist ein Nettobetrag von %(basis)s."
                ),
                {
                    "lines": line_total,
                    "charges": charges,
                    "allowances": allowances,
                    "expected": expected,
                    "basis": tax_basis,
                },
                ("net_amount",),
            )
        )
    if taxes and tax_total is not None and all(amount is not None for _basis, amount, _rate in taxes):
        summed = sum((amount for _basis, amount, _rate in taxes), Decimal("0"))
        checks.append(
            _sum_check(
                "einvoice_totals_vat_breakdown",
                summed == tax_total,
                _("Die Steueraufschlüsselung ergibt die Umsatzsteuer (%(total)s)."),
                _("Die Steueraufschlüsselung ergibt %(summed)s USt, angegeben sind %(total)s."),
                {"summed": summed, "total": tax_total},
                ("vat_amount",),
            )
        )
    wrong_groups = [
        (basis, amount, rate)
        for basis, amount, rate in taxes
        if None not in (basis, amount, rate) and abs(basis * rate / 100 - amount) > CENT
    ]
    if any(None not in group for group in taxes):
        ok = not wrong_groups
        message = _("Die Steuerbeträge passen zu den Steuersätzen.")
        if not ok:
            basis, amount, rate = wrong_groups[0]
            message = _("%(rate)s %% von %(basis)s sind %(expected)s, angegeben sind %(amount)s USt.") % {
                "rate": _plain(rate).replace(".", ","),
                "basis": german_amount(basis),
                "expected": german_amount((basis * rate / 100).quantize(CENT)),
                "amount": german_amount(amount),
            }
        checks.append(ValidationCheck("einvoice_totals_vat_rates", ok, message, ("vat_amount",)))
    if tax_basis is not None and tax_total is not None and grand_total is not None:
        checks.append(
            _sum_check(
                "einvoice_totals_grand_total",
                tax_basis + tax_total == grand_total,
                _("Nettobetrag + USt ergibt den Bruttobetrag (%(grand)s)."),
                _("Nettobetrag %(basis)s + USt %(tax)s = %(sum)s, angegeben ist ein Bruttobetrag von %(grand)s."),
                {"basis": tax_basis, "tax": tax_total, "sum": tax_basis + tax_total, "grand": grand_total},
                ("net_amount", "vat_amount", "total_amount"),
            )
        )
    due = amounts.get("due_payable")
    if grand_total is not None and due is not None:
        prepaid, rounding = amounts.get("prepaid") or Decimal(0), amounts.get("rounding") or Decimal(0)
        expected = grand_total - prepaid + rounding
        checks.append(
            _sum_check(
                "einvoice_totals_due",
                expected == due,
                _("Der Zahlbetrag (%(due)s) ergibt sich aus Bruttobetrag und Anzahlungen."),
                _(
                    "Bruttobetrag %(grand)s − Anzahlungen %(prepaid)s + Rundung %(rounding)s = %(expected)s, "
                    "angegeben ist ein Zahlbetrag von %(due)s."
                ),
                {"grand": grand_total, "prepaid": prepaid, "rounding": rounding, "expected": expected, "due": due},
                ("total_amount",),
            )
        )
    return checks


def overall_confidence(fields: dict[str, FieldValue], checks: list[ValidationCheck], document_type: str) -> float:
    """1.0 for a complete e-invoice whose checks all pass; each missing required field or failed check lowers it.

    The values are exact, so the only doubt is whether the sender's document is complete and
    consistent: the share of required fields present, scaled down per failed check.
    """
    required = REQUIRED_FIELDS.get(document_type, ())
    confidence = sum(name in fields for name in required) / len(required) if required else 1.0
    for check in checks:
        if check.ok:
            continue
        if check.rule.startswith("einvoice_totals"):
            confidence *= FAILED_TOTALS_FACTOR
        else:
            confidence *= FAILED_CHECK_FACTORS.get(check.rule, FAILED_CHECK_DEFAULT)
    return round(confidence, 3)
