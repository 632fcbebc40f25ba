"""German number, date and bank-identifier conventions used by the generated test documents.

Kept apart from the generator so extraction tests can format expectations the same way the
documents print them ("1.234,56", "03.11.2026", "DE89 3704 0044 0532 0130 00").
"""

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

_IBAN_DE_RE = re.compile(r"DE\d{20}")
_VAT_ID_DE_RE = re.compile(r"DE\d{9}")


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents the way German invoices do (kaufmännisch, half up)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_amount(value: Decimal) -> str:
    """``Decimal("1234.5")`` -> ``"1.234,50"`` (German thousands dot, decimal comma)."""
    rounded = money(value)
    text = f"{abs(rounded):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"-{text}" if rounded < 0 else text


def format_quantity(value: Decimal) -> str:
    """Whole quantities without decimals ("3"), fractional ones with a comma ("2,5")."""
    if value == value.to_integral_value():
        return f"{int(value):,}".replace(",", ".")
    return format(value.normalize(), "f").replace(".", ",")


def format_rate(rate: Decimal) -> str:
    """VAT rate as printed: ``Decimal("19")`` -> ``"19"``, ``Decimal("10.7")`` -> ``"10,7"``."""
    return format_quantity(rate)


def format_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


GERMAN_MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
)  # fmt: skip
DATE_STYLES = ("dmy", "dmy2", "long", "iso")
AMOUNT_STYLES = ("plain", "ungrouped", "euro_prefix", "eur_suffix", "euro_suffix")


def format_date_as(value: date, style: str) -> str:
    """The date formats German invoices print: 31.12.2026, 31.12.26, 31. Dezember 2026, 2026-12-31."""
    if style == "dmy":
        return format_date(value)
    if style == "dmy2":
        return value.strftime("%d.%m.%y")
    if style == "long":
        return f"{value.day}. {GERMAN_MONTHS[value.month - 1]} {value.year}"
    if style == "iso":
        return value.isoformat()
    raise ValueError(f"Unbekanntes Datumsformat {style!r}; erlaubt sind {', '.join(DATE_STYLES)}.")


def format_amount_as(value: Decimal, style: str) -> str:
    """The amount formats German invoices print: 1.234,56 / 1234,56 / € 1.234,56 / 1.234,56 EUR / 1.234,56 €."""
    if style == "plain":
        return format_amount(value)
    if style == "ungrouped":
        return format_amount(value).replace(".", "")
    if style == "euro_prefix":
        text = format_amount(value)
        return f"-€ {text[1:]}" if text.startswith("-") else f"€ {text}"
    if style == "eur_suffix":
        return f"{format_amount(value)} EUR"
    if style == "euro_suffix":
        return f"{format_amount(value)} €"
    raise ValueError(f"Unbekanntes Betragsformat {style!r}; erlaubt sind {', '.join(AMOUNT_STYLES)}.")


def normalise_amount(value: Decimal) -> str:
    return str(money(value))


def _iban_check_digits(country: str, bban: str) -> str:
    # ISO 13616 / ISO 7064 MOD 97-10: move country + "00" behind the BBAN, letters become
    # 10..35, and the check digits are 98 minus the remainder.
    rearranged = bban + country + "00"
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def german_iban(blz: str, account: str) -> str:
    """Build a German IBAN (``DE`` + check digits + 8-digit BLZ + 10-digit account number)."""
    if not (blz.isdigit() and len(blz) == 8):
        raise ValueError(f"Die Bankleitzahl muss 8 Ziffern haben, nicht {blz!r}.")
    if not (account.isdigit() and len(account) <= 10):
        raise ValueError(f"Die Kontonummer muss aus höchstens 10 Ziffern bestehen, nicht {account!r}.")
    bban = blz + account.zfill(10)
    return "DE" + _iban_check_digits("DE", bban) + bban


def is_valid_iban(iban: str) -> bool:
    """MOD 97 check of any IBAN; spaces are ignored, German IBANs must also be 22 characters long."""
    compact = iban.replace(" ", "").upper()
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    if compact.startswith("DE") and not _IBAN_DE_RE.fullmatch(compact):
        return False
    numeric = "".join(str(int(char, 36)) for char in compact[4:] + compact[:4])
    return int(numeric) % 97 == 1


def group_iban(iban: str) -> str:
    """Print form of an IBAN: blocks of four ("DE89 3704 0044 0532 0130 00")."""
    compact = iban.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def vat_id_check_digit(first_eight: str) -> str:
    """Check digit of a German USt-IdNr. (ISO 7064 MOD 11,10 over the first eight digits)."""
    if not (first_eight.isdigit() and len(first_eight) == 8):
        raise ValueError(f"Für die Prüfziffer werden genau 8 Ziffern gebraucht, nicht {first_eight!r}.")
    product = 10
    for digit in first_eight:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return "0" if check == 10 else str(check % 10)


def german_vat_id(first_eight: str) -> str:
    """``"13658776"`` -> ``"DE136587760"``-style USt-IdNr. with a valid check digit."""
    return "DE" + first_eight + vat_id_check_digit(first_eight)


def is_valid_vat_id(vat_id: str) -> bool:
    compact = vat_id.replace(" ", "").upper()
    if not _VAT_ID_DE_RE.fullmatch(compact):
        return False
    return vat_id_check_digit(compact[2:10]) == compact[10]
