"""Net, USt and total chosen together: the triple for which net + USt = total wins.

Labels propose candidates for each amount (several per field is normal: "Zwischensumme" and
"Nettobetrag", one USt line per rate). A consistent triple is far stronger evidence than any
single label, so it is searched first; partial pairs and a labelled-but-unchecked amount follow.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations, product

from extraction.fields import AMOUNT_FIELDS, Candidate, LabelContext, _strength, region_below, region_right
from extraction.layout import Line, PageLayout
from extraction.normalize import format_amount
from extraction.values import Found, find_amounts, find_rates

TOLERANCE = Decimal("0.01")

# Words that may stand before an amount label inside its cell ("zzgl. 19 % USt"); a longer
# word there means the label is part of running text or a line item ("Fachbuch Umsatzsteuer").
MAX_LEADING_WORD = 5

_TOTAL_HINTS = ("summe", "gesamt", "betrag", "zahlen", "total", "brutto")


@dataclass
class AmountResult:
    chosen: dict[str, Candidate] = field(default_factory=dict)
    vat_rates: list[Decimal] = field(default_factory=list)
    consistent: bool = False


@dataclass
class _VatOption:
    candidates: list[Candidate]
    value: Decimal
    rates: list[Found]

    @property
    def strength(self) -> float:
        return sum(c.strength for c in self.candidates) / len(self.candidates)


def _label_starts_cell(context: LabelContext) -> bool:
    match = context.match
    segment = match.line.segment_of(match.words[0])
    position = next(i for i, word in enumerate(segment) if word is match.words[0])
    if position > 3:
        return False
    return all(sum(char.isalpha() for char in word.text) <= MAX_LEADING_WORD for word in segment[:position])


def amount_candidates(contexts: list[LabelContext]) -> tuple[list[Candidate], dict[int, list[Found]]]:
    """Labelled amount candidates, plus the VAT rates printed on each USt line (by candidate id)."""
    candidates: list[Candidate] = []
    rates: dict[int, list[Found]] = {}
    for context in contexts:
        match = context.match
        if match.field not in AMOUNT_FIELDS or not _label_starts_cell(context):
            continue
        below = False
        region = region_right(match, context.line_labels)
        amounts = find_amounts(region)
        if not amounts:
            amounts = find_amounts(region_below(match, context.page, context.line_labels))
            below = bool(amounts)
        if not amounts:
            continue
        rule = ("label-below:" if below else "label:") + match.label.text
        strength = _strength(match, below)
        if match.field != "vat_amount":
            candidate = Candidate(match.field, amounts[0], context.page.number, rule, strength, match.line)
            candidates.append(candidate)
            unsigned = _without_detached_sign(candidate)
            if unsigned is not None:
                candidates.append(unsigned)
            continue
        line_rates = find_rates(match.line.words)
        base, tax = _base_and_tax(amounts, match.line)
        if tax is not None:
            candidate = Candidate("vat_amount", tax, context.page.number, rule, strength, match.line)
            candidate.base = base  # type: ignore[attr-defined]
            candidates.append(candidate)
            rates[id(candidate)] = line_rates
        if base is not None and len(line_rates) == 1:
            # "19 % auf 2.335,50": the tax follows from rate and base. Tesseract misreads a
            # small tax ("1,11 €" as "111€") far more often than the longer base and rate.
            computed = money(base.parsed * line_rates[0].parsed / 100)
            if tax is None or computed != tax.parsed:
                printed = f"{line_rates[0].value} auf {base.value}"
                found = Found(printed, str(computed), [*line_rates[0].words, *base.words], parsed=computed)
                candidate = Candidate(
                    "vat_amount", found, context.page.number, "berechnet:satz-mal-basis", 0.8 * strength, match.line
                )
                candidate.base = base  # type: ignore[attr-defined]
                candidates.append(candidate)
                rates[id(candidate)] = line_rates
    return candidates, rates


# "USt 19 % auf 1.234,56   234,57": the amount after "auf"/"von" is the base, not the tax.
_BASE_WORDS = {"auf", "von", "aus"}


def _base_and_tax(amounts: list[Found], line: Line) -> tuple[Found | None, Found | None]:
    base = tax = None
    for found in amounts:
        index = next((i for i, word in enumerate(line.words) if word is found.words[0]), 0)
        before = line.words[index - 1].text.lower().strip(".:,") if index else ""
        if before in _BASE_WORDS:
            base = found
        else:
            tax = found
    return base, tax


def money(value: Decimal) -> Decimal:
    return value.quantize(TOLERANCE, rounding=ROUND_HALF_UP)


def _vat_options(vats: list[Candidate], rates: dict[int, list[Found]]) -> list[_VatOption]:
    options = [_VatOption([c], c.found.parsed, rates.get(id(c), [])) for c in vats]
    # One USt line per rate (7 % and 19 %) adds up to the tax of the invoice; each line may
    # offer its printed tax and the tax computed from rate and base.
    by_line: dict[tuple[int, int], list[Candidate]] = {}
    for candidate in vats:
        key = (candidate.page, candidate.line.index if candidate.line else -1)
        by_line.setdefault(key, []).append(candidate)
    lines = list(by_line.values())
    for size in (2, 3):
        for line_group in combinations(lines, size):
            for group in product(*line_group):
                group_rates = [rate for c in group for rate in rates.get(id(c), [])]
                if len({rate.normalized for rate in group_rates}) < size:
                    continue
                value = sum((c.found.parsed for c in group), Decimal("0"))
                options.append(_VatOption(list(group), value, group_rates))
    return options


def _base_sum(option: _VatOption) -> tuple[Decimal, list] | None:
    """The net amount as the sum of the bases printed on the USt lines ("auf 1.234,56")."""
    bases = [getattr(c, "base", None) for c in option.candidates]
    if not bases or any(base is None for base in bases):
        return None
    return sum((base.parsed for base in bases), Decimal("0")), [w for base in bases for w in base.words]


def _all_amounts(layouts: list[PageLayout], excluded: set[tuple[int, int]]) -> list[tuple[Found, int, Line]]:
    result = []
    for page in layouts:
        for line in page.lines:
            if (page.number, line.index) in excluded:
                continue
            result.extend((found, page.number, line) for found in find_amounts(line.words))
    return result


def _printed(value: Decimal, amounts: list[tuple[Found, int, Line]], field_name: str, rule: str) -> Candidate | None:
    for found, page, line in reversed(amounts):
        if abs(found.parsed - value) <= TOLERANCE:
            return Candidate(field_name, found, page, rule, 0.7, line)
    return None


def _vat_candidate(option: _VatOption) -> Candidate:
    if len(option.candidates) == 1:
        return option.candidates[0]
    words = [word for c in option.candidates for word in c.found.words]
    printed = " + ".join(c.found.value for c in option.candidates)
    found = Found(printed, str(option.value.quantize(TOLERANCE)), words, parsed=option.value)
    first = option.candidates[0]
    same_page = all(c.page == first.page for c in option.candidates)
    if not same_page:
        found.words = list(first.found.words)
    return Candidate("vat_amount", found, first.page, "summe:ust-zeilen", option.strength, first.line)


def choose_amounts(
    layouts: list[PageLayout],
    contexts: list[LabelContext],
    excluded: set[tuple[int, int]],
    *,
    document_type: str | None = None,
    line_items: list[dict] | None = None,
) -> AmountResult:
    result = _choose_amounts(layouts, contexts, excluded)
    # Only USt and total read: the engine derives net = total - USt and checks it against the
    # positions itself (``engine._net_from_positions``); here the case where what was read disagrees.
    net_lost = "net_amount" not in result.chosen and {"vat_amount", "total_amount"} <= result.chosen.keys()
    if not result.consistent and line_items and not net_lost:
        result = _from_positions(line_items, contexts, result)
    if document_type == "credit_note":
        _report_credit_note_positive(result)
    return result


def _from_positions(items: list[dict], contexts: list[LabelContext], fallback: AmountResult) -> AmountResult:
    """No labelled net + USt = total held (one amount misread): rebuild them from the positions.

    Net is the sum of the line totals, USt that net per rate times the rate (once per rate, as
    the invoice computes it), and the result counts only when a labelled total equals net + USt
    exactly: the table and the totals block are two independent readings, and a misread digit
    in either makes them disagree. The printed amounts that match are kept as evidence.
    """
    try:
        nets: dict[Decimal, Decimal] = {}
        for item in items:
            rate = Decimal(item["vat_rate"])
            nets[rate] = nets.get(rate, Decimal("0")) + Decimal(item["line_total"])
    except (KeyError, ArithmeticError, TypeError, ValueError):
        return fallback  # a position without rate or total: the table cannot vouch for anything
    net = sum(nets.values(), Decimal("0"))
    vat = sum((money(value * rate / 100) for rate, value in nets.items()), Decimal("0"))
    if net <= 0:
        return fallback
    candidates, _rates = amount_candidates(contexts)
    totals = [c for c in candidates if c.field == "total_amount" and c.found.parsed == net + vat]
    if not totals:
        return fallback
    total = max(totals, key=lambda c: c.strength)
    chosen = {"total_amount": total}
    for name, value in (("net_amount", net), ("vat_amount", vat)):
        printed = [c for c in candidates if c.field == name and c.found.parsed == value]
        if printed:
            chosen[name] = max(printed, key=lambda c: c.strength)
            continue
        found = Found(f"{value} (aus Positionen)", format_amount(value), [], parsed=value)
        rule = "summe:positionen" if name == "net_amount" else "berechnet:positionen-mal-satz"
        chosen[name] = Candidate(name, found, total.page, rule, 0.75 * total.strength, total.line)
    return AmountResult(chosen=chosen, vat_rates=sorted(nets), consistent=True)


def _report_credit_note_positive(result: AmountResult) -> None:
    """A Gutschrift printed as "Gutschriftsbetrag -1.234,56" is reported positive.

    The document type already says which way the money flows (see validation's
    ``credit_note_amounts_positive``); the sign is flipped only when every chosen amount carries
    it, so one stray dash before a single amount is not taken for a printed convention.
    """
    values = [candidate.found.parsed for candidate in result.chosen.values()]
    if not values or any(value > 0 for value in values) or not any(value < 0 for value in values):
        return
    for name, candidate in result.chosen.items():
        found = candidate.found
        positive = -found.parsed
        flipped = Found(found.value, format_amount(positive), found.words, found.repaired, positive)
        rule = f"{candidate.rule}:vorzeichen-gutschrift"
        result.chosen[name] = Candidate(name, flipped, candidate.page, rule, candidate.strength, candidate.line)


def _choose_amounts(
    layouts: list[PageLayout], contexts: list[LabelContext], excluded: set[tuple[int, int]]
) -> AmountResult:
    candidates, rates = amount_candidates(contexts)
    nets = [c for c in candidates if c.field == "net_amount"]
    totals = [c for c in candidates if c.field == "total_amount"]
    vat_options = _vat_options([c for c in candidates if c.field == "vat_amount"], rates)

    if not nets:
        # "Summe netto" is unreadable (Tesseract merges it with a framed box beside it) but the
        # USt lines print their bases: their sum is the net amount.
        for option in vat_options:
            base_sum = _base_sum(option)
            if base_sum is None:
                continue
            value, words = base_sum
            printed = " + ".join(c.base.value for c in option.candidates)  # type: ignore[attr-defined]
            found = Found(printed, str(value), words, parsed=value)
            first = option.candidates[0]
            nets.append(Candidate("net_amount", found, first.page, "summe:bemessungsgrundlagen", 0.7, first.line))

    best = None
    for total in totals:
        for net in nets:
            for option in vat_options:
                if abs(net.found.parsed + option.value - total.found.parsed) > TOLERANCE:
                    continue
                if net.found.parsed == total.found.parsed and option.value != 0:
                    continue
                score = total.strength + net.strength + option.strength
                if best is None or score > best[0]:
                    best = (score, net, option, total)
    result = AmountResult()
    if best is not None:
        _, net, option, total = best
        result.chosen = {"net_amount": net, "vat_amount": _vat_candidate(option), "total_amount": total}
        result.vat_rates = [rate.parsed for rate in option.rates]
        result.consistent = True
        return result

    printed = _all_amounts(layouts, excluded)
    strongest = {
        name: max(group, key=lambda c: (round(c.strength, 3), abs(c.found.parsed)))
        for name in AMOUNT_FIELDS
        if (group := [c for c in candidates if c.field == name])
    }
    best_vat = max(vat_options, key=lambda option: (len(option.candidates), option.strength)) if vat_options else None
    if best_vat is not None:
        strongest["vat_amount"] = _vat_candidate(best_vat)
        result.vat_rates = [rate.parsed for rate in best_vat.rates]
    net, vat, total = (strongest.get(name) for name in AMOUNT_FIELDS)

    # Two labelled amounts and the third printed somewhere without a label we know.
    if net and vat and not total:
        total = _printed(net.found.parsed + vat.found.parsed, printed, "total_amount", "summe:netto+ust")
    elif net and total and not vat:
        vat = _printed(total.found.parsed - net.found.parsed, printed, "vat_amount", "differenz:gesamt-netto")
        if vat is None:
            vat = _vat_from_rate(net, total, contexts)
    elif vat and total and not net:
        net = _printed(total.found.parsed - vat.found.parsed, printed, "net_amount", "differenz:gesamt-ust")
    if total is None:
        used = {id(word) for c in (net, vat) if c is not None for word in c.found.words}
        total = _largest_near_sum([entry for entry in printed if not any(id(w) in used for w in entry[0].words)])
    result.chosen = {name: c for name, c in zip(AMOUNT_FIELDS, (net, vat, total), strict=True) if c is not None}
    result.consistent = bool(
        net and vat and total and abs(net.found.parsed + vat.found.parsed - total.found.parsed) <= TOLERANCE
    )
    return result


def _largest_near_sum(printed: list[tuple[Found, int, Line]]) -> Candidate | None:
    """No total label matched: the largest amount on a line that speaks of a sum."""
    best = None
    for found, page, line in printed:
        text = line.folded
        if not any(hint in text for hint in _TOTAL_HINTS):
            continue
        if best is None or found.parsed > best[0].parsed:
            best = (found, page, line)
    if best is None:
        return None
    found, page, line = best
    return Candidate("total_amount", found, page, "fallback:groesster-betrag-bei-summe", 0.5, line)


def _without_detached_sign(candidate: Candidate) -> Candidate | None:
    """ "Nettobetrag  - 2.047,00 €": a lone dash before an amount is more often a speck than a sign.

    The positive twin competes in the triple search; it wins only where it makes the sum hold.
    """
    found = candidate.found
    if found.parsed >= 0 or len(found.words) < 2 or found.words[0].text not in {"-", "−", "–"}:
        return None
    value = -found.parsed
    unsigned = Found(found.value.lstrip("-−– "), str(value), found.words[1:], True, value)
    return Candidate(
        candidate.field, unsigned, candidate.page, candidate.rule, 0.95 * candidate.strength, candidate.line
    )


def _vat_from_rate(net: Candidate, total: Candidate, contexts: list[LabelContext]) -> Candidate | None:
    """The USt amount is unreadable ("291,715") but its line prints one rate: rate x net, if that is total - net.

    Two independent readings (the rate on the USt line, net and total) agree, so the amount is
    known without being legible.
    """
    for context in contexts:
        match = context.match
        if match.field != "vat_amount" or not _label_starts_cell(context):
            continue
        rates = find_rates(match.line.words)
        if len({rate.normalized for rate in rates}) != 1:
            continue
        computed = money(net.found.parsed * rates[0].parsed / 100)
        if computed != total.found.parsed - net.found.parsed:
            continue
        found = Found(f"{rates[0].value} von {net.found.value}", str(computed), list(rates[0].words), True, computed)
        return Candidate("vat_amount", found, context.page.number, "berechnet:satz-mal-netto", 0.75, match.line)
    return None
