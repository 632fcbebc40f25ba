"""Line items from the positions table: rows between the header row and the totals.

Rows are read from the right, where the layout is predictable (total, optional rate, unit
price), and from the left (position); what remains is quantity, unit and description. The
header row only tells on which side of the description the quantity stands. A row without a
parsable total is a continuation of the description above it.
"""

import re
from dataclasses import dataclass, field

from extraction.labels import find_labels
from extraction.layout import Line, PageLayout
from extraction.normalize import fold
from extraction.values import digitise, find_amounts, find_rates

_HEADER_WORDS = {
    "pos": "position", "position": "position", "posnr": "position", "nr": "position",
    "menge": "quantity", "anzahl": "quantity", "anz": "quantity", "stueck": "quantity",
    "einheit": "unit", "me": "unit", "eh": "unit",
    "bezeichnung": "description", "beschreibung": "description", "artikel": "description",
    "leistung": "description", "artikelbezeichnung": "description", "text": "description",
    "leistungsbeschreibung": "description", "artikelbeschreibung": "description",
    "einzelpreis": "unit_price", "epreis": "unit_price", "preis": "unit_price", "stueckpreis": "unit_price",
    "einzelpreisnetto": "unit_price", "ep": "unit_price",
    "gesamt": "line_total", "gesamtpreis": "line_total", "betrag": "line_total", "summe": "line_total",
    "gesamtnetto": "line_total", "nettobetrag": "line_total", "gp": "line_total",
    "ust": "vat_rate", "mwst": "vat_rate", "steuer": "vat_rate", "ustsatz": "vat_rate",
    # English column heads ("Item | Description | Qty | Unit | Unit Price | VAT | Amount").
    "item": "position", "no": "position", "description": "description", "qty": "quantity",
    "quantity": "quantity", "unit": "unit", "price": "unit_price", "unitprice": "unit_price",
    "amount": "line_total", "total": "line_total", "vat": "vat_rate", "tax": "vat_rate",
}  # fmt: skip
_STOP_WORDS = (
    "zwischensumme", "summe", "nettobetrag", "gesamtbetrag", "netto", "rechnungsbetrag", "subtotal", "nettotal",
)  # fmt: skip
# Carry-over lines of a table that runs over several pages: neither a position nor the end.
_CARRY_WORDS = ("uebertrag", "fortsetzung", "zwischensummeseite")
_UNITS = {
    "stk", "stk.", "stück", "st", "st.", "std", "std.", "stunden", "h", "kg", "g", "t", "m", "m²", "m2", "qm",
    "m³", "cbm", "l", "ltr", "ltr.", "pkt", "pkt.", "paket", "psch", "psch.", "pauschal", "pauschale", "tag",
    "tage", "monat", "mon.", "km", "satz", "set", "rolle", "karton", "ve", "lfm", "pal.", "stck", "stck.",
}  # fmt: skip
_QUANTITY = re.compile(r"^\d{1,6}(?:[.,]\d{1,3})?$")
_QUANTITY_UNIT = re.compile(r"^(\d{1,6}(?:[.,]\d{1,3})?)([A-Za-zÄÖÜäöü²³]{1,6}\.?)$")
_POSITION = re.compile(r"^\d{1,3}\.?$")
_MAX_ROW_GAP_HEIGHTS = 8
_TOTALS_FIELDS = ("net_amount", "vat_amount", "total_amount")


@dataclass
class Table:
    items: list[dict] = field(default_factory=list)
    lines: set[tuple[int, int]] = field(default_factory=set)  # (page, line index) the table occupies


def _header_columns(line: Line) -> dict[str, float] | None:
    columns: dict[str, float] = {}
    for word in line.words:
        key = fold(word.text)
        role = _HEADER_WORDS.get(key)
        if role and role not in columns:
            columns[role] = (word.bbox[0] + word.bbox[2]) / 2
    amount_roles = {"unit_price", "line_total"} & columns.keys()
    if "description" in columns and amount_roles and len(columns) >= 3:
        return columns
    return None


def _is_stop(line: Line) -> bool:
    first = fold(line.segments[-1][0].text) if line.segments else ""
    if any(fold(word.text).startswith(_STOP_WORDS) for word in line.words[:3]) or first.startswith(_STOP_WORDS):
        return True
    for match in find_labels(line):
        if match.field in ("net_amount", "total_amount") and match.start == 0:
            return True
        # The totals column beside a payment box ("Empfänger: ... | Umsatzsteuer 7 % auf ... | 2,21 €"):
        # an amount label opening a later column ends the table even when Tesseract lost the
        # "Summe netto" line above it; a position never has a label there.
        segment = line.segment_of(match.words[0])
        if match.field in _TOTALS_FIELDS and segment is not line.segments[0] and segment[0] is match.words[0]:
            return True
    return False


def _quantity(text: str) -> str:
    text = digitise(text)
    if "," in text:
        whole, _, fraction = text.partition(",")
        value = f"{whole.replace('.', '')}.{fraction}"
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        value = text.replace(".", "")
    else:
        value = text
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0" if "." not in value else value


def parse_row(line: Line, quantity_left: bool) -> dict | None:
    words = list(line.words)
    amounts = find_amounts(words)
    if not amounts:
        return None
    total = amounts[-1]
    last_index = max(i for i, word in enumerate(words) if any(word is w for w in total.words))
    if any(fold(word.text) not in ("", "eur") for word in words[last_index + 1 :]):
        return None
    rest = words[: min(i for i, word in enumerate(words) if any(word is w for w in total.words))]
    item = {"position": "", "description": "", "quantity": "", "unit": "", "unit_price": "", "vat_rate": "",
            "line_total": total.normalized}  # fmt: skip

    # Rate and unit price stand right of the description, rate either side of the price.
    for _ in range(2):
        rates = find_rates(rest[-2:])
        if rates and any(rest[-1] is w for w in rates[-1].words) and not item["vat_rate"]:
            item["vat_rate"] = rates[-1].normalized
            rest = rest[: min(i for i, word in enumerate(rest) if any(word is w for w in rates[-1].words))]
            continue
        price = find_amounts(rest[-3:])
        if price and any(rest[-1] is w for w in price[-1].words) and not item["unit_price"]:
            item["unit_price"] = price[-1].normalized
            rest = rest[: min(i for i, word in enumerate(rest) if any(word is w for w in price[-1].words))]
            continue
        break

    if rest and _POSITION.match(digitise(rest[0].text)):
        item["position"] = digitise(rest[0].text).rstrip(".")
        rest = rest[1:]
    rest = _take_quantity(rest, item, from_left=quantity_left)
    if not item["quantity"]:
        rest = _take_quantity(rest, item, from_left=not quantity_left)
    item["description"] = " ".join(word.text for word in rest).strip()
    if not item["description"] or not (item["quantity"] or item["unit_price"]):
        return None
    return item


# Tesseract reads "Stk." as "Sik." or "Std." as "Std:"; a word right after a quantity that is one
# edit from a unit of three letters or more is that unit, reported in its usual spelling.
_CANONICAL_UNITS = {"stk": "Stk.", "std": "Std.", "stck": "Stck.", "psch": "Psch.", "pkt": "Pkt.", "ltr": "Ltr."}


def _unit(token: str) -> str | None:
    cleaned = token.rstrip(":;,")
    key = cleaned.lower()
    if key in _UNITS or key.rstrip(".") in _UNITS:
        return _CANONICAL_UNITS.get(key.rstrip("."), cleaned) if token != cleaned else cleaned
    bare = key.rstrip(".")
    if len(bare) >= 3:
        for unit in _CANONICAL_UNITS:
            if len(unit) == len(bare) and sum(a != b for a, b in zip(unit, bare, strict=True)) == 1:
                return _CANONICAL_UNITS[unit]
    return None


def _take_quantity(rest: list, item: dict, *, from_left: bool) -> list:
    if not rest:
        return rest
    tokens = [word.text for word in rest]
    if from_left:
        if len(tokens) >= 2 and _QUANTITY.match(digitise(tokens[0])) and _unit(tokens[1]):
            item["quantity"], item["unit"] = _quantity(tokens[0]), _unit(tokens[1])
            return rest[2:]
        match = _QUANTITY_UNIT.match(digitise(tokens[0]))
        if match and tokens[0][len(match[1]) :].lower() in _UNITS:
            item["quantity"], item["unit"] = _quantity(match[1]), tokens[0][len(match[1]) :]
            return rest[1:]
        if _QUANTITY.match(digitise(tokens[0])) and len(tokens) > 1:
            item["quantity"] = _quantity(tokens[0])
            return rest[1:]
        return rest
    if len(tokens) >= 2 and _unit(tokens[-1]) and _QUANTITY.match(digitise(tokens[-2])):
        item["quantity"], item["unit"] = _quantity(tokens[-2]), _unit(tokens[-1])
        return rest[:-2]
    match = _QUANTITY_UNIT.match(tokens[-1])
    if match and match[2].lower() in _UNITS:
        item["quantity"], item["unit"] = _quantity(match[1]), match[2]
        return rest[:-1]
    if _QUANTITY.match(digitise(tokens[-1])) and len(tokens) > 1:
        item["quantity"] = _quantity(tokens[-1])
        return rest[:-1]
    return rest


def find_line_items(layouts: list[PageLayout]) -> Table:
    table = Table()
    quantity_left = False
    open_table = False  # the table ran to the page end and may go on overleaf
    for page in layouts:
        start = None
        for line in page.lines:
            columns = _header_columns(line)
            if columns is not None:
                start = line.index
                quantity_left = columns.get("quantity", 1.0) < columns["description"]
                table.lines.add((page.number, line.index))
                break
        if start is None and not open_table:
            continue
        open_table = _read_rows(page, start, quantity_left, table)
    return table


def _read_rows(page: PageLayout, header_index: int | None, quantity_left: bool, table: Table) -> bool:
    """Read rows below the header (or from the top on a continuation page); True if the page ended first."""
    begin = header_index + 1 if header_index is not None else 0
    previous_bottom = page.lines[header_index].bbox[3] if header_index is not None else None
    for line in page.lines[begin:]:
        if line.words and fold(line.words[0].text).startswith(_CARRY_WORDS):
            continue
        if _is_stop(line):
            return False
        if previous_bottom is not None and line.bbox[1] - previous_bottom > _MAX_ROW_GAP_HEIGHTS * line.height:
            return False
        item = parse_row(line, quantity_left)
        if item is not None:
            table.items.append(item)
            table.lines.add((page.number, line.index))
            previous_bottom = line.bbox[3]
            continue
        if header_index is None and not table.items:
            continue
        wrapped = previous_bottom is not None and line.bbox[1] - previous_bottom < 1.5 * line.height
        if table.items and wrapped and not find_amounts(line.words):
            # A wrapped description: the second line of the position above.
            table.items[-1]["description"] += " " + line.text
            table.lines.add((page.number, line.index))
            previous_bottom = line.bbox[3]
    return True
