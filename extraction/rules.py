"""Configurable extraction rules (``ExtractionRule`` rows) applied on top of the built-in extractors.

Pure: works on page layouts and plain snapshots of rules (``RuleSpec``). Reading the rows is
``extraction.selectors``, recording their use ``extraction.services``.

Rule types and their ``rule_config``:

* ``regex``: ``{"pattern": ..., "group": 1, "flags": "im", "page": 1}``; searched in each page's
  text (words joined by spaces, lines by newlines, in reading order);
* ``position``: ``{"page": 1, "x": .., "y": .., "width": .., "height": .., "pattern": ...}``; the
  words whose centre lies in the box (normalised 0..1, origin top-left), optionally narrowed by a
  pattern;
* ``anchor``: ``{"label": "Rechnungsnr.", "direction": "right" | "below", "max_distance": 0.3,
  "pattern": ..., "group": 1}``; the value next to a printed label: right of it on the same line,
  or on the first line below it that starts under it, at most ``max_distance`` (share of the page)
  away. The label is compared case-, umlaut- and punctuation-insensitively;
* ``template``: ``{"field_mapping": {"invoice_number": "rechnungsnummer"}}``; the pattern of the
  rule's supplier template (``SupplierTemplate.field_patterns[<name>]``: ``pattern``,
  ``validation``, optional ``position`` ``{"x", "y", "tolerance"}`` normalised).

Every type accepts ``"confidence"`` (0..1): how much a hit of this rule is to be trusted.

Which rule and which value win (the documented policy):

1. For each field the applicable rules (active; document type blank or the document's; supplier
   blank or the document's supplier) are tried in order: supplier rules before generic ones, then
   higher ``priority``, then name. The first rule whose value is found, can be normalised for the
   field (``normalize.normalize_field``) and passes the rule's ``validation_regex`` wins; the rules
   after it are its fallbacks and are not run.
2. A hit's confidence is the rule's strength (``confidence`` from the config, else
   ``SUPPLIER_STRENGTH`` for supplier rules, ``GENERIC_STRENGTH`` for generic ones) times the same
   OCR factor the built-in extractors use (garbled words count less).
3. The winning hit then competes with the built-in extractors' value for the field: without a
   built-in value the hit is taken; with the same normalised value the hit's evidence is kept and
   the two independent readings raise the confidence (``1 - (1-a)(1-b)``, at most
   ``AGREEMENT_CAP``); with a different value the higher confidence wins (a tie goes to the rule,
   someone configured it for this kind of document), and the winner's confidence is multiplied by
   ``DISAGREEMENT_FACTOR`` because two readings disagree.

Regexes run with the ``regex`` package's timeout (``REGEX_TIMEOUT_S``). A rule that does not
compile, whose config is broken or whose regex times out yields a ``RuleUsage`` with ``error``: the
engine turns it into a failed ``extraction_rule_error`` check, the service stores it on the rule
(``last_error``). Extraction carries on with the next rule.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import regex
from django.utils.translation import gettext as _

from documents.field_labels import FIELD_LABELS
from extraction.layout import PageLayout, union_bbox
from extraction.normalize import fold, normalize_field
from extraction.types import FieldValue, ValidationCheck
from ocr.types import Word

REGEX = "regex"
POSITION = "position"
ANCHOR = "anchor"
TEMPLATE = "template"
RULE_TYPES = (REGEX, POSITION, ANCHOR, TEMPLATE)
DIRECTIONS = ("right", "below")
# The business fields a rule may fill: those the review screen shows.
RULE_FIELDS = tuple(FIELD_LABELS)

REGEX_TIMEOUT_S = 0.25
SUPPLIER_STRENGTH = 0.95
GENERIC_STRENGTH = 0.85
DEFAULT_MAX_DISTANCE = 0.3
AGREEMENT_CAP = 0.99
DISAGREEMENT_FACTOR = 0.85
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}
# A gap wider than this many word heights ends the value next to a label (the next column starts).
_VALUE_GAP_HEIGHTS = 2.5


class RuleError(Exception):
    """The rule itself is broken (does not compile, times out, misconfigured); never the document."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A snapshot of one ``ExtractionRule`` row, as the engine needs it (no database access)."""

    id: str
    name: str
    field_name: str
    rule_type: str
    config: dict
    version: int = 1
    supplier_id: str | None = None
    document_type: str = ""
    validation_regex: str = ""
    priority: int = 0
    template_patterns: dict | None = None

    @property
    def evidence(self) -> str:
        """What ``FieldValue.rule`` records: rule id and version (``ExtractedField.rule`` keeps 100 chars)."""
        return f"regel:{self.id}@v{self.version}"


@dataclass(slots=True)
class RuleHit:
    field_name: str
    value: str
    normalized: str
    confidence: float
    page: int
    bbox: tuple[float, float, float, float] | None
    rule: RuleSpec


@dataclass(slots=True)
class RuleUsage:
    """One run of one rule on one document: found a valid value, found none, or broke."""

    rule: RuleSpec
    succeeded: bool
    confidence: float | None = None
    note: str = ""
    error: str = ""


@dataclass(slots=True)
class RulesOutcome:
    hits: dict[str, RuleHit] = field(default_factory=dict)
    usage: list[RuleUsage] = field(default_factory=list)

    def error_checks(self) -> list[ValidationCheck]:
        return [
            ValidationCheck(
                "extraction_rule_error",
                False,
                _("Regel „%(name)s“ (%(field)s) ist fehlerhaft: %(error)s")
                % {"name": usage.rule.name, "field": usage.rule.field_name, "error": usage.error},
                (usage.rule.field_name,),
            )
            for usage in self.usage
            if usage.error
        ]


# --- configuration -------------------------------------------------------------------------------


def rule_config_errors(rule_type: str, config) -> list[str]:
    """Messages (German) describing what is wrong with ``config`` for ``rule_type``; empty = valid."""
    if rule_type not in RULE_TYPES:
        return [_("Unbekannter Regeltyp „%(type)s“.") % {"type": rule_type}]
    if not isinstance(config, dict):
        return [_("Erwartet wird ein JSON-Objekt.")]
    errors = _confidence_errors(config)
    if rule_type == REGEX:
        if not isinstance(config.get("pattern"), str) or not config["pattern"]:
            errors.append(_("„pattern“ fehlt: der reguläre Ausdruck, der das Feld findet."))
        else:
            errors += _pattern_errors(config)
        errors += _page_errors(config)
    elif rule_type == POSITION:
        errors += _box_errors(config) + _page_errors(config)
        if "pattern" in config:
            errors += _pattern_errors(config)
    elif rule_type == ANCHOR:
        label = config.get("label")
        if not isinstance(label, str) or not fold(label):
            errors.append(_("„label“ fehlt: die gedruckte Beschriftung, neben der der Wert steht."))
        if config.get("direction", "right") not in DIRECTIONS:
            errors.append(_("„direction“ muss „right“ (rechts daneben) oder „below“ (darunter) sein."))
        distance = config.get("max_distance", DEFAULT_MAX_DISTANCE)
        if _not_number(distance) or not 0 < distance <= 1:
            errors.append(_("„max_distance“ muss eine Zahl größer 0 und höchstens 1 sein (Anteil der Seite)."))
        if "pattern" in config:
            errors += _pattern_errors(config)
        errors += _page_errors(config)
    elif rule_type == TEMPLATE:
        mapping = config.get("field_mapping", {})
        if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
            errors.append(_("„field_mapping“ muss ein JSON-Objekt {Feldname: Name in der Vorlage} sein."))
    return errors


def validation_regex_error(pattern: str) -> str:
    """The German reason ``pattern`` is no usable validation regex, or ``""``."""
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return _("Kein gültiger regulärer Ausdruck (%(error)s).") % {"error": exc}
    return ""


def _not_number(value) -> bool:
    # bool is an int subclass; ``"x": true`` is a typo, not 1.
    return isinstance(value, bool) or not isinstance(value, int | float)


def _confidence_errors(config: dict) -> list[str]:
    value = config.get("confidence")
    if value is None or (not _not_number(value) and 0 < value <= 1):
        return []
    return [_("„confidence“ muss eine Zahl größer 0 und höchstens 1 sein.")]


def _page_errors(config: dict) -> list[str]:
    page = config.get("page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        return [_("„page“ muss eine Seitenzahl ab 1 sein.")]
    return []


def _pattern_errors(config: dict) -> list[str]:
    pattern = config.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        return [_("„pattern“ muss ein nicht leerer regulärer Ausdruck sein.")]
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        return [_("„pattern“ ist kein gültiger regulärer Ausdruck (%(error)s).") % {"error": exc}]
    errors = []
    group = config.get("group", 1 if compiled.groups else 0)
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group <= compiled.groups:
        errors.append(_("„group“ muss eine Gruppennummer zwischen 0 und %(max)d sein.") % {"max": compiled.groups})
    flags = config.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set(_FLAGS):
        errors.append(_("„flags“ darf nur die Buchstaben i, m und s enthalten."))
    return errors


def _box_errors(config: dict) -> list[str]:
    errors = []
    for key in ("x", "y", "width", "height"):
        value = config.get(key)
        if _not_number(value) or not 0 <= value <= 1:
            errors.append(_("„%(key)s“ muss eine Zahl zwischen 0 und 1 sein (Anteil der Seite).") % {"key": key})
    if errors:
        return errors
    if config["width"] <= 0 or config["height"] <= 0:
        errors.append(_("„width“ und „height“ müssen größer 0 sein."))
    if config["x"] + config["width"] > 1.0001 or config["y"] + config["height"] > 1.0001:
        errors.append(_("Der Bereich ragt über den Seitenrand hinaus (x + width bzw. y + height größer 1)."))
    return errors


# --- page text with word offsets -----------------------------------------------------------------


@dataclass(slots=True)
class _PageText:
    number: int
    text: str
    spans: list[tuple[int, int, Word]]

    def words_in(self, start: int, end: int) -> list[Word]:
        return [word for word_start, word_end, word in self.spans if word_start < end and word_end > start]


def _page_text(words: Iterable[Word], number: int, *, lines: Sequence[Sequence[Word]] | None = None) -> _PageText:
    parts: list[str] = []
    spans = []
    offset = 0
    for line in lines if lines is not None else [list(words)]:
        if parts:
            parts.append("\n")
            offset += 1
        for index, word in enumerate(line):
            if index:
                parts.append(" ")
                offset += 1
            spans.append((offset, offset + len(word.text), word))
            parts.append(word.text)
            offset += len(word.text)
    return _PageText(number, "".join(parts), spans)


def _layout_text(page: PageLayout) -> _PageText:
    return _page_text((), page.number, lines=[line.words for line in page.lines])


# --- running one rule ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Found:
    value: str
    page: int
    words: list[Word]


def _compile(pattern: str, flags: str = "") -> regex.Pattern:
    value = 0
    for letter in flags:
        value |= _FLAGS.get(letter, 0)
    try:
        return regex.compile(pattern, value)
    except regex.error as exc:
        raise RuleError(_("Regulärer Ausdruck lässt sich nicht übersetzen (%(error)s).") % {"error": exc}) from exc


def _search(compiled: regex.Pattern, text: str, timeout: float):
    try:
        return compiled.search(text, timeout=timeout)
    except TimeoutError as exc:
        raise RuleError(
            _("Regulärer Ausdruck nach %(seconds)s s abgebrochen (zu aufwendig für diesen Text).")
            % {"seconds": str(timeout).replace(".", ",")}
        ) from exc


def _pattern_in(page_text: _PageText, config: dict, timeout: float) -> _Found | None:
    compiled = _compile(config["pattern"], config.get("flags", ""))
    match = _search(compiled, page_text.text, timeout)
    if match is None:
        return None
    group = config.get("group", 1 if compiled.groups else 0)
    if match.group(group) is None:
        return None
    start, end = match.span(group)
    value = match.group(group).strip()
    if not value:
        return None
    return _Found(value, page_text.number, page_text.words_in(start, end))


def _pages(layouts: list[PageLayout], config: dict) -> list[PageLayout]:
    if "page" in config:
        return [page for page in layouts if page.number == config["page"]]
    return layouts


def _run_regex(layouts, config, timeout) -> list[_Found]:
    return [found for page in _pages(layouts, config) if (found := _pattern_in(_layout_text(page), config, timeout))]


def _run_position(layouts, config, timeout) -> list[_Found]:
    x0, y0 = config["x"], config["y"]
    x1, y1 = x0 + config["width"], y0 + config["height"]
    results = []
    for page in _pages(layouts, {"page": config.get("page", 1)}):
        lines = [
            [
                w
                for w in line.words
                if x0 <= (w.bbox[0] + w.bbox[2]) / 2 <= x1 and y0 <= (w.bbox[1] + w.bbox[3]) / 2 <= y1
            ]
            for line in page.lines
        ]
        lines = [line for line in lines if line]
        if not lines:
            continue
        text = _page_text((), page.number, lines=lines)
        if "pattern" in config:
            found = _pattern_in(text, config, timeout)
        else:
            found = _Found(text.text.replace("\n", " "), page.number, [w for line in lines for w in line])
        if found is not None:
            results.append(found)
    return results


def _label_matches(page: PageLayout, label: str) -> list[list[Word]]:
    """Runs of consecutive words on a line whose folded text is the folded label."""
    wanted = fold(label)
    matches = []
    for line in page.lines:
        for start in range(len(line.words)):
            joined = ""
            for end in range(start, len(line.words)):
                joined += fold(line.words[end].text)
                if joined == wanted:
                    matches.append(line.words[start : end + 1])
                    break
                if not wanted.startswith(joined):
                    break
    return matches


def _contiguous(words: list[Word]) -> list[Word]:
    """The first run of ``words`` (sorted left to right) without a column-wide gap."""
    run = words[:1]
    for word in words[1:]:
        height = max(run[-1].bbox[3] - run[-1].bbox[1], 0.005)
        if word.bbox[0] - run[-1].bbox[2] > _VALUE_GAP_HEIGHTS * height:
            break
        run.append(word)
    return run


def _beside(page: PageLayout, label: list[Word], direction: str, distance: float) -> list[Word]:
    lx0, ly0, lx1, ly1 = union_bbox(label)
    taken = {id(word) for word in label}
    words = [word for word in page.words if id(word) not in taken]
    if direction == "right":
        right = [
            w
            for w in words
            if ly0 <= (w.bbox[1] + w.bbox[3]) / 2 <= ly1 and w.bbox[0] >= lx1 - 0.002 and w.bbox[0] - lx1 <= distance
        ]
        return _contiguous(sorted(right, key=lambda w: w.bbox[0]))
    tolerance = 2 * (ly1 - ly0)
    below = [w for w in words if w.bbox[1] >= ly1 - 0.002 and w.bbox[1] - ly1 <= distance]
    starts = [w for w in below if lx0 - tolerance <= w.bbox[0] <= lx1]
    if not starts:
        return []
    first = min(starts, key=lambda w: (w.bbox[1], w.bbox[0]))
    fy0, fy1 = first.bbox[1], first.bbox[3]
    same_line = [w for w in below if fy0 <= (w.bbox[1] + w.bbox[3]) / 2 <= fy1 and w.bbox[0] >= first.bbox[0]]
    return _contiguous(sorted(same_line, key=lambda w: w.bbox[0]))


def _run_anchor(layouts, config, timeout) -> list[_Found]:
    direction = config.get("direction", "right")
    distance = config.get("max_distance", DEFAULT_MAX_DISTANCE)
    results = []
    for page in _pages(layouts, config):
        for label in _label_matches(page, config["label"]):
            words = _beside(page, label, direction, distance)
            if not words:
                continue
            text = _page_text(words, page.number)
            found = _pattern_in(text, config, timeout) if "pattern" in config else _Found(text.text, page.number, words)
            if found is not None:
                results.append(found)
    return results


def _run_template(layouts, config, timeout, rule: RuleSpec) -> tuple[list[_Found], str]:
    if rule.template_patterns is None:
        raise RuleError(_("Die Regel verweist auf keine aktive Lieferantenvorlage."))
    key = config.get("field_mapping", {}).get(rule.field_name, rule.field_name)
    spec = rule.template_patterns.get(key)
    if not isinstance(spec, dict) or not isinstance(spec.get("pattern"), str):
        raise RuleError(_("Die Vorlage enthält kein Muster für „%(key)s“.") % {"key": key})
    pattern_config = {"pattern": spec["pattern"]}
    if "flags" in spec:
        pattern_config["flags"] = spec["flags"]
    results = _run_regex(layouts, pattern_config, timeout)
    position = spec.get("position")
    if isinstance(position, dict) and all(isinstance(position.get(k), int | float) for k in ("x", "y")):
        tolerance = position.get("tolerance", 0.05)
        if max(position["x"], position["y"], tolerance) <= 1:  # only normalised positions can be compared
            results = [
                found
                for found in results
                if found.words
                and abs(union_bbox(found.words)[0] - position["x"]) <= tolerance
                and abs(union_bbox(found.words)[1] - position["y"]) <= tolerance
            ]
    return results, spec.get("validation", "") if isinstance(spec.get("validation"), str) else ""


def _ocr_factor(words: list[Word]) -> float:
    # The same mapping as the built-in extractors (engine._ocr_factor): a gentle one for clean scans.
    if not words:
        return 1.0
    mean = sum(word.confidence for word in words) / len(words)
    return 0.55 + 0.45 * max(0.0, min(1.0, mean))


def strength(rule: RuleSpec) -> float:
    configured = rule.config.get("confidence") if isinstance(rule.config, dict) else None
    if configured is not None:
        return float(configured)
    return SUPPLIER_STRENGTH if rule.supplier_id else GENERIC_STRENGTH


def run_rule(
    layouts: list[PageLayout], rule: RuleSpec, *, timeout: float = REGEX_TIMEOUT_S
) -> tuple[RuleHit | None, RuleUsage]:
    """Run one rule on a document; never raises for a broken rule (the usage carries the error)."""
    problems = rule_config_errors(rule.rule_type, rule.config)
    if problems:
        return None, RuleUsage(rule, False, error=" ".join(problems))
    validations = [rule.validation_regex] if rule.validation_regex else []
    try:
        if rule.rule_type == REGEX:
            candidates = _run_regex(layouts, rule.config, timeout)
        elif rule.rule_type == POSITION:
            candidates = _run_position(layouts, rule.config, timeout)
        elif rule.rule_type == ANCHOR:
            candidates = _run_anchor(layouts, rule.config, timeout)
        else:
            candidates, template_validation = _run_template(layouts, rule.config, timeout, rule)
            if template_validation:
                validations.append(template_validation)
        compiled_validations = [_compile(pattern) for pattern in validations]
        rejected = ""
        for found in candidates:
            try:
                normalized = normalize_field(rule.field_name, found.value)
            except ValueError as exc:
                rejected = _("„%(value)s“ ist kein gültiger Wert: %(reason)s") % {"value": found.value, "reason": exc}
                continue
            if any(_fullmatch(compiled, found.value, timeout) is None for compiled in compiled_validations):
                rejected = _("„%(value)s“ erfüllt den Prüfausdruck nicht.") % {"value": found.value}
                continue
            confidence = round(max(0.0, min(1.0, strength(rule) * _ocr_factor(found.words))), 3)
            bbox = tuple(round(c, 5) for c in union_bbox(found.words)) if found.words else None
            hit = RuleHit(rule.field_name, found.value, normalized, confidence, found.page, bbox, rule)
            return hit, RuleUsage(rule, True, confidence)
    except RuleError as exc:
        return None, RuleUsage(rule, False, error=str(exc))
    return None, RuleUsage(rule, False, note=rejected or _("Kein Treffer."))


def _fullmatch(compiled: regex.Pattern, text: str, timeout: float):
    try:
        return compiled.fullmatch(text, timeout=timeout)
    except TimeoutError as exc:
        raise RuleError(_("Prüfausdruck nach %(seconds)s s abgebrochen.") % {"seconds": timeout}) from exc


def applicable(rule: RuleSpec, *, document_type: str, supplier_id: str | None) -> bool:
    if rule.document_type and rule.document_type != document_type:
        return False
    return rule.supplier_id is None or (supplier_id is not None and rule.supplier_id == str(supplier_id))


def rule_order(rule: RuleSpec) -> tuple:
    """Supplier rules first, then higher priority, then name (stable for equal priorities)."""
    return (rule.supplier_id is None, -rule.priority, rule.name, rule.id)


def apply_rules(
    layouts: list[PageLayout],
    rules: Sequence[RuleSpec],
    *,
    document_type: str,
    supplier_id: str | None = None,
    timeout: float = REGEX_TIMEOUT_S,
) -> RulesOutcome:
    """Per field, the first applicable rule (in ``rule_order``) with a valid value; see the module doc."""
    outcome = RulesOutcome()
    by_field: dict[str, list[RuleSpec]] = {}
    for rule in rules:
        if applicable(rule, document_type=document_type, supplier_id=supplier_id):
            by_field.setdefault(rule.field_name, []).append(rule)
    for field_name, candidates in sorted(by_field.items()):
        for rule in sorted(candidates, key=rule_order):
            hit, usage = run_rule(layouts, rule, timeout=timeout)
            outcome.usage.append(usage)
            if hit is not None:
                outcome.hits[field_name] = hit
                break
    return outcome


def merge_hits(fields: dict[str, FieldValue], hits: dict[str, RuleHit]) -> dict[str, FieldValue]:
    """The built-in fields with the rule hits merged in by confidence (module doc, point 3)."""
    merged = dict(fields)
    for name, hit in hits.items():
        own = FieldValue(
            name=name,
            value=hit.value,
            normalized=hit.normalized,
            confidence=hit.confidence,
            page=hit.page,
            bbox=hit.bbox,
            rule=hit.rule.evidence,
            rule_id=hit.rule.id,
            rule_version=hit.rule.version,
        )
        builtin = fields.get(name)
        if builtin is None:
            merged[name] = own
        elif builtin.normalized == hit.normalized:
            own.confidence = round(min(AGREEMENT_CAP, 1 - (1 - builtin.confidence) * (1 - hit.confidence)), 3)
            merged[name] = own
        else:
            winner = own if hit.confidence >= builtin.confidence else builtin
            merged[name] = replace(winner, confidence=round(winner.confidence * DISAGREEMENT_FACTOR, 3))
    return dict(sorted(merged.items()))
