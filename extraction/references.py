"""The invoice a document refers to: "Bezug: Rechnung Nr. RE-2026-0042", "referring to invoice INV-7".

A credit note (Gutschrift, Rechnungskorrektur) names the invoice it corrects, often with the same
words its own number is printed with ("Rechnung Nr."). A number introduced by reference wording is
the referenced invoice (``reference_invoice_number``) and never the document's own number: taking
it as such books the credit note under the invoice's number. When the own number is not found the
field stays empty and a person looks, rather than the reference standing in for it.

A reminder (Mahnung) is the exception: the invoice it names is the number it is filed under, so
the engine does not apply this rule to reminders.
"""

from dataclasses import dataclass

from extraction.fields import Candidate, region_below
from extraction.labels import Label, LabelMatch, find_labels
from extraction.layout import Line, PageLayout
from extraction.normalize import fold
from extraction.validation import invoice_number_key
from extraction.values import find_identifier

FIELD = "reference_invoice_number"

# Wording that introduces a reference by itself: "Bezug: RE-2026-0042", "Originalrechnung 4711".
_INTRODUCING = (
    ("bezug",), ("bzgl",), ("bezueglich",), ("bezugnehmend", "auf"), ("referring", "to"),
    ("with", "reference", "to"), ("originalrechnung",), ("ursprungsrechnung",), ("bezugsrechnung",),
    ("rechnungsbezug",),
)  # fmt: skip
# Wording that is a reference only when an invoice noun follows: "zu Rechnung", "Ihre Rechnung",
# "credit for invoice". "zu" alone is far too common ("zu zahlen"), "your" too ("your order").
_BEFORE_INVOICE = (
    ("zu",), ("zur",), ("ihre",), ("ihrer",), ("unsere",), ("unserer",), ("urspruengliche",),
    ("urspruenglichen",), ("urspruenglicher",), ("korrektur",), ("storno",), ("stornierung",),
    ("original",), ("your",), ("reference",), ("referenced",), ("related",), ("relating", "to"),
    ("related", "to"), ("refers", "to"), ("credit", "for"), ("credit", "note", "for"), ("correction", "of"),
    ("correction", "to"), ("cancellation", "of"), ("against",), ("regarding",),
)  # fmt: skip
_INVOICE_NOUNS = {
    "rechnung", "rechnungsnummer", "rechnungsnr", "renr", "rgnr", "rechnnr", "invoice", "invoiceno",
    "invoicenumber", "originalrechnung", "ursprungsrechnung",
}  # fmt: skip
# Words that may stand between the wording and the number: "zu Ihrer Rechnung Nr. RE-...".
_BETWEEN = _INVOICE_NOUNS | {
    "nr", "no", "nummer", "number", "der", "die", "den", "unsere", "unserer", "ihre", "ihrer", "ihren",
    "the", "our", "your", "auf", "to", "",
}  # fmt: skip
_MAX_BETWEEN = 5
# Every word of every line is tried as the start of a wording; most start none.
_FIRST_WORDS = frozenset(phrase[0] for phrase in (*_INTRODUCING, *_BEFORE_INVOICE))

RIGHT_STRENGTH = 0.9
BELOW_STRENGTH = 0.85


@dataclass
class Reference:
    """One referenced number with the words that announced it (wording and invoice nouns)."""

    candidate: Candidate
    wording: list


def find_references(layouts: list[PageLayout], excluded: set[tuple[int, int]]) -> list[Reference]:
    """Every number on the pages that reference wording introduces, in reading order."""
    references = []
    for page in layouts:
        for line in page.lines:
            if (page.number, line.index) in excluded:
                continue
            references.extend(_line_references(line, page))
    return references


def reference_candidate(references: list[Reference]) -> Candidate | None:
    """The referenced invoice: the strongest reference, the first on the page among equals."""
    if not references:
        return None
    return max(
        (reference.candidate for reference in references),
        key=lambda c: (round(c.strength, 3), -c.page, -(c.line.index if c.line else 0)),
    )


def without_references(candidates: list[Candidate], references: list[Reference]) -> list[Candidate]:
    """``candidates`` less every own-number candidate that is a referenced number.

    Judged by the words (the same printed number) and by the value (the reference printed once
    more elsewhere, "Rechnung RE-2026-0042" in the title of a Rechnungskorrektur).
    """
    if not references:
        return candidates
    words = {id(word) for reference in references for word in reference.candidate.found.words}
    keys = {invoice_number_key(reference.candidate.found.normalized) for reference in references}
    return [
        candidate
        for candidate in candidates
        if candidate.field != "invoice_number"
        or not (
            any(id(word) in words for word in candidate.found.words)
            or invoice_number_key(candidate.found.normalized) in keys
        )
    ]


def _line_references(line: Line, page: PageLayout) -> list[Reference]:
    folds = [fold(word.text) for word in line.words]
    found = []
    start = 0
    while start < len(folds):
        end = _reference_end(folds, start)
        if end is None:
            start += 1
            continue
        reference = _value_after(line, page, start, end)
        if reference is not None:
            found.append(reference)
            start = end
        else:
            start += 1
    return found


def _reference_end(folds: list[str], start: int) -> int | None:
    """Where the wording starting at ``start`` and its invoice nouns end, if it is reference wording."""
    if folds[start] not in _FIRST_WORDS:
        return None
    for phrases, needs_noun in ((_INTRODUCING, False), (_BEFORE_INVOICE, True)):
        for phrase in phrases:
            if tuple(folds[start : start + len(phrase)]) != phrase:
                continue
            end = start + len(phrase)
            noun = False
            while end < len(folds) and end - start - len(phrase) < _MAX_BETWEEN and folds[end] in _BETWEEN:
                noun = noun or folds[end] in _INVOICE_NOUNS
                end += 1
            if needs_noun and not noun:
                continue
            return end
    return None


def _value_after(line: Line, page: PageLayout, start: int, end: int) -> Reference | None:
    wording = line.words[start:end]
    text = " ".join(word.text for word in wording)
    rest = line.words[end:]
    if rest and any(char.isdigit() for char in rest[0].text):
        # The number follows at once ("zu Rechnung RE-...", "Bezug:   RE-..." across a tab stop).
        found = find_identifier(rest, max_words=2)
        if found is None:
            return None
        return Reference(Candidate(FIELD, found, page.number, f"bezug:{text}", RIGHT_STRENGTH, line), wording)
    if rest and any(rest[0] is word for word in line.segment_of(wording[-1])):
        return None  # a word without digits in between: the wording introduced something else
    # Nothing after the wording in its column: a label above its value ("Zu Rechnung" over the number).
    match = LabelMatch(Label(FIELD, text), line, start, end, 0)
    neighbours = [other for other in find_labels(line) if other.end <= start or other.start >= end]
    found = find_identifier(region_below(match, page, [*neighbours, match]), max_words=2)
    if found is None:
        return None
    return Reference(Candidate(FIELD, found, page.number, f"bezug-darunter:{text}", BELOW_STRENGTH, line), wording)
