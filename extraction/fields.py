"""Header and payment fields: label first, value to the right or below, pattern fallbacks.

Each rule proposes :class:`Candidate` values with a *strength* (how much the rule itself is
worth: an exact label with the value beside it beats a pattern found anywhere on the page);
``extract_fields`` picks one candidate per field. Amounts are chosen together in
``amounts.py`` because net + USt = total decides between them.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from extraction.labels import LabelMatch, find_labels
from extraction.layout import PAGE_ASPECT, Line, PageLayout
from extraction.normalize import format_amount, normalize_rate, parse_amount
from extraction.values import (
    Found,
    find_bics,
    find_currency,
    find_dates,
    find_ibans,
    find_identifier,
    find_vat_ids,
    first_date,
    vat_id_rank,
)

DATE_FIELDS = ("invoice_date", "due_date", "delivery_date")
ID_FIELDS = ("invoice_number", "order_number", "customer_number", "supplier_tax_number")
AMOUNT_FIELDS = ("net_amount", "vat_amount", "total_amount")

# How far below a label a value may stand, in line heights ("label above value" layouts).
BELOW_MAX_HEIGHTS = 3.2

# A reference to another document: "Gutschrift zu Rechnung Nr. RE-..." names the invoice
# being corrected, not this document's number.
_REFERENCE_WORDS = {"zu", "zur", "bezug", "bzgl", "ursprungliche", "urspruengliche", "storno", "korrektur", "ihre"}


@dataclass
class Candidate:
    field: str
    found: Found
    page: int
    rule: str
    strength: float
    line: Line | None = None


@dataclass
class LabelContext:
    match: LabelMatch
    page: PageLayout
    line_labels: list[LabelMatch]


def region_right(match: LabelMatch, line_labels: list[LabelMatch]) -> list:
    """Words after the label on its line, up to the next label; across one column gap at most."""
    line = match.line
    # A "label" of the same field inside the value is part of it: "Bestellnummer: Bestellung 0277".
    following = [other.start for other in line_labels if other.start >= match.end and other.field != match.field]
    next_label = min(following, default=len(line.words))
    words = line.words[match.end : next_label]
    if not words:
        return []
    label_segment = line.segment_of(match.words[-1])
    in_segment = [word for word in words if any(word is other for other in label_segment)]
    if in_segment:
        return words
    # The value sits in the next column (tab stop after the label): take that segment only.
    next_segment = line.segment_of(words[0])
    return [word for word in words if any(word is other for other in next_segment)]


def region_below(match: LabelMatch, page: PageLayout, line_labels: list[LabelMatch] = ()) -> list:
    """The words under the label in the next line or two, when the value is printed beneath it.

    The column is bounded by the neighbouring labels on the label's line, so a row of values
    printed with narrow gaps is still cut into the right cells.
    """
    x0, x1 = match.words[0].bbox[0], match.words[-1].bbox[2]
    height = match.line.height * PAGE_ASPECT
    left = max((o.words[-1].bbox[2] for o in line_labels if o.end <= match.start), default=-1.0) + height / 2
    # Values start at most a little left of their label (right-aligned amounts under short labels).
    left = max(left, x0 - 2 * height)
    right = min((o.words[0].bbox[0] for o in line_labels if o.start >= match.end), default=2.0) - height / 2
    for line in page.lines[match.line.index + 1 : match.line.index + 3]:
        if line.bbox[1] - match.line.bbox[3] > BELOW_MAX_HEIGHTS * match.line.height:
            break
        hits = [w for w in line.words if w.bbox[0] < x1 + height and w.bbox[2] > x0 - height and left < w.bbox[0]]
        hits = [w for w in hits if w.bbox[0] < right]
        if hits:
            segment = line.segment_of(hits[0])
            return [w for w in segment if left < w.bbox[0] < right]
    return []


def label_contexts(layouts: list[PageLayout], excluded: set[tuple[int, int]]) -> list[LabelContext]:
    contexts = []
    for page in layouts:
        for line in page.lines:
            if (page.number, line.index) in excluded:
                continue
            matches = find_labels(line)
            contexts.extend(LabelContext(match, page, matches) for match in matches)
    return contexts


def _is_reference(match: LabelMatch) -> bool:
    before = {re.sub(r"\W", "", word.text.lower()) for word in match.line.words[max(0, match.start - 3) : match.start]}
    return bool(before & _REFERENCE_WORDS)


def _strength(match: LabelMatch, below: bool) -> float:
    strength = (0.95 if match.exact else 0.85) * match.label.weight
    return strength * (0.94 if below else 1.0)


def _parse(field: str, words: list) -> Found | None:
    if field in DATE_FIELDS:
        return first_date(words[:5])
    if field in ID_FIELDS:
        return find_identifier(words, max_words=3 if field != "invoice_number" else 2)
    if field == "iban":
        found = find_ibans(words)
        return found[0] if found else None
    if field == "supplier_vat_id":
        found = find_vat_ids(words)
        return found[0] if found else None
    if field == "bic":
        found = find_bics(words[:3])
        return found[0] if found else None
    return None


def labelled_candidates(contexts: list[LabelContext], document_type: str) -> list[Candidate]:
    candidates = []
    for context in contexts:
        match = context.match
        field = match.field
        if field in AMOUNT_FIELDS:
            continue
        below = False
        found = _parse(field, region_right(match, context.line_labels))
        if found is None:
            found = _parse(field, region_below(match, context.page, context.line_labels))
            below = found is not None
        if found is None:
            continue
        strength = _strength(match, below)
        if field == "invoice_number":
            strength *= _invoice_number_preference(match, document_type)
        rule = ("label-below:" if below else "label:") + match.label.text
        candidates.append(Candidate(field, found, context.page.number, rule, strength, match.line))
    return candidates


def _invoice_number_preference(match: LabelMatch, document_type: str) -> float:
    folded = match.label.folded
    if _is_reference(match):
        return 0.5
    if document_type == "credit_note":
        return 1.0 if folded.startswith(("gutschrift", "creditnote")) else 0.7
    return 1.0


def pattern_candidates(layouts: list[PageLayout]) -> list[Candidate]:
    """IBAN, USt-IdNr. and BIC found by their shape anywhere (footers often print them unlabelled)."""
    candidates = []
    for page in layouts:
        for line in page.lines:
            for found in find_ibans(line.words):
                candidates.append(Candidate("iban", found, page.number, "pattern:iban", 0.82, line))
            for found in find_vat_ids(line.words):
                if found.normalized.startswith("DE"):
                    strength = 0.7 if vat_id_rank(found) else 0.6
                    rule = "pattern:ust-idnr"
                    candidates.append(Candidate("supplier_vat_id", found, page.number, rule, strength, line))
    return candidates


def _best(candidates: list[Candidate]) -> Candidate:
    # Strongest rule first; among equals the earliest on the page (headers before the body).
    return max(candidates, key=lambda c: (round(c.strength, 3), -c.page, -(c.line.index if c.line else 0)))


def choose(candidates: list[Candidate]) -> dict[str, Candidate]:
    by_field: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_field.setdefault(candidate.field, []).append(candidate)
    chosen = {}
    for field, options in by_field.items():
        if field == "iban":
            options = _agreeing(options)
        if field == "supplier_vat_id":
            ranked = [c for c in options if vat_id_rank(c.found)]
            options = ranked or options
        chosen[field] = _best(options)
    return chosen


def _agreeing(options: list[Candidate]) -> list[Candidate]:
    # A labelled IBAN beats a bare one, but a value printed twice (letter body and footer)
    # is more trustworthy than either: raise the strength of repeated values a little.
    counts: dict[str, int] = {}
    for option in options:
        counts[option.found.normalized] = counts.get(option.found.normalized, 0) + 1
    for option in options:
        if counts[option.found.normalized] > 1:
            option.strength = min(1.0, option.strength + 0.03)
    return options


def fallback_invoice_date(layouts: list[PageLayout], taken: set[str]) -> Candidate | None:
    """The first date in the upper half of page 1 that no other date field has claimed ("Köln, 03.11.2026")."""
    if not layouts:
        return None
    page = layouts[0]
    for line in page.lines:
        if line.bbox[1] > 0.5:
            break
        for found in find_dates(line.words):
            if found.normalized not in taken:
                return Candidate("invoice_date", found, page.number, "fallback:erstes-datum", 0.5, line)
    return None


_TERM_PATTERN = re.compile(
    r"(?:zahlbar|zahlung|zahlungsziel|zahlungsbedingung\w*|faellig|zu zahlen|netto|ohne abzug)"
    r"[^.\d]{0,40}?(\d{1,3})\s*(?:kalender)?tage?n?",
)
_TERM_AFTER_PATTERN = re.compile(r"(\d{1,3})\s*tage?n?\s*(?:netto|rein netto|ohne abzug)")
_IMMEDIATE_PATTERN = re.compile(r"(?:zahlbar|faellig)\s+(?:sofort|umgehend)")
# English terms on invoices of German suppliers: "Payment due within 14 days net", "Net 30 days",
# "2 % discount if paid within 10 days".
_TERM_PATTERN_EN = re.compile(r"(?:payment|payable|due|pay|net)[^.\d]{0,30}?(\d{1,3})\s*days?")
_TERM_AFTER_PATTERN_EN = re.compile(r"(\d{1,3})\s*days?\s*(?:net|without deduction)")
_NET_WORDS = ("netto", "ohne abzug", "net", "without deduction")
_DISCOUNT_WORDS = ("skonto", "discount")


def _simplify(text: str) -> str:
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return re.sub(r"\s+", " ", text)


def payment_term_due_date(layouts: list[PageLayout], invoice_date: Candidate) -> Candidate | None:
    """ "Zahlbar innerhalb von 14 Tagen ohne Abzug" -> invoice date + 14 days.

    With Skonto terms ("10 Tage 2 % Skonto, 30 Tage netto") the net term is the due date: the
    term next to "netto"/"ohne Abzug" wins, otherwise the longest.
    """
    best: tuple[int, int, Line, int] | None = None  # (priority, days, line, page)
    for page in layouts:
        for line in page.lines:
            text = _simplify(line.text)
            terms = []
            for match in (*_TERM_PATTERN.finditer(text), *_TERM_PATTERN_EN.finditer(text)):
                tail = text[match.end() : match.end() + 25]
                net = any(word in tail or word in match[0] for word in _NET_WORDS)
                if any(word in tail or word in match[0] for word in _DISCOUNT_WORDS):
                    net = False
                terms.append((int(match[1]), net))
            for pattern in (_TERM_AFTER_PATTERN, _TERM_AFTER_PATTERN_EN):
                terms.extend((int(match[1]), True) for match in pattern.finditer(text))
            if _IMMEDIATE_PATTERN.search(text):
                terms.append((0, True))
            for days, net in terms:
                if days > 120:
                    continue
                key = (1 if net else 0, days)
                if best is None or key > best[:2]:
                    best = (key[0], days, line, page.number)
    if best is None:
        return None
    _, days, line, page_number = best
    due = invoice_date.found.parsed + timedelta(days=days)
    found = Found(line.text, due.isoformat(), list(line.words), parsed=due)
    strength = 0.85 * min(1.0, invoice_date.strength + 0.1)
    return Candidate("due_date", found, page_number, f"zahlungsziel:{days}-tage", strength, line)


def currency_candidate(layouts: list[PageLayout], near: Candidate | None) -> Candidate | None:
    """The currency printed next to the total, else the first currency sign on the document."""
    if near is not None and near.line is not None:
        found = find_currency(near.line.words)
        if found is not None:
            return Candidate("currency", found, near.page, "neben:gesamtbetrag", 0.95, near.line)
    for page in layouts:
        for line in page.lines:
            found = find_currency(line.words)
            if found is not None:
                return Candidate("currency", found, page.number, "symbol", 0.8, line)
    return None


def bic_fallback(layouts: list[PageLayout], iban: Candidate | None) -> Candidate | None:
    """A BIC on the same line as the IBAN ("IBAN DE.. · BIC COLSDE33XXX") when no label named it."""
    if iban is None or iban.line is None:
        return None
    iban_words = {id(word) for word in iban.found.words}
    rest = [word for word in iban.line.words if id(word) not in iban_words]
    for found in find_bics(rest):
        if not found.normalized.startswith(("IBAN", "BIC")):
            return Candidate("bic", found, iban.page, "pattern:bic-neben-iban", 0.75, iban.line)
    return None


# Skonto (cash discount) in the payment terms: "Bei Zahlung innerhalb 10 Tagen 2 % Skonto (39,70 €)",
# "2 % Skonto bei Zahlung innerhalb von 10 Tagen", "2 % discount (39,70 €) if paid within 10 days".
_AMOUNT_IN_PARENS = r"(?:\s*\(([^)]{1,30})\))?"
_SKONTO_PATTERNS = (
    # days first, then rate: "innerhalb (von) 10 Tagen 2 % Skonto (39,70 €)"
    re.compile(r"(\d{1,3})\s*tage?n?,?\s+(\d{1,2}(?:[.,]\d{1,2})?)\s*%\s*skonto" + _AMOUNT_IN_PARENS),
    # rate first: "2 % Skonto (39,70 €) bei Zahlung innerhalb (von) 10 Tagen", the English wording
    re.compile(
        r"(\d{1,2}(?:[.,]\d{1,2})?)\s*%\s*(?:skonto|(?:cash\s)?discount)"
        + _AMOUNT_IN_PARENS
        + r"[^.%\d]{0,40}?(\d{1,3})\s*(?:tage?n?|days?)"
    ),
)
SKONTO_STRENGTH = 0.85


def skonto_candidates(layouts: list[PageLayout]) -> dict[str, Candidate]:
    """Rate, days and (where printed) amount of the first Skonto term, as ``skonto_*`` candidates."""
    for page in layouts:
        lines = page.lines
        for index, line in enumerate(lines):
            # A sentence may wrap: read the line together with the next one.
            following = lines[index + 1] if index + 1 < len(lines) else None
            words = list(line.words) + (list(following.words) if following is not None else [])
            text = _simplify(" ".join(word.text for word in words))
            found = _skonto_in(text)
            if found is None or found[3] >= len(_simplify(line.text)):
                continue  # nothing, or a term that starts on the next line: found there
            rate, days, amount, _start = found
            values = {"skonto_rate": rate, "skonto_days": days}
            if amount is not None:
                values["skonto_amount"] = amount
            return {
                name: Candidate(
                    name, Found(raw, normalized, words), page.number, "zahlungsbedingung:skonto", SKONTO_STRENGTH, line
                )
                for name, (raw, normalized) in values.items()
            }
    return {}


def _skonto_in(text: str) -> tuple[tuple[str, str], tuple[str, str], tuple[str, str] | None, int] | None:
    for number, pattern in enumerate(_SKONTO_PATTERNS):
        match = pattern.search(text)
        if match is None:
            continue
        if number == 0:
            raw_days, raw_rate, raw_amount = match[1], match[2], match[3]
        else:
            raw_rate, raw_amount, raw_days = match[1], match[2], match[3]
        rate = normalize_rate(raw_rate)
        days = int(raw_days)
        if rate is None or not 0 < Decimal(rate) < 10 or not 0 < days <= 90:
            continue  # not a cash discount: "19 % skonto" is a misread VAT line, 120 days no early payment
        amount = None
        if raw_amount is not None:
            parsed = parse_amount(raw_amount.replace("€", " ").strip())
            if parsed is not None and parsed > 0:
                amount = (raw_amount.strip(), format_amount(parsed))
        return (raw_rate, rate), (raw_days, str(days)), amount, match.start()
    return None
