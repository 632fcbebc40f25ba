"""Canonical forms of German business values: dates, amounts, IBAN, USt-IdNr., currency.

The parsers here are shared by extraction (which reads OCR text) and the review screen
(``normalize_field``, which reads what a clerk typed). They are strict about structure and
lenient about spacing, so "1 234,56 €" and "1.234,56EUR" both become ``"1234.56"``.
"""

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.utils.translation import gettext as _

CENT = Decimal("0.01")

DATE_FIELDS = frozenset({"invoice_date", "due_date", "delivery_date"})
AMOUNT_FIELDS = frozenset({"net_amount", "vat_amount", "total_amount"})

MONTHS = {
    "januar": 1, "jan": 1, "jänner": 1, "janner": 1,
    "februar": 2, "feb": 2, "febr": 2,
    "märz": 3, "maerz": 3, "marz": 3, "mär": 3, "mar": 3, "mrz": 3,
    "april": 4, "apr": 4,
    "mai": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "dez": 12,
}  # fmt: skip

# Registered IBAN lengths (SWIFT IBAN registry) of the countries our customers deal with;
# a length lets us cut an IBAN out of a run of digits that continues with other text.
IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IT": 27,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25,
    "RO": 24, "SE": 24, "SI": 19, "SK": 24,
}  # fmt: skip

# USt-IdNr. formats of the EU member states (plus XI for Northern Ireland), after the prefix.
VAT_ID_PATTERNS = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}", "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}", "LV": r"\d{11}", "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"\d{2,10}", "SE": r"\d{12}",
    "SI": r"\d{8}", "SK": r"\d{10}", "XI": r"\d{9}|\d{12}",
}  # fmt: skip
_VAT_ID_RE = {prefix: re.compile(pattern) for prefix, pattern in VAT_ID_PATTERNS.items()}

CURRENCY_SYMBOLS = {"€": "EUR", "EUR": "EUR", "EURO": "EUR", "EUROS": "EUR", "$": "USD", "US$": "USD",
                    "£": "GBP", "CHF": "CHF", "SFR": "CHF", "FR.": "CHF"}  # fmt: skip
ISO_CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF", "PLN", "CZK", "DKK", "SEK", "NOK", "HUF", "JPY", "CNY"})

# Active ISO 4217 codes (list one, 2025). Left out on purpose: precious metals and bond-market
# units (XAU, XAG, XPD, XPT, XBA..XBD), XDR/XSU/XUA, the testing code XTS and XXX ("no currency"):
# none of them is money an invoice is paid in. Withdrawn codes (DEM, ANG since 2025, ZWL, SLL, HRK)
# are unknown on purpose too: such a document deserves a person's look.
ACTIVE_CURRENCIES = (
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW",
    "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG",
    "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR",
    "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW",
    "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
)  # fmt: skip
_NUMERIC_DATE_RE = re.compile(r"^(\d{1,2})\s?[./]\s?(\d{1,2})\s?[./]\s?(\d{4}|\d{2})$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TEXT_DATE_RE = re.compile(r"^(\d{1,2})\.?\s*([A-Za-zÄÖÜäöü]+)\.?\s*(\d{4})$")
_AMOUNT_RE = re.compile(
    r"^(?P<sign>[-−–])?\s*(?P<int>\d{1,3}(?:(?P<sep>[.\s'’])\d{3})(?:(?P=sep)\d{3})*|\d+)"
    r"(?:[,.](?P<dec>\d{1,2}))?\s*(?P<trail>[-−–])?$"
)
_BIC_RE = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")


# Bounded: a worker folds the same few thousand words (labels, keywords, common invoice words)
# over and over; the classifier, label finder and line-item parser each fold every word of a page.
@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case, umlauts spelt out, accents and punctuation dropped: the form labels are compared in."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    return "".join(char for char in text if char.isalnum() and not unicodedata.combining(char))


def to_date(day: int, month: int, year: int) -> date | None:
    if year < 100:
        # Two-digit years on invoices are this century; nobody books 1926.
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """A date printed the German way ("31.12.2026", "31.12.26", "1. Dezember 2026") or ISO."""
    text = text.strip().rstrip(",;")
    if match := _NUMERIC_DATE_RE.match(text):
        return to_date(int(match[1]), int(match[2]), int(match[3]))
    if match := _ISO_DATE_RE.match(text):
        return to_date(int(match[3]), int(match[2]), int(match[1]))
    if match := _TEXT_DATE_RE.match(text):
        month = MONTHS.get(match[2].lower())
        if month is None:
            return None
        return to_date(int(match[1]), month, int(match[3]))
    return None


def parse_amount(text: str) -> Decimal | None:
    """A German amount ("1.234,56", "1 234,56 €", "-12,50", "12,50-") as a Decimal rounded to cents."""
    text = text.strip()
    text = re.sub(r"(?i)^(eur|euro|€)\s*|\s*(eur|euro|€)$", "", text).strip()
    match = _AMOUNT_RE.match(text)
    if not match:
        return None
    integer = re.sub(r"[.\s'’]", "", match["int"])
    decimals = (match["dec"] or "").ljust(2, "0")
    try:
        # quantize() too: a number beyond the context's 28 digits cannot be rounded to cents
        # and raises InvalidOperation (found by fuzzing a clerk's typed amount).
        value = Decimal(f"{integer}.{decimals}").quantize(CENT)
    except InvalidOperation:
        return None
    if match["sign"] or match["trail"]:
        value = -value
    return value


def format_amount(value: Decimal) -> str:
    return str(value.quantize(CENT))


def compact(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text).upper()


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 MOD 97-10: country and check digits move behind the BBAN, letters count 10..35."""
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    numeric = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    return int(numeric) % 97 == 1


def vat_id_format_ok(vat_id: str) -> bool:
    """Prefix of an EU member state followed by that state's number format (DE: nine digits)."""
    pattern = _VAT_ID_RE.get(vat_id[:2])
    return pattern is not None and pattern.fullmatch(vat_id[2:]) is not None


def german_vat_id_check_digit_ok(vat_id: str) -> bool:
    """ISO 7064 MOD 11,10 over the first eight digits of a German USt-IdNr. (used to rank OCR readings)."""
    if not re.fullmatch(r"DE\d{9}", vat_id):
        return False
    product = 10
    for digit in vat_id[2:10]:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return ("0" if check == 10 else str(check % 10)) == vat_id[10]


def normalize_currency(text: str) -> str | None:
    token = text.strip().upper()
    if token in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[token]
    if token in ISO_CURRENCIES:
        return token
    return None


def normalize_rate(text: str) -> str | None:
    """ "19 %" -> "19", "7,0%" -> "7", "10,7 %" -> "10.7"."""
    match = re.fullmatch(r"(\d{1,2})(?:[,.](\d{1,2}))?\s*%?", text.strip())
    if not match:
        return None
    value = Decimal(f"{match[1]}.{match[2] or '0'}").normalize()
    if value > 100:
        return None
    return format(value, "f")


def normalize_field(name: str, raw: str) -> str:
    """The canonical form of ``raw`` for field ``name``, as typed by a clerk in review.

    Raises ``ValueError`` with a short German message the review screen shows next to the field.
    Typed values are taken literally: unlike extraction, no OCR confusions are repaired.
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError(_("Kein Wert angegeben"))
    if name in DATE_FIELDS:
        value = parse_date(text)
        if value is None:
            raise ValueError(_("Kein gültiges Datum"))
        return value.isoformat()
    if name in AMOUNT_FIELDS:
        amount = parse_amount(text)
        if amount is None:
            raise ValueError(_("Kein gültiger Betrag"))
        return format_amount(amount)
    if name == "iban":
        iban = re.sub(r"\s", "", text).upper()
        if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
            raise ValueError(_("Ungültige IBAN (Format)"))
        if iban[:2] in IBAN_LENGTHS and len(iban) != IBAN_LENGTHS[iban[:2]]:
            raise ValueError(_("Ungültige IBAN (Länge)"))
        if not iban_checksum_ok(iban):
            raise ValueError(_("Ungültige IBAN (Prüfsumme)"))
        return iban
    if name == "supplier_vat_id":
        vat_id = re.sub(r"[\s.\-]", "", text).upper()
        if not vat_id_format_ok(vat_id):
            raise ValueError(_("Ungültige USt-IdNr."))
        return vat_id
    if name == "bic":
        bic = re.sub(r"\s", "", text).upper()
        if not _BIC_RE.fullmatch(bic):
            raise ValueError(_("Ungültige BIC"))
        return bic
    if name == "currency":
        # A clerk types a code on purpose, so any active ISO 4217 code counts; in OCR text only the
        # common ones do ("ALL" or "TOP" in a sentence is no currency).
        currency = normalize_currency(text) or (text.upper() if text.upper() in ACTIVE_CURRENCIES else None)
        if currency is None:
            raise ValueError(_("Unbekannte Währung"))
        return currency
    if name == "vat_rate":
        rate = normalize_rate(text)
        if rate is None:
            raise ValueError(_("Kein gültiger Steuersatz"))
        return rate
    return re.sub(r"\s+", " ", text)
