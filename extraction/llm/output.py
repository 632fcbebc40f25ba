"""The model's answer, checked: schema, normalisation (checksums included), sums, evidence on the page.

A value counts as *verified* only when the words of one printed line normalise to it, which also
gives the clerk a box to look at; amounts must appear printed with cents, so a stray "0" in a
sentence is no evidence for a total of 0,00. Everything else is *unverified* and says so.
"""

import json
import re
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

from extraction.layout import PageLayout, union_bbox
from extraction.llm.prompt import MODEL_FIELDS
from extraction.llm.transport import ModelOutputError
from extraction.normalize import AMOUNT_FIELDS, normalize_field
from extraction.types import FieldValue, ValidationCheck
from extraction.validation import validate

MAX_VALUE_CHARS = 200
MAX_WORDS = {"iban": 9, "supplier_name": 8}
DEFAULT_MAX_WORDS = 5
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_PRINTED_CENTS = re.compile(r"\d[,.]\d{2}(?!\d)")


@dataclass(slots=True)
class Suggestion:
    """One field the model proposed, and what the checks made of it."""

    name: str
    value: str
    normalized: str = ""
    problem: str = ""  # why the value was refused (not a valid date, bad IBAN checksum, ...)
    verified: bool = False
    page: int | None = None
    bbox: list[float] | None = None
    # Filled in by services: "agrees" (same as rules/e-invoice/supplier data), "conflicts", "applied", "".
    comparison: str = ""
    other_value: str = ""
    applied: bool = False  # written into an empty field (source "model")

    @property
    def usable(self) -> bool:
        return not self.problem

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "normalized": self.normalized,
            "problem": self.problem,
            "verified": self.verified,
            "page": self.page,
            "bbox": self.bbox,
            "comparison": self.comparison,
            "other_value": self.other_value,
            "applied": self.applied,
        }


def parse_answer(content: str) -> tuple[dict[str, str], list[str]]:
    """The field values of the model's JSON object, and the keys it invented (ignored).

    Raises ``ModelOutputError`` unless the content is one JSON object of texts and numbers.
    """
    text = content.strip()
    if fenced := _FENCE.match(text):
        text = fenced[1]
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelOutputError(_("Die Antwort des Modells ist kein gültiges JSON.")) from exc
    if not isinstance(data, dict):
        raise ModelOutputError(_("Die Antwort des Modells ist kein JSON-Objekt."))
    values, unknown = {}, []
    for key, value in data.items():
        if key not in MODEL_FIELDS:
            unknown.append(str(key)[:50])
            continue
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ModelOutputError(
                _("Das Modell lieferte für „%(field)s“ keinen Text, sondern %(type)s.")
                % {"field": key, "type": type(value).__name__}
            )
        values[key] = str(value).strip()[:MAX_VALUE_CHARS]
    return values, unknown


def check_values(values: dict[str, str], layouts: list[PageLayout]) -> list[Suggestion]:
    """Normalise each value as a clerk's typing is (IBAN, USt-IdNr. checksums included); find it on the page."""
    suggestions = []
    for name, value in values.items():
        suggestion = Suggestion(name=name, value=value)
        try:
            suggestion.normalized = normalize_field(name, value)
        except ValueError as exc:
            suggestion.problem = str(exc)
            suggestions.append(suggestion)
            continue
        for page_number, words in _occurrences(layouts, name, suggestion.normalized):
            printed = " ".join(word.text for word in words)
            if name in AMOUNT_FIELDS and not _PRINTED_CENTS.search(printed):
                continue
            suggestion.verified = True
            suggestion.page = page_number
            suggestion.bbox = [round(c, 5) for c in union_bbox(words)]
            break
        suggestions.append(suggestion)
    return suggestions


def _occurrences(layouts: list[PageLayout], name: str, expected: str):
    """(page number, words) of each run of words on one line that normalises to ``expected``.

    Like ``learning.rules.locate_value``, but an IBAN printed in groups of four takes up to nine
    words, and a company name several.
    """
    limit = MAX_WORDS.get(name, DEFAULT_MAX_WORDS)
    for page in layouts:
        for line in page.lines:
            words = line.words
            for start in range(len(words)):
                for size in range(1, min(limit, len(words) - start) + 1):
                    run = words[start : start + size]
                    try:
                        value = normalize_field(name, " ".join(word.text for word in run))
                    except ValueError:
                        continue
                    if value == expected:
                        yield page.number, run


def combined_checks(
    suggestions: list[Suggestion], existing: dict[str, str], *, document_type: str, today: date
) -> list[ValidationCheck]:
    """The cross-field checks (sums, dates, checksums) over the fields as they would be with the suggestions.

    ``existing`` maps field names to the document's current normalised values, which win: the
    model only fills gaps, so only the gaps it fills are checked together with what is there.
    """
    fields = {name: FieldValue(name, value, value, 1.0) for name, value in existing.items() if value}
    for suggestion in suggestions:
        if suggestion.usable and suggestion.name not in fields:
            fields[suggestion.name] = FieldValue(suggestion.name, suggestion.value, suggestion.normalized, 0.0)
    try:
        return validate(fields, document_type or "unknown", vat_rates=[], today=today)
    except (ValueError, ArithmeticError):
        # A stored value in an unexpected form (hand-edited data): no cross-field verdict rather than a crash.
        return []
