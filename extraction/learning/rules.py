"""Supplier rules learned from corrections: find the accepted value on the page, derive rules, keep the best.

For one supplier, one document type and one field, the reviewed documents (``Example``) carry
their page layouts, the value the clerk accepted, and what extraction gives now. For every
place the accepted value is printed (``locate_value``), ``derive_candidates`` proposes:

* an anchor rule on the printed label right of which the value stands (the words before it in
  the same column segment, or the segment before), or above which it stands (the line above,
  starting over the value);
* a position rule on the value's box on the page, a little wider, because values differ in
  length;

each with and without a value pattern (digits as ``\\d+``, the supplier's constant letters kept:
"RE-2025-0042" gives ``RE-\\d+-\\d+``), so a label that is followed by more text still yields the
value alone. Candidates of several documents with the same label merge (the largest distance,
the union of the boxes).

``choose`` runs every candidate on every example the way processing would (a supplier rule's
hit merged with the built-in value by ``extraction.rules.merge_hits``) and takes the best one
only when it beats processing as it is now: more documents right, or all of them right where
processing was right only unsurely (``UNSURE_CONFIDENCE``, e.g. "the first date on the page").
A rule that merely ties with a sure reading is not worth the risk of the next layout change.
"""

import json
import re
from dataclasses import dataclass, field

from extraction.layout import PageLayout, union_bbox
from extraction.normalize import fold, normalize_field
from extraction.rules import ANCHOR, POSITION, RuleSpec, merge_hits, run_rule
from extraction.types import FieldValue
from ocr.types import Word

# Fields a printed label and a position can find. supplier_name comes from master data,
# vat_rate and currency are read with the amounts.
LEARNABLE_FIELDS = (
    "invoice_number", "invoice_date", "due_date", "delivery_date", "order_number", "customer_number",
    "supplier_vat_id", "supplier_tax_number", "iban", "bic", "net_amount", "vat_amount", "total_amount",
)  # fmt: skip
# Identifiers whose printed form is free text: only a pattern separates them from what follows.
PATTERN_FIELDS = ("invoice_number", "order_number", "customer_number", "supplier_tax_number")
MAX_VALUE_WORDS = 5
MAX_LABEL_WORDS = 4
MAX_OCCURRENCES = 3
LABEL_GAP = 0.4  # a label further left than this (share of the page width) belongs to something else
BELOW_GAP = 0.06
DISTANCE_MARGIN = 0.05
BOX_MARGIN_X = 0.015
BOX_MARGIN_Y = 0.006
BOX_GROWTH = 0.06  # values of the next document may be longer
# A right value read this unsurely (a fallback such as "the first date on the page") is luck: a
# rule that reads it as reliably from the supplier's label is worth having even without a gain.
UNSURE_CONFIDENCE = 0.75
# Ties between candidates: a label survives a shifted layout, a fixed box does not.
TYPE_PREFERENCE = {ANCHOR: 0, POSITION: 1}


@dataclass(slots=True)
class Example:
    """One reviewed document, as learning sees it.

    ``truth``: field -> accepted normalised value; ``current``: field -> normalised value that
    processing with the current rules gives; ``plain``: field -> value without the supplier's
    learned rules (what a new learned rule competes with).
    """

    key: str
    layouts: list[PageLayout]
    truth: dict[str, str]
    current: dict[str, str | None] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    plain: dict[str, FieldValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Candidate:
    rule_type: str
    config: dict

    @property
    def key(self) -> str:
        return json.dumps({"type": self.rule_type, **self.config}, sort_keys=True)


@dataclass(slots=True)
class Choice:
    """The winning candidate and what it measured; ``documents`` are the examples' keys."""

    candidate: Candidate
    correct: int
    baseline_correct: int
    documents: list[str]
    wrong_documents: list[str]

    def measurement(self) -> dict:
        return {
            "documents": len(self.documents),
            "correct": self.correct,
            "baseline_correct": self.baseline_correct,
            "document_ids": self.documents,
            "wrong_document_ids": self.wrong_documents,
        }


# --- where the value is printed ------------------------------------------------------------------


@dataclass(slots=True)
class Occurrence:
    page: PageLayout
    line_index: int
    start: int
    words: list[Word]

    @property
    def bbox(self):
        return union_bbox(self.words)


def _normalized(field_name: str, text: str) -> str | None:
    try:
        return normalize_field(field_name, text)
    except ValueError:
        return None


def locate_value(layouts: list[PageLayout], field_name: str, expected: str) -> list[Occurrence]:
    """The shortest word runs on a line that normalise to ``expected``, in reading order."""
    found = []
    for page in layouts:
        for line_index, line in enumerate(page.lines):
            start = 0
            while start < len(line.words):
                for size in range(1, MAX_VALUE_WORDS + 1):
                    words = line.words[start : start + size]
                    if len(words) < size:
                        break
                    if _normalized(field_name, " ".join(word.text for word in words)) == expected:
                        found.append(Occurrence(page, line_index, start, words))
                        start += size - 1
                        break
                start += 1
                if len(found) >= MAX_OCCURRENCES:
                    return found
    return found


# --- candidates ----------------------------------------------------------------------------------


def value_pattern(text: str) -> str:
    """A regex for values shaped like ``text``: digit runs vary, the supplier's letters and signs stay."""
    parts = []
    for token in re.findall(r"\d+|[^\W\d_]+|\s+|.", text):
        if token.isdigit():
            parts.append(r"\d+")
        elif token.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(token))
    # Not inside a longer token: "RE-\d+" must not take "XRE-12" apart.
    return r"(?<![\w-])(" + "".join(parts) + r")(?![\w-])"


def _label_text(words: list[Word]) -> str:
    # Words with digits are values of a neighbouring field, never part of a label.
    words = words[-MAX_LABEL_WORDS:]
    while words and any(char.isdigit() for char in words[0].text):
        words = words[1:]
    if not words or any(char.isdigit() for word in words for char in word.text):
        return ""
    text = " ".join(word.text for word in words)
    return text if fold(text) else ""


def _label_left(occurrence: Occurrence) -> tuple[str, float] | None:
    line = occurrence.page.lines[occurrence.line_index]
    segments = line.segments or [line.words]
    first = occurrence.words[0]
    for index, segment in enumerate(segments):
        if first not in segment:
            continue
        before = segment[: segment.index(first)]
        if not before and index:
            before = segments[index - 1]
        if not before:
            return None
        gap = first.bbox[0] - before[-1].bbox[2]
        label = _label_text(before)
        if label and 0 <= gap <= LABEL_GAP:
            return label, round(min(1.0, gap + DISTANCE_MARGIN), 3)
        return None
    return None


def _label_above(occurrence: Occurrence) -> tuple[str, float] | None:
    x0, y0, _, _ = occurrence.bbox
    above = [line for line in occurrence.page.lines if line.bbox[3] <= y0 + 0.002 and y0 - line.bbox[3] <= BELOW_GAP]
    if not above:
        return None
    line = max(above, key=lambda candidate: candidate.bbox[3])
    for segment in line.segments or [line.words]:
        sx0, _, sx1, _ = union_bbox(segment)
        height = max(segment[0].bbox[3] - segment[0].bbox[1], 0.005)
        if sx0 - 2 * height <= x0 <= sx1:
            label = _label_text(segment)
            if label:
                return label, round(min(1.0, y0 - line.bbox[3] + DISTANCE_MARGIN), 3)
    return None


def _box(occurrence: Occurrence) -> dict:
    x0, y0, x1, y1 = occurrence.bbox
    left, top = max(0.0, x0 - BOX_MARGIN_X), max(0.0, y0 - BOX_MARGIN_Y)
    right, bottom = min(1.0, x1 + BOX_MARGIN_X + BOX_GROWTH), min(1.0, y1 + BOX_MARGIN_Y)
    return {"page": occurrence.page.number, "x": left, "y": top, "width": right - left, "height": bottom - top}


def derive_candidates(examples: list[Example], field_name: str) -> list[Candidate]:
    """Anchor and position candidates for ``field_name`` from where the accepted values are printed."""
    anchors: dict[tuple, float] = {}
    boxes: dict[tuple, list[dict]] = {}
    for example in examples:
        expected = example.truth.get(field_name)
        if not expected:
            continue
        for occurrence in locate_value(example.layouts, field_name, expected):
            text = " ".join(word.text for word in occurrence.words)
            patterns = [None, value_pattern(text)] if field_name in PATTERN_FIELDS else [None]
            for direction, found in (("right", _label_left(occurrence)), ("below", _label_above(occurrence))):
                if found is None:
                    continue
                label, distance = found
                for pattern in patterns:
                    key = (fold(label), label, direction, pattern)
                    anchors[key] = max(anchors.get(key, 0.0), distance)
            for pattern in patterns:
                boxes.setdefault((occurrence.page.number, pattern), []).append(_box(occurrence))
    candidates = []
    for (_, label, direction, pattern), distance in anchors.items():
        config = {"label": label, "direction": direction, "max_distance": distance}
        if pattern:
            config["pattern"] = pattern
        candidates.append(Candidate(ANCHOR, config))
    for (page, pattern), found in boxes.items():
        for box in _merged_boxes(found):
            config = {**box, "page": page}
            if pattern:
                config["pattern"] = pattern
            candidates.append(Candidate(POSITION, config))
    unique = {candidate.key: candidate for candidate in candidates}
    return [unique[key] for key in sorted(unique)]


def _merged_boxes(boxes: list[dict]) -> list[dict]:
    """Each box, and their union when they lie close (the same slot of the same layout)."""
    result = [_rounded(box) for box in boxes]
    if len(boxes) > 1:
        left = min(box["x"] for box in boxes)
        top = min(box["y"] for box in boxes)
        right = max(box["x"] + box["width"] for box in boxes)
        bottom = max(box["y"] + box["height"] for box in boxes)
        if bottom - top <= 0.1:
            result.append(_rounded({"x": left, "y": top, "width": right - left, "height": bottom - top}))
    return result


def _rounded(box: dict) -> dict:
    # Rounding down x/y and up the size keeps the box inside the page and around the value.
    x, y = int(box["x"] * 1000) / 1000, int(box["y"] * 1000) / 1000
    width = min(1.0 - x, -int(-(box["x"] + box["width"] - x) * 1000) / 1000)
    height = min(1.0 - y, -int(-(box["y"] + box["height"] - y) * 1000) / 1000)
    return {"x": x, "y": y, "width": round(width, 3), "height": round(height, 3)}


# --- evaluation ----------------------------------------------------------------------------------


def candidate_spec(candidate: Candidate, *, field_name: str, supplier_id: str | None, document_type: str) -> RuleSpec:
    return RuleSpec(
        id="kandidat",
        name="kandidat",
        field_name=field_name,
        rule_type=candidate.rule_type,
        config=candidate.config,
        supplier_id=supplier_id,
        document_type=document_type,
    )


def outcome(spec: RuleSpec, example: Example) -> str | None:
    """The normalised value processing would keep for the field if ``spec`` were the supplier's rule."""
    hit, _ = run_rule(example.layouts, spec)
    plain = example.plain.get(spec.field_name)
    if hit is None:
        return plain.normalized if plain is not None else None
    merged = merge_hits({spec.field_name: plain} if plain is not None else {}, {spec.field_name: hit})
    return merged[spec.field_name].normalized


def choose(
    examples: list[Example],
    field_name: str,
    *,
    supplier_id: str | None,
    document_type: str,
    current_key: str | None = None,
    refused: frozenset[str] = frozenset(),
) -> Choice | None:
    """The best candidate if it beats the current result on ``examples``; None otherwise.

    ``current_key`` is the learned rule in force (``Candidate.key``): choosing it again means
    nothing changes, so None. ``refused`` are configurations an admin rolled back.
    """
    judged = [example for example in examples if example.truth.get(field_name)]
    if not judged:
        return None
    baseline = sum(example.current.get(field_name) == example.truth[field_name] for example in judged)
    best = None
    for candidate in derive_candidates(judged, field_name):
        if candidate.key in refused:
            continue
        spec = candidate_spec(candidate, field_name=field_name, supplier_id=supplier_id, document_type=document_type)
        right, wrong = [], []
        for example in judged:
            (right if outcome(spec, example) == example.truth[field_name] else wrong).append(example.key)
        # Without a pattern first when both work: an order number's format is the customer's, not fixed.
        rank = (-len(right), TYPE_PREFERENCE[candidate.rule_type], "pattern" in candidate.config, candidate.key)
        if best is None or rank < best[0]:
            best = (rank, Choice(candidate, len(right), baseline, [example.key for example in judged], wrong))
    if best is None:
        return None
    choice = best[1]
    if choice.candidate.key == current_key:
        return None
    unsure = any(example.confidence.get(field_name, 0.0) < UNSURE_CONFIDENCE for example in judged)
    if choice.correct > baseline or (unsure and choice.correct == baseline == len(judged)):
        return choice
    return None


# --- one learning run ----------------------------------------------------------------------------


def make_example(key: str, pages, truth: dict[str, str], *, specs, learned_ids, supplier_id) -> Example:
    """Run extraction on stored ``pages`` with the rules in force, and without the learned ones."""
    from extraction.engine import extract
    from extraction.layout import build_layouts

    specs = list(specs)
    current = extract(pages, rules=specs, supplier_id=supplier_id)
    plain_specs = [spec for spec in specs if spec.id not in learned_ids]
    plain = current if len(plain_specs) == len(specs) else extract(pages, rules=plain_specs, supplier_id=supplier_id)
    return Example(
        key=key,
        layouts=build_layouts(pages),
        truth={name: value for name, value in truth.items() if name in LEARNABLE_FIELDS and value},
        current={name: value.normalized for name, value in current.fields.items()},
        confidence={name: value.confidence for name, value in current.fields.items()},
        plain=dict(plain.fields),
    )


def learn(
    examples: list[Example],
    *,
    supplier_id: str | None,
    document_type: str,
    current_keys: dict[str, str],
    refused: frozenset[str] = frozenset(),
) -> dict[str, Choice]:
    """Per field that processing gets wrong or reads unsurely somewhere: the rule that does better, if any."""
    wrong_fields = sorted(
        {
            name
            for example in examples
            for name, value in example.truth.items()
            if example.current.get(name) != value or example.confidence.get(name, 0.0) < UNSURE_CONFIDENCE
        }
    )
    choices = {}
    for name in wrong_fields:
        choice = choose(
            examples,
            name,
            supplier_id=supplier_id,
            document_type=document_type,
            current_key=current_keys.get(name),
            refused=refused,
        )
        if choice is not None:
            choices[name] = choice
    return choices
