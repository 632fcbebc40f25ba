"""Find a typed value (date, amount, IBAN, ...) in a run of words, tolerant of OCR confusions.

Every finder takes the words where a value may stand and returns a :class:`Found` with the
printed text, the canonical form and the words that carry it, or ``None``.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from extraction.layout import WIDE_GAP_HEIGHTS, height_x, make_run
from extraction.normalize import (
    IBAN_LENGTHS,
    MONTHS,
    format_amount,
    german_vat_id_check_digit_ok,
    iban_checksum_ok,
    normalize_currency,
    normalize_rate,
    to_date,
    vat_id_format_ok,
)
from ocr.types import Word

# Characters Tesseract puts where a digit belongs. Replaced only next to a digit, so words
# stay words ("Oktober", "Stk.") and "2O26" becomes "2026".
_DIGIT_CONFUSIONS = {"O": "0", "o": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1", "S": "5", "Z": "2", "B": "8"}


@dataclass
class Found:
    value: str
    normalized: str
    words: list[Word]
    repaired: bool = False
    parsed: object = None


def digitise(text: str) -> str:
    """Replace digit look-alikes that touch a digit; keeps the length so offsets stay valid."""
    chars = list(text)
    for _ in range(2):  # a second pass reaches "OO" runs from either side
        for index, char in enumerate(chars):
            if char not in _DIGIT_CONFUSIONS:
                continue
            before = chars[index - 1] if index else ""
            after = chars[index + 1] if index + 1 < len(chars) else ""
            if before.isdigit() or after.isdigit():
                chars[index] = _DIGIT_CONFUSIONS[char]
    return "".join(chars)


def _words_text(words: list[Word]) -> str:
    return " ".join(word.text for word in words)


# --- dates -------------------------------------------------------------------------------

_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(\d{1,2})\s?[.,]\s?(\d{1,2})\s?[.,]\s?(\d{4}|\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{1,2})\s?/\s?(\d{1,2})\s?/\s?(\d{4})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"),
    re.compile(rf"(?i)(?<!\d)(\d{{1,2}})\.?\s?({_MONTH_NAMES})\.?\s?(\d{{4}})(?!\d)"),
]


def find_dates(words: list[Word]) -> list[Found]:
    """All dates in the words, in reading order."""
    if not words:
        return []
    run = make_run(words)
    text = digitise(run.text)
    found: list[tuple[int, Found]] = []
    taken: list[tuple[int, int]] = []
    for index, pattern in enumerate(_DATE_PATTERNS):
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            if index == 2:
                parsed = to_date(int(match[3]), int(match[2]), int(match[1]))
            elif index == 3:
                parsed = to_date(int(match[1]), MONTHS[match[2].lower()], int(match[3]))
            else:
                parsed = to_date(int(match[1]), int(match[2]), int(match[3]))
            if parsed is None:
                continue
            taken.append((match.start(), match.end()))
            carrier = run.words_in(match.start(), match.end())
            printed = run.text[match.start() : match.end()]
            found.append((match.start(), Found(printed, parsed.isoformat(), carrier, printed != match[0], parsed)))
    found.sort(key=lambda pair: pair[0])
    return [item for _, item in found]


def first_date(words: list[Word]) -> Found | None:
    dates = find_dates(words)
    return dates[0] if dates else None


# --- amounts -----------------------------------------------------------------------------

# Decimals are required: amounts on invoices always print cents, and requiring them keeps
# "19 %", quantities and years out. One space may group thousands ("1 234,56"), three may not.
_AMOUNT_PATTERN = re.compile(
    r"(?<![\w.,])(?P<sign>[-−–]\s?)?(?:(?P<cur1>€|EUR)\s?)?(?P<sign2>[-−–]\s?)?"
    r"(?P<int>\d{1,3}(?:(?:[.'’]|,(?=\d{3}[.,]\d{2}(?!\d))| (?=\d{3}[ ,.]))\d{3})+|\d+)"
    r"\s?[,.]\s?(?P<dec>\d{2})(?!\d|[.,]\d|\s?%)(?:\s?(?P<trail>-)(?![\d\w]))?(?:\s?(?P<cur2>€|EUR|Euro))?",
)


def find_amounts(words: list[Word]) -> list[Found]:
    if not words:
        return []
    run = make_run(words)
    text = digitise(run.text)
    found = []
    for match in _AMOUNT_PATTERN.finditer(text):
        integer = re.sub(r"[.,'’ ]", "", match["int"])
        value = Decimal(f"{integer}.{match['dec']}")
        if match["sign"] or match["sign2"] or match["trail"]:
            value = -value
        start, end = match.start(), match.end()
        carrier = run.words_in(start, end)
        printed = run.text[start:end].strip()
        found.append(Found(printed, format_amount(value), carrier, printed != match[0].strip(), value))
    return found


# --- rates -------------------------------------------------------------------------------

_RATE_PATTERN = re.compile(r"(?<![\d,.])(\d{1,2}(?:[,.]\d{1,2})?)\s?%")


def find_rates(words: list[Word]) -> list[Found]:
    """VAT rates like "19 %", "7%", "19,00 %" (up to 30 %: higher numbers are discounts or noise)."""
    if not words:
        return []
    run = make_run(words)
    found = []
    for match in _RATE_PATTERN.finditer(digitise(run.text)):
        rate = normalize_rate(match[1])
        if rate is not None and Decimal(rate) <= 30:
            printed = run.text[match.start() : match.end()]
            found.append(Found(printed, rate, run.words_in(match.start(), match.end()), parsed=Decimal(rate)))
    return found


# --- IBAN --------------------------------------------------------------------------------

_IBAN_START = re.compile(r"(?:(?<![A-Za-z0-9])|(?<=IBAN)|(?<=IBAN:))([A-Za-z]{2})\s?([0-9OIlSBoQ|]{2})")
_IBAN_REPAIRS = {
    "O": "0",
    "o": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "l": "1",
    "|": "1",
    "i": "1",
    "S": "5",
    "B": "8",
    "Z": "2",
}


def _iban_body(text: str, start: int, length: int) -> tuple[str, int] | None:
    """Collect ``length`` IBAN characters from ``start``, skipping single spaces between groups."""
    chars: list[str] = []
    position = start
    while position < len(text) and len(chars) < length:
        char = text[position]
        if char == " ":
            if text[position : position + 2] == "  ":
                break
            position += 1
            continue
        if not char.isalnum() and char != "|":
            break
        chars.append(char)
        position += 1
    if len(chars) != length:
        return None
    return "".join(chars), position


def _repair_iban(raw: str) -> str | None:
    """Repair OCR confusions where the registry says digits belong; only a valid checksum counts."""
    candidate = raw.upper()[:2] + raw[2:]
    if iban_checksum_ok(candidate.upper()):
        return candidate.upper()
    if candidate[:2] != "DE":
        # Only the German BBAN is all digits; elsewhere letters are legitimate and we cannot tell.
        return None
    digits = candidate[:2] + "".join(_IBAN_REPAIRS.get(char, char) for char in candidate[2:])
    if iban_checksum_ok(digits):
        return digits
    return None


def find_ibans(words: list[Word]) -> list[Found]:
    if not words:
        return []
    run = make_run(words)
    text = run.text
    found = []
    for match in _IBAN_START.finditer(text):
        country = match[1].upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        body = _iban_body(text, match.start(), length)
        if body is None:
            continue
        raw, end = body
        iban = _repair_iban(raw)
        if iban is None:
            continue
        carrier = run.words_in(match.start(), end)
        found.append(Found(text[match.start() : end].strip(), iban, carrier, iban != raw.upper()))
    return found


# --- USt-IdNr. ---------------------------------------------------------------------------

_VAT_ID_PATTERN = re.compile(
    r"(?<![A-Z0-9])(?P<prefix>DE|ATU|AT U|[A-Z]{2})\s?(?P<body>[0-9OIlSB](?:\s?[0-9A-Z+*OIlSB]){6,12})(?![0-9])"
)


def find_vat_ids(words: list[Word]) -> list[Found]:
    if not words:
        return []
    run = make_run(words)
    text = run.text
    found = []
    for match in _VAT_ID_PATTERN.finditer(text):
        prefix = match["prefix"].replace(" ", "")
        body = match["body"].replace(" ", "")
        if prefix in ("DE", "ATU"):
            body = "".join(_IBAN_REPAIRS.get(char, char) for char in body)
        # A German IBAN starts "DE" + digits too; its body is longer than nine, the pattern stops at
        # twelve, so check the German length exactly and let the IBAN finder have the rest.
        candidates = [prefix + body[:cut] for cut in range(len(body), 0, -1)]
        for candidate in candidates:
            if vat_id_format_ok(candidate):
                cut = len(candidate) - len(prefix)
                end = _offset_after_chars(text, match.start("body"), cut)
                if candidate.startswith("DE") and end < len(text) and re.match(r"\s?\d", text[end : end + 2]):
                    break
                carrier = run.words_in(match.start(), end)
                found.append(
                    Found(text[match.start() : end].strip(), candidate, carrier, candidate != compact_raw(match[0]))
                )
                break
    return found


def compact_raw(text: str) -> str:
    return re.sub(r"\s", "", text).upper()


def _offset_after_chars(text: str, start: int, count: int) -> int:
    position = start
    seen = 0
    while position < len(text) and seen < count:
        if text[position] != " ":
            seen += 1
        position += 1
    return position


def vat_id_rank(found: Found) -> int:
    """German IDs whose check digit holds beat those where OCR may have changed a digit."""
    return 1 if german_vat_id_check_digit_ok(found.normalized) else 0


# --- BIC ---------------------------------------------------------------------------------

_BIC_PATTERN = re.compile(r"(?<![A-Z0-9])([A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)(?![A-Z0-9])")


def find_bics(words: list[Word]) -> list[Found]:
    run = make_run(words)
    found = []
    for match in _BIC_PATTERN.finditer(run.text):
        bic = match[1]
        if len(bic) == 8 and not any(char.isdigit() for char in bic[6:]):
            # An eight-letter word in capitals is a word, not a BIC without branch code.
            continue
        found.append(Found(bic, bic, run.words_in(match.start(), match.end())))
    return found


# --- identifiers (invoice number, customer number, Steuernummer) -------------------------

_FILLER = re.compile(r"^(?:nr\.?|no\.?|nummer|:|#|-|vom|v\.)$", re.IGNORECASE)
_ID_CHARS = re.compile(r"^[A-Za-z0-9ÄÖÜäöü][A-Za-z0-9ÄÖÜäöü\-/._]*$")


def find_identifier(words: list[Word], *, max_words: int = 3) -> Found | None:
    """An identifier right after a label: "RE-2026-00123", "KNR 0123", "020 234 56789".

    Up to ``max_words`` words: one leading word without digits is allowed when digits follow
    ("KNR 0123"); the value ends at the first word without digits after a digit word, at a
    date, or at a word that ends with a colon (the next label).
    """
    index = 0
    while index < len(words) and _FILLER.match(words[index].text.strip(":")):
        index += 1
    chosen: list[Word] = []
    seen_digit = False
    for word in words[index : index + max_words]:
        text = word.text.rstrip(",;")
        if text.endswith(":") or find_dates([word]):
            break
        if chosen and word.bbox[0] - chosen[-1].bbox[2] > WIDE_GAP_HEIGHTS * height_x(word):
            break
        has_digit = any(char.isdigit() for char in digitise(text))
        if not _ID_CHARS.match(text):
            break
        if not has_digit:
            if seen_digit or chosen:
                break
            if len(text) > 12:
                break
        chosen.append(word)
        seen_digit = seen_digit or has_digit
    while chosen and not any(char.isdigit() for char in chosen[-1].text):
        chosen.pop()
    if not chosen or not seen_digit:
        return None
    printed = " ".join(word.text.rstrip(",;") for word in chosen)
    normalized = " ".join(_digitise_identifier(word.text.rstrip(",;.")) for word in chosen)
    return Found(printed, normalized, chosen, normalized != printed)


def _digitise_identifier(text: str) -> str:
    # Within a group between separators that is mostly digits, a look-alike is a digit
    # ("2O26" -> "2026"); a letter prefix glued to the digits stays letters ("FS25", "LB0001183").
    groups = re.split(r"([\-/._ ])", text)
    result = []
    for group in groups:
        digits = sum(char.isdigit() for char in group)
        if digits >= 2 and digits * 2 >= len(group):
            prefix = re.match(r"[A-Za-zÄÖÜäöü]*", group)[0]
            if all(char in _DIGIT_CONFUSIONS for char in prefix):
                prefix = ""  # nothing but look-alikes before the digits: "O815" is "0815"
            rest = group[len(prefix) :]
            group = prefix + "".join(_DIGIT_CONFUSIONS.get(char, char) for char in rest)
        result.append(group)
    return "".join(result)


# --- currency ----------------------------------------------------------------------------


def find_currency(words: list[Word]) -> Found | None:
    for word in words:
        token = word.text.strip(".,:;()")
        for piece in (token, token[-1:] if token else "", token[:1]):
            currency = normalize_currency(piece)
            if currency is not None:
                return Found(word.text, currency, [word])
        match = re.search(r"(EUR|€|CHF|USD)$", token)
        if match:
            return Found(word.text, normalize_currency(match[1]) or "EUR", [word])
    return None


def as_date(found: Found) -> date:
    return found.parsed  # type: ignore[return-value]
