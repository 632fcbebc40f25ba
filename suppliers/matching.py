"""Which supplier sent this document? Matched against the supplier master data.

Identifiers first, in the order of how much they prove: the USt-IdNr. is unique per company
and printed by law, an IBAN is the supplier's own account, the Steuernummer is unique but
often printed with varying separators, a sender address is only typical. Names come last:
many companies share a surname, OCR drops umlauts, and legal forms are spelt in many ways.

Disagreement between identifiers is reported, not hidden: an invoice whose USt-IdNr. belongs
to one supplier and whose IBAN belongs to another is the classic payment-diversion fraud, so
the match keeps the USt-IdNr.'s supplier but loses most of its confidence and says why.

Names are compared twice: the extracted ``supplier_name`` with rapidfuzz, and the whole text
with a spaCy ``PhraseMatcher`` built from every known name (the letterhead and footer carry
the name even when extraction picked the wrong line). Both structures are built once per
process and rebuilt when the suppliers change (see ``_current_index``).
"""

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.db import models
from django.db.models import Count, Max, Value
from django.db.models.functions import Replace, Upper
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rapidfuzz import fuzz, process

from extraction.types import SupplierEvidence
from suppliers.models import Supplier, SupplierBankAccount, normalize_vat_id


class MatchRule(models.TextChoices):
    VAT_ID = "vat_id", _("USt-IdNr.")
    IBAN = "iban", _("IBAN")
    TAX_NUMBER = "tax_number", _("Steuernummer")
    SENDER_EMAIL = "sender_email", _("Absenderadresse")
    NAME_FUZZY = "name_fuzzy", _("Name (unscharf)")
    NAME_PHRASE = "name_phrase", _("Name im Text")


# Names: rapidfuzz scores 0..100 on the names without legal form. 85 lets one or two OCR
# errors through in a two-word name ("Mu11er Burobedarf" scores 88) and keeps apart names that
# only share a surname-like word ("Schmidt" vs "Schmitt Bau" scores 67).
NAME_THRESHOLD = 85
# In a short name one letter is the difference between two companies (Schmidt / Schmitt,
# Meier / Meyer both score 86), so short names must match almost exactly.
SHORT_NAME_LENGTH = 10
SHORT_NAME_THRESHOLD = 92
# Two different suppliers this close to each other: the name does not decide.
AMBIGUITY_MARGIN = 3
# Two companies with the same name but different legal forms (Müller GmbH, Müller KG) are
# different companies; OCR rarely turns one legal form into another.
LEGAL_FORM_PENALTY = 20

# A name, even an exact one, proves less than an identifier.
NAME_CONFIDENCE_CAP = 0.95
PHRASE_CONFIDENCE = 0.9
PHRASE_AMBIGUOUS_CONFIDENCE = 0.75
# A foreign IBAN is the fraud signal; a foreign Steuernummer or sender address is more
# likely a data-entry slip, but still needs a person.
IBAN_CONFLICT_CONFIDENCE = 0.5
OTHER_CONFLICT_CONFIDENCE = 0.7
UNKNOWN_IBAN_CONFIDENCE = 0.9
AMBIGUOUS_IDENTIFIER_CONFIDENCE = 0.6


@dataclass(frozen=True)
class SupplierMatch:
    """The supplier a document comes from, by which rule, how sure, and why (German, for people).

    ``conflicts`` names the identifier rules that pointed at a different supplier; non-empty
    means a person must look (a foreign IBAN may be fraud).
    """

    supplier: Supplier
    rule: str
    confidence: float
    evidence: tuple[str, ...]
    conflicts: tuple[str, ...] = field(default=())


def match_supplier(*, fields: dict[str, str], text: str = "", sender_email: str = "") -> SupplierMatch | None:
    """The supplier of a document from its normalised fields, its full text and its sender.

    ``fields`` uses the extraction's names: ``supplier_vat_id``, ``iban``,
    ``supplier_tax_number``, ``supplier_name``. Only active, not deleted suppliers match.
    """
    identifier_hits = _identifier_hits(fields, sender_email)
    if identifier_hits:
        return _match_by_identifiers(identifier_hits, fields)
    return _match_by_name(fields.get("supplier_name", ""), text)


# Identifiers ---------------------------------------------------------------------------------


def normalize_tax_number(value: str) -> str:
    """Steuernummern are printed as 12/345/67890, 12 345 67890 or 1234567890: compare digits."""
    return re.sub(r"\D", "", value or "")


def normalize_email(value: str) -> str:
    """``"Müller <Rechnung@Mueller.de>"`` -> ``"rechnung@mueller.de"``; anything else -> ``""``."""
    address = parseaddr(value or "")[1].strip().lower()
    return address if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address) else ""


def _active_suppliers():
    return Supplier.objects.filter(is_active=True)


def _identifier_hits(fields: dict[str, str], sender_email: str) -> dict[str, list[Supplier]]:
    """Suppliers found by each identifier the document carries, in rule order; rules without hits left out."""
    hits: dict[str, list[Supplier]] = {}
    vat_id = normalize_vat_id(fields.get("supplier_vat_id", ""))
    if vat_id:
        hits[MatchRule.VAT_ID] = list(_active_suppliers().filter(vat_id=vat_id))
    iban = re.sub(r"\s", "", fields.get("iban", "") or "").upper()
    if iban:
        # Supplier.iban may have been typed with spaces in admin; bank accounts are stored normalised.
        own = _active_suppliers().annotate(iban_compact=Replace(Upper("iban"), Value(" "), Value("")))
        supplier_ids = set(own.filter(iban_compact=iban).values_list("id", flat=True))
        supplier_ids |= set(
            SupplierBankAccount.objects.filter(iban=iban, supplier__in=_active_suppliers()).values_list(
                "supplier_id", flat=True
            )
        )
        hits[MatchRule.IBAN] = list(_active_suppliers().filter(id__in=supplier_ids))
    tax_digits = normalize_tax_number(fields.get("supplier_tax_number", ""))
    if len(tax_digits) >= 10:
        # Any separators between the digits; a regex because the column keeps the printed form.
        pattern = r"^\D*" + r"\D*".join(tax_digits) + r"\D*$"
        hits[MatchRule.TAX_NUMBER] = list(_active_suppliers().filter(tax_number__regex=pattern))
    email = normalize_email(sender_email)
    if email:
        candidates = _active_suppliers().filter(
            models.Q(typical_sender_emails__icontains=email) | models.Q(email__iexact=email)
        )
        hits[MatchRule.SENDER_EMAIL] = [
            supplier
            for supplier in candidates
            if supplier.email.lower() == email
            or email in {normalize_email(str(known)) for known in supplier.typical_sender_emails or []}
        ]
    return {rule: suppliers for rule, suppliers in hits.items() if suppliers}


def _rule_label(rule: str) -> str:
    return str(MatchRule(rule).label)


def _match_by_identifiers(hits: dict[str, list[Supplier]], fields: dict[str, str]) -> SupplierMatch:
    rules = list(hits)
    primary = rules[0]
    candidates = hits[primary]
    evidence: list[str] = []
    confidence = 1.0
    if len(candidates) > 1:
        # Several suppliers share the identifier (a duplicate in master data): let the other
        # identifiers, then the name, choose.
        for rule in rules[1:]:
            narrowed = [supplier for supplier in candidates if supplier in hits[rule]]
            if narrowed:
                candidates = narrowed
        if len(candidates) > 1:
            candidates = sorted(
                candidates,
                key=lambda supplier: -_best_name_score(fields.get("supplier_name", ""), supplier),
            )
            confidence = AMBIGUOUS_IDENTIFIER_CONFIDENCE
            evidence.append(
                gettext("%(rule)s passt zu %(count)d Lieferanten (%(names)s); gewählt nach weiteren Angaben.")
                % {
                    "rule": _rule_label(primary),
                    "count": len(hits[primary]),
                    "names": ", ".join(supplier.name for supplier in hits[primary]),
                }
            )
    supplier = candidates[0]
    evidence.insert(0, gettext("%(rule)s gehört zu %(name)s.") % {"rule": _rule_label(primary), "name": supplier.name})
    conflicts = []
    for rule in rules[1:]:
        if supplier in hits[rule]:
            evidence.append(gettext("%(rule)s bestätigt den Lieferanten.") % {"rule": _rule_label(rule)})
            continue
        conflicts.append(rule)
        others = ", ".join(other.name for other in hits[rule])
        evidence.append(
            gettext("Widerspruch: %(rule)s gehört zu einem anderen Lieferanten (%(others)s).")
            % {"rule": _rule_label(rule), "others": others}
        )
        limit = IBAN_CONFLICT_CONFIDENCE if rule == MatchRule.IBAN else OTHER_CONFLICT_CONFIDENCE
        confidence = min(confidence, limit)
    iban = re.sub(r"\s", "", fields.get("iban", "") or "").upper()
    if iban and MatchRule.IBAN not in hits and _known_ibans(supplier):
        # Not a conflict (no other supplier owns it), but not the account we know either.
        evidence.append(gettext("Die IBAN %(iban)s ist für diesen Lieferanten nicht hinterlegt.") % {"iban": iban})
        confidence = min(confidence, UNKNOWN_IBAN_CONFIDENCE)
    return SupplierMatch(supplier, primary, confidence, tuple(evidence), tuple(conflicts))


def _known_ibans(supplier: Supplier) -> set[str]:
    ibans = set(supplier.bank_accounts.values_list("iban", flat=True))
    if supplier.iban:
        ibans.add(re.sub(r"\s", "", supplier.iban).upper())
    return ibans


# Names -------------------------------------------------------------------------------------------

# Spellings of the legal forms, on the casefolded name with accents removed. Longest first, so
# that "GmbH & Co. KG" is not read as "GmbH" followed by a stray "KG".
_LEGAL_FORMS = [
    (r"gmbh\s*&\s*co\.?\s*kgaa", " gmbh co kgaa "),
    (r"gmbh\s*&\s*co\.?\s*kg", " gmbh co kg "),
    (r"ug\s*\(\s*haftungsbeschrankt\s*\)", " ug "),
    (r"gesellschaft\s+mit\s+beschrankter\s+haftung", " gmbh "),
    (r"aktiengesellschaft", " ag "),
    (r"kommanditgesellschaft", " kg "),
    (r"e\.\s*k(?:fm|fr)?\.?", " ek "),
    (r"e\.\s*v\.?", " ev "),
    (r"&\s*co\.?", " co "),
]
_LEGAL_FORM_RES = [(re.compile(r"(?<![a-z0-9])" + pattern + r"(?![a-z0-9])"), repl) for pattern, repl in _LEGAL_FORMS]
_LEGAL_TOKENS = {"gmbh": "gmbh", "mbh": "gmbh", "ggmbh": "gmbh", "ag": "ag", "kg": "kg", "kgaa": "kgaa"}
_LEGAL_TOKENS |= {token: token for token in ("ohg", "gbr", "ug", "ek", "ev", "se", "co", "partg", "mbb", "ltd", "inc")}


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class NameKey:
    """A name as rapidfuzz compares it: the words without the legal form, plus the legal form."""

    core: str
    legal_forms: frozenset[str]


def name_key(name: str) -> NameKey:
    """``"Müller Bürobedarf GmbH & Co. KG"`` -> core ``"muller burobedarf"``, forms {gmbh, co, kg}.

    Umlauts and their spelt-out forms compare equal ("Müller", "Muller", "Mueller"): OCR drops
    the dots and some suppliers spell them out. ``ae/oe/ue`` collapse on both sides, so words
    like "Steuer" change too, which is harmless for a comparison key.
    """
    text = _strip_accents((name or "").casefold())
    for pattern, replacement in _LEGAL_FORM_RES:
        text = pattern.sub(replacement, text)
    core_words, forms = [], set()
    for token in re.findall(r"[a-z0-9]+", text):
        if token in _LEGAL_TOKENS:
            forms.add(_LEGAL_TOKENS[token])
        else:
            core_words.append(token.replace("ae", "a").replace("oe", "o").replace("ue", "u"))
    return NameKey(" ".join(core_words), frozenset(forms))


def name_score(query: NameKey, known: NameKey) -> float:
    """0..100: how well an extracted name matches a known one."""
    if not query.core or not known.core:
        return 0.0
    score = max(fuzz.ratio(query.core, known.core), fuzz.token_sort_ratio(query.core, known.core))
    if min(query.core.count(" "), known.core.count(" ")) >= 1:
        # A name of two or more words inside a longer one ("Müller Bürobedarf" in "Müller
        # Bürobedarf Inh. H. Müller"). Not for one word: "Schmidt" is inside too many names.
        score = max(score, 0.95 * fuzz.token_set_ratio(query.core, known.core))
    if query.legal_forms and known.legal_forms and not query.legal_forms & known.legal_forms:
        score -= LEGAL_FORM_PENALTY
    return score


def _threshold(query: NameKey, known: NameKey) -> int:
    return SHORT_NAME_THRESHOLD if min(len(query.core), len(known.core)) < SHORT_NAME_LENGTH else NAME_THRESHOLD


def supplier_names(supplier: Supplier) -> list[str]:
    """Every name a supplier is known by: name, legal name, variations (no blanks, no repeats)."""
    names = [supplier.name, supplier.legal_name, *(str(v) for v in supplier.name_variations or [])]
    seen, result = set(), []
    for name in names:
        name = re.sub(r"\s+", " ", name or "").strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            result.append(name)
    return result


def _best_name_score(name: str, supplier: Supplier) -> float:
    if not name:
        return 0.0
    query = name_key(name)
    return max((name_score(query, name_key(known)) for known in supplier_names(supplier)), default=0.0)


def _match_by_name(supplier_name: str, text: str) -> SupplierMatch | None:
    index = _current_index()
    fuzzy = index.fuzzy_candidates(supplier_name) if supplier_name else []
    phrase = index.phrase_candidates(text) if text else []
    phrase_ids = [supplier_id for supplier_id, _count, _matched in phrase]

    if fuzzy:
        best_id, best_score, best_name = fuzzy[0]
        rivals = [c for c in fuzzy[1:] if c[1] >= best_score - AMBIGUITY_MARGIN]
        if rivals:
            # Equally good names: the one whose name also stands in the text wins.
            tied = [c for c in [fuzzy[0], *rivals] if c[0] in phrase_ids]
            if len(tied) != 1:
                return _match_by_phrase(phrase) if not tied else None
            best_id, best_score, best_name = tied[0]
        supplier = _active_suppliers().filter(id=best_id).first()
        if supplier is None:
            return _match_by_phrase(phrase)
        confidence = round(best_score / 100 * NAME_CONFIDENCE_CAP, 3)
        evidence = [
            gettext("Der Name „%(extracted)s“ ähnelt „%(known)s“ (%(score)d von 100).")
            % {"extracted": supplier_name, "known": best_name, "score": round(best_score)}
        ]
        if phrase_ids and phrase_ids[0] != best_id:
            # The text names another supplier more prominently: the extracted name may be the
            # recipient's or a wrong line.
            confidence = round(confidence - 0.15, 3)
            evidence.append(gettext("Im Text steht vor allem ein anderer Lieferantenname."))
        elif best_id in phrase_ids:
            evidence.append(gettext("Der Name steht auch im Text."))
        return SupplierMatch(supplier, MatchRule.NAME_FUZZY, confidence, tuple(evidence))
    return _match_by_phrase(phrase)


def _match_by_phrase(phrase: list[tuple[str, int, str]]) -> SupplierMatch | None:
    """The supplier whose name the text carries most often (letterhead, return address, footer)."""
    if not phrase:
        return None
    suppliers = {str(s.id): s for s in _active_suppliers().filter(id__in=[c[0] for c in phrase])}
    phrase = [c for c in phrase if c[0] in suppliers]
    if not phrase:
        return None
    supplier_id, count, matched = phrase[0]
    evidence = [gettext("„%(name)s“ steht %(count)d-mal im Text.") % {"name": matched, "count": count}]
    confidence = PHRASE_CONFIDENCE
    if len(phrase) > 1:
        # The recipient may be in master data too (a sister company): the sender's name is
        # the one repeated in letterhead and footer, and it comes first.
        confidence = PHRASE_AMBIGUOUS_CONFIDENCE
        evidence.append(gettext("Im Text stehen auch: %(others)s.") % {"others": ", ".join(c[2] for c in phrase[1:4])})
    return SupplierMatch(suppliers[supplier_id], MatchRule.NAME_PHRASE, confidence, tuple(evidence))


# The per-process index ---------------------------------------------------------------------------


def _collapse_whitespace(text: str) -> str:
    # Line breaks inside a name ("Müller Bürobedarf\nGmbH") would be tokens of their own.
    return re.sub(r"\s+", " ", text)


def _phrase_fold(text: str) -> str:
    """Accents off, one character for one, so offsets into the folded text are offsets into
    the original (after ``_collapse_whitespace``) and evidence can quote what was printed."""
    folded = []
    for char in text:
        base = _strip_accents(char)
        folded.append(base if len(base) == 1 else char)
    return "".join(folded)


_TRAILING_LEGAL_FORM = re.compile(
    r"[\s,]*(?<!\w)(?:gmbh\s*&\s*co\.?\s*kg(?:aa)?|ug\s*\(haftungsbeschr[aä]nkt\)|g?mbh|ag|kgaa|kg|ohg|gbr|ug|se|"
    r"e\.\s*k(?:fm|fr)?\.?|e\.\s*v\.?|&\s*co\.?)$",
    re.IGNORECASE,
)


def _phrase_patterns(name: str) -> list[str]:
    """The name as printed, and without its legal form when what remains still identifies
    ("Müller Bürobedarf", but not "Schmidt", which would match every Herr Schmidt)."""
    full = _phrase_fold(_collapse_whitespace(name)).strip()
    patterns = [full] if len(re.sub(r"\W", "", full)) >= 4 else []
    core = full
    while (stripped := _TRAILING_LEGAL_FORM.sub("", core).strip()) != core:
        core = stripped
    if core != full and len(core.split()) >= 2 and len(re.sub(r"\W", "", core)) >= 8:
        patterns.append(core)
    return patterns


def _load_nlp():
    """Only the tokenizer is used (matching on lower-case tokens); a full German model, when
    installed, tokenizes the same way, so the blank pipeline is enough and nothing is downloaded."""
    import spacy

    if spacy.util.is_package("de_core_news_sm"):
        return spacy.load("de_core_news_sm", exclude=["tok2vec", "tagger", "morphologizer", "parser", "ner"])
    return spacy.blank("de")


class _SupplierIndex:
    """Names of all active suppliers, for rapidfuzz and a spaCy PhraseMatcher."""

    def __init__(self, rows: list[tuple[str, str, str, list]]):
        from spacy.matcher import PhraseMatcher

        self.nlp = _nlp()
        self.keys: list[str] = []  # fuzzy choices: name cores
        self.owners: list[tuple[str, str, NameKey]] = []  # per choice: supplier id, display name, key
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        patterns: dict[str, list[str]] = {}
        for supplier_id, name, legal_name, variations in rows:
            supplier = Supplier(name=name, legal_name=legal_name, name_variations=variations)
            for known in supplier_names(supplier):
                key = name_key(known)
                if len(key.core) >= 3:
                    self.keys.append(key.core)
                    self.owners.append((str(supplier_id), known, key))
                for pattern in _phrase_patterns(known):
                    patterns.setdefault(str(supplier_id), []).append(pattern)
        flat = [(supplier_id, p) for supplier_id, ps in patterns.items() for p in dict.fromkeys(ps)]
        docs = self.nlp.tokenizer.pipe(p for _id, p in flat)
        grouped: dict[str, list] = {}
        for (supplier_id, _pattern), doc in zip(flat, docs, strict=True):
            grouped.setdefault(supplier_id, []).append(doc)
        for supplier_id, docs_of_supplier in grouped.items():
            self.matcher.add(supplier_id, docs_of_supplier)

    def fuzzy_candidates(self, supplier_name: str) -> list[tuple[str, float, str]]:
        """(supplier id, score, known name) above the threshold, best first, one per supplier."""
        query = name_key(supplier_name)
        if len(query.core) < 3 or not self.keys:
            return []
        # WRatio in C as a coarse filter over thousands of names. Where name_score reaches the
        # threshold, WRatio is at least 0.95 times it (the same ratios, scaled), so the lower
        # cut-off filters out nothing that name_score would accept.
        coarse = process.extract(
            query.core, self.keys, scorer=fuzz.WRatio, processor=None, score_cutoff=NAME_THRESHOLD - 10, limit=50
        )
        best: dict[str, tuple[float, str]] = {}
        for _choice, _coarse_score, position in coarse:
            supplier_id, known, key = self.owners[position]
            score = name_score(query, key)
            if score >= _threshold(query, key) and score > best.get(supplier_id, (-1.0, ""))[0]:
                best[supplier_id] = (score, known)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        return [(supplier_id, score, known) for supplier_id, (score, known) in ranked]

    def phrase_candidates(self, text: str) -> list[tuple[str, int, str]]:
        """(supplier id, occurrences, text matched) for names found in ``text``: most often first,
        then the longer name ("Becker Druck GmbH" over the core "Becker Druck" of "Becker Druck
        KG"), then the earlier one."""
        printed = _collapse_whitespace(text)
        doc = self.nlp.make_doc(_phrase_fold(printed))
        found: dict[str, list] = {}
        for match_id, start, end in self.matcher(doc):
            supplier_id = self.nlp.vocab.strings[match_id]
            span = doc[start:end]
            found.setdefault(supplier_id, []).append((start, printed[span.start_char : span.end_char]))
        # Overlapping patterns of one supplier (full name and core) count once per place.
        ranked = []
        for supplier_id, spans in found.items():
            places = sorted({start for start, _t in spans})
            distinct = [p for i, p in enumerate(places) if i == 0 or p - places[i - 1] > 3]
            longest = max(spans, key=lambda span: len(span[1]))[1]
            ranked.append((supplier_id, len(distinct), longest, places[0]))
        ranked.sort(key=lambda item: (-item[1], -len(item[2]), item[3]))
        return [(supplier_id, count, matched) for supplier_id, count, matched, _first in ranked]


_lock = threading.Lock()
_nlp_instance = None
_index: _SupplierIndex | None = None
_index_version: tuple | None = None


def _nlp():
    global _nlp_instance
    if _nlp_instance is None:
        _nlp_instance = _load_nlp()
    return _nlp_instance


def _current_index() -> _SupplierIndex:
    """The index for the suppliers as they are now; rebuilt when one is added, edited,
    deactivated or deleted (count and latest ``updated_at`` of the active ones change).

    A bulk ``QuerySet.update()`` of names that leaves ``updated_at`` alone is not noticed
    until the next save; the match re-reads the supplier, so a stale index can only miss a
    new name, never return a deactivated supplier.
    """
    global _index, _index_version
    version = tuple(_active_suppliers().aggregate(count=Count("id"), latest=Max("updated_at")).values())
    with _lock:
        if _index is None or _index_version != version:
            rows = list(_active_suppliers().values_list("id", "name", "legal_name", "name_variations"))
            _index = _SupplierIndex(rows)
            _index_version = version
        return _index


def supplier_evidence(result, text: str, *, sender_email: str = "") -> SupplierEvidence | None:
    """``match_supplier`` for an extraction result, in the form the pipeline's decision reads."""
    fields = {name: value.normalized for name, value in result.fields.items()}
    match = match_supplier(fields=fields, text=text, sender_email=sender_email)
    if match is None:
        return None
    return SupplierEvidence(
        name=match.supplier.name,
        rule=str(match.rule),
        confidence=match.confidence,
        conflicts=tuple(match.conflicts),
        match=match,
    )
