"""Document type by weighted keywords; the title area counts more than the body.

A credit note says "Rechnung" too ("Gutschrift zu Rechnung RE-..."), a letter-style invoice
says "Sehr geehrte Damen und Herren": what the document calls itself in its title decides,
the rest of the text only tips the balance. Confidence is the margin between the best and the
second-best type, so "equally much invoice and delivery note" reads as unsure.
"""

from functools import cache

from extraction.labels import edit_distance
from extraction.layout import Line, PageLayout
from extraction.normalize import fold

TYPES = ("invoice", "credit_note", "reminder", "delivery_note", "order", "contract", "receipt", "letter", "form")

# (folded keyword, type, weight). Several-word phrases are folded without spaces.
KEYWORDS: list[tuple[str, str, float]] = [
    ("rechnung", "invoice", 3.0), ("rechnungsnummer", "invoice", 2.0), ("rechnungsdatum", "invoice", 2.0),
    ("rechnungsbetrag", "invoice", 1.5), ("invoice", "invoice", 2.5), ("zahlbarinnerhalb", "invoice", 1.0),
    ("gesamtbetrag", "invoice", 0.5), ("faelligam", "invoice", 0.8), ("leistungsdatum", "invoice", 0.5),
    ("gutschrift", "credit_note", 4.0), ("gutschriftsnummer", "credit_note", 3.0),
    ("rechnungskorrektur", "credit_note", 3.5), ("stornorechnung", "credit_note", 3.5),
    ("korrekturrechnung", "credit_note", 3.0), ("gutschriftsbetrag", "credit_note", 3.0),
    ("gutschriftsdatum", "credit_note", 3.0),
    ("creditnote", "credit_note", 4.0), ("creditnoteno", "credit_note", 2.0), ("credittotal", "credit_note", 2.0),
    ("totalcredit", "credit_note", 2.0),
    ("mahnung", "reminder", 4.0), ("zahlungserinnerung", "reminder", 4.0), ("mahngebuehr", "reminder", 2.0),
    ("ueberfaellig", "reminder", 1.5), ("offenerposten", "reminder", 1.0), ("mahnstufe", "reminder", 2.0),
    ("lieferschein", "delivery_note", 4.0), ("lieferscheinnummer", "delivery_note", 2.0),
    ("warenempfang", "delivery_note", 1.5), ("wareerhalten", "delivery_note", 1.5),
    ("empfangsbestaetigung", "delivery_note", 1.0), ("versandart", "delivery_note", 0.5),
    ("deliverynote", "delivery_note", 4.0),
    ("bestellung", "order", 2.0), ("auftragsbestaetigung", "order", 4.0), ("bestellschein", "order", 3.0),
    ("wirbestellen", "order", 2.0), ("liefertermin", "order", 0.5),
    ("vertrag", "contract", 3.0), ("vertragspartner", "contract", 2.0), ("laufzeit", "contract", 1.0),
    ("kuendigung", "contract", 1.0), ("vertragsbeginn", "contract", 2.0), ("vereinbarung", "contract", 1.5),
    ("quittung", "receipt", 4.0), ("kassenbon", "receipt", 4.0), ("barbezahlt", "receipt", 2.0),
    ("bar", "receipt", 0.5),
    ("kasse", "receipt", 1.0), ("rueckgeld", "receipt", 2.0), ("gegeben", "receipt", 0.5), ("bon", "receipt", 1.0),
    ("sehrgeehrte", "letter", 1.2), ("mitfreundlichengruessen", "letter", 1.2), ("betreff", "letter", 0.8),
    ("freundlichegruesse", "letter", 1.0),
    ("formular", "form", 3.0), ("antrag", "form", 2.0), ("bitteausfuellen", "form", 2.0), ("ankreuzen", "form", 1.5),
    ("unterschrift", "form", 0.5),
]  # fmt: skip

TITLE_WEIGHT = 3.0
# The learned model's posterior counts like a title hit (3 x 3 = 9) would, a bit less: it decides
# where the keywords are silent or split, but a printed "Gutschrift" title still outweighs it.
LEARNED_WEIGHT = 6.0
MIN_SCORE = 2.0
# "Bestellung"/"Bestellnummer" appear on invoices as references; only a title makes an order.
BODY_ONLY_DAMPING = {"order": 0.35, "contract": 0.5}

_BY_LENGTH = sorted(KEYWORDS, key=lambda entry: -len(entry[0]))
# "Gutschrift zu Rechnung 4711", "Bezug: Ihre Bestellung": a document named as a reference
# says nothing about the type of this one.
_REFERENCE_WORDS = {"zu", "zur", "zum", "bezug", "ihre", "ihrer", "unsere", "unserer", "gemaess", "laut", "lt"}


def _keyword_limit(keyword: str) -> int:
    # Long keywords tolerate one edited character ("Rechnunq"); short ones must match exactly.
    return 1 if len(keyword) >= 8 else 0


@cache
def _keywords_for_length(length: int) -> tuple[tuple[str, str, float, int], ...]:
    """The keywords a run of ``length`` folded characters can match, longest first, with their limit.

    Every n-gram of every line is tried against the keywords; most keywords are ruled out by
    length alone, so they are sorted out once per length instead of once per n-gram.
    """
    return tuple(
        (keyword, kind, weight, _keyword_limit(keyword))
        for keyword, kind, weight in _BY_LENGTH
        if abs(length - len(keyword)) <= _keyword_limit(keyword)
    )


def _is_title(line: Line, median_height: float) -> bool:
    if line.page != 1 or line.bbox[1] > 0.45:
        return False
    return len(line.words) <= 4 or line.height >= 1.3 * median_height


def _line_hits(line: Line) -> list[tuple[str, float]]:
    """Keyword hits of a line in reading order: each word matched once, longest keyword first."""
    folds = [fold(word.text) for word in line.words]
    hits = []
    used: set[int] = set()
    for size in (3, 2, 1):
        for start in range(len(folds) - size + 1):
            if any(index in used for index in range(start, start + size)):
                continue
            joined = "".join(folds[start : start + size])
            for keyword, kind, weight, limit in _keywords_for_length(len(joined)):
                if joined == keyword or (limit and edit_distance(joined, keyword, limit) <= limit):
                    if start and folds[start - 1] in _REFERENCE_WORDS:
                        used.update(range(start, start + size))
                        break
                    hits.append((start, kind, weight))
                    used.update(range(start, start + size))
                    break
    return [(kind, weight) for _, kind, weight in sorted(hits)]


def classify(layouts: list[PageLayout], *, learned=None) -> tuple[str, float]:
    """The type and a confidence; ``learned`` (``learning.classifier.NaiveBayes``) adds its posteriors."""
    scores = dict.fromkeys(TYPES, 0.0)
    title_types: set[str] = set()
    lines = [line for page in layouts for line in page.lines]
    if not lines:
        return "unknown", 0.0
    heights = sorted(line.height for line in lines)
    median_height = heights[len(heights) // 2]
    for line in lines:
        title = _is_title(line, median_height)
        for position, (kind, weight) in enumerate(_line_hits(line)):
            # Only what a title line starts with is the title: "Gutschrift zu Rechnung 4711".
            as_title = title and position == 0
            scores[kind] += weight * (TITLE_WEIGHT if as_title else 1.0)
            if as_title:
                title_types.add(kind)
    for kind, factor in BODY_ONLY_DAMPING.items():
        if kind not in title_types:
            scores[kind] *= factor
    if learned is not None:
        from extraction.learning.classifier import tokens

        for kind, probability in learned.posteriors(tokens(layouts)).items():
            if kind in scores:
                scores[kind] += LEARNED_WEIGHT * probability
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    (best, best_score), (_, second_score) = ranked[0], ranked[1]
    if best_score < MIN_SCORE:
        return "unknown", round(min(0.5, 1.0 - best_score / MIN_SCORE * 0.5), 3)
    margin = (best_score - second_score) / best_score
    # Strong evidence with a clear margin approaches 1; a near tie stays near 0.5.
    evidence = min(1.0, best_score / 12.0)
    confidence = 0.5 + 0.45 * margin * (0.6 + 0.4 * evidence)
    return best, round(min(0.99, confidence), 3)
