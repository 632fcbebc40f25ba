"""The supplier's name from the letterhead, not from the recipient's address block.

Both usually carry a legal form ("GmbH"), so the legal form alone decides nothing. What sets
the supplier apart: it sits at the very top or in the one-line return address above the window
("Müller GmbH · Hansaring 42 · 50670 Köln"), it is printed again in the footer, and it is often
set larger. The recipient block is the few lines under that return address.
"""

import re

from extraction.fields import Candidate
from extraction.layout import Line, PageLayout
from extraction.normalize import fold
from extraction.values import Found

_LEGAL_FORM = re.compile(
    r"(?<![\wÄÖÜäöü])(?:"
    r"(?:gemeinnützige\s)?G[mr]n?b[Hh]|gGmbH|AG|KGaA|KG|OHG|GbR|UG|mbH|mbB|PartG|SE|"
    r"e\.\s?K\.?|e\.\s?Kfm\.?|e\.\s?Kfr\.?|e\.\s?V\.?|Ltd\.?|Inc\.?|S\.A\.?|B\.V\.?"
    r")(?![\wÄÖÜäöü])"
)
# Pieces that belong after the legal form: "GmbH & Co. KG", "UG (haftungsbeschränkt)".
_LEGAL_TAIL = re.compile(
    r"^\s*(?:&\s?Co\.?\s?(?:KG|OHG|KGaA)|\(haftungsbeschr[aä]nkt\)|i\.\s?G\.|i\.\s?L\.)", re.IGNORECASE
)
_SEPARATORS = re.compile(r"\s[·•|–—-]\s|\s?[·•|]\s?|,\s")
_POSTAL_CODE = re.compile(r"(?<!\d)\d{5}\s+[A-ZÄÖÜ]")
_RECIPIENT_MARKERS = re.compile(r"^(?:z\.\s?hd\.?|zu händen|herrn|frau|firma|an\b)", re.IGNORECASE)
_TITLE_WORDS = {"rechnung", "gutschrift", "lieferschein", "mahnung", "angebot", "auftragsbestaetigung", "quittung"}


_AND_CO = re.compile(r"&\s?co\.", re.IGNORECASE)
_HAFTUNGSBESCHRAENKT = re.compile(r"\(haftungsbeschr[aä]nkt\)", re.IGNORECASE)


def canonical_name(name: str) -> str:
    """Single spaces; fixed legal-form parts in their one spelling (Tesseract drops umlauts, lowers "Co.")."""
    name = _HAFTUNGSBESCHRAENKT.sub("(haftungsbeschränkt)", re.sub(r"\s+", " ", name))
    return _AND_CO.sub("& Co.", name)


def _parts(line: Line) -> list[tuple[str, list]]:
    """Split a line into its columns and "·"-separated pieces, keeping the words of each."""
    pieces = []
    for segment in line.segments:
        current: list = []
        for word in segment:
            text = word.text
            if text in {"·", "•", "|", "-", "–", "—"}:
                if current:
                    pieces.append(current)
                current = []
                continue
            current.append(word)
            if text.endswith((",", "·")) and not _LEGAL_FORM.search(text):
                pieces.append(current)
                current = []
        if current:
            pieces.append(current)
    return [(" ".join(word.text for word in words).strip(" ,·"), words) for words in pieces]


def _name_in(text: str, words: list) -> tuple[str, list] | None:
    matches = list(_LEGAL_FORM.finditer(text))
    if not matches:
        return None
    match = matches[-1]
    end = match.end()
    tail = _LEGAL_TAIL.match(text[end:])
    if tail:
        end += tail.end()
    # OCR specks before the name (". Hofmann", "_ Grünwald") are not part of it.
    name = text[:end].strip(" ,")
    while name and not name[0].isalnum():
        name = name[1:].lstrip()
    if len(re.sub(r"[^A-Za-zÄÖÜäöüß]", "", name)) < 4:
        return None
    # Words whose text falls inside the name.
    skipped = len(text[: text.find(name)].split()) if name in text else 0
    count = len(name.split())
    return name, words[skipped : skipped + count]


def _is_sender_line(line: Line) -> bool:
    return bool(_POSTAL_CODE.search(line.text)) and bool(re.search(r"[·•|]|\s[-–]\s", line.text))


def _recipient_lines(page: PageLayout) -> set[int]:
    """Indexes of lines in the recipient block: after the return-address line or after "z. Hd."."""
    lines = page.lines
    recipient: set[int] = set()
    for line in lines:
        if line.bbox[1] > 0.5:
            break
        starts_block = _is_sender_line(line) or _RECIPIENT_MARKERS.match(line.text)
        if not starts_block:
            continue
        first = line.index + 1 if _is_sender_line(line) else line.index
        left = line.bbox[0]
        for following in lines[first : first + 6]:
            if abs(following.bbox[0] - left) > 0.08 and following.index != line.index:
                # Only the left column belongs to the address; a right-hand info column does not.
                column = [seg for seg in following.segments if abs(seg[0].bbox[0] - left) < 0.08]
                if not column:
                    continue
            recipient.add(following.index)
            if _POSTAL_CODE.search(following.text):
                break
    return recipient


def find_supplier_name(layouts: list[PageLayout]) -> Candidate | None:
    if not layouts:
        return None
    first = layouts[0]
    recipient = _recipient_lines(first)
    all_folded = [line.folded for page in layouts for line in page.lines]
    heights = sorted(line.height for line in first.lines) or [0.01]
    median_height = heights[len(heights) // 2]
    options: list[tuple[float, str, list, Line]] = []
    for line in first.lines:
        in_recipient = line.index in recipient
        sender = _is_sender_line(line)
        for text, words in _parts(line):
            named = _name_in(text, words)
            if named is None:
                continue
            name, name_words = named
            score = 1.0
            top = line.bbox[1]
            if top < 0.15:
                score += 2.0
            elif top > 0.8:
                score += 0.5
            if sender:
                score += 1.5
            if in_recipient:
                score -= 3.0
            folded_name = fold(name)
            repeats = sum(1 for folded in all_folded if folded_name in folded) - 1
            if repeats > 0:
                score += 1.5
            score += min(1.5, max(0.0, line.height / median_height - 1.0))
            options.append((score, name, name_words, line))
    if options:
        score, name, words, line = max(options, key=lambda option: (option[0], -option[3].bbox[1]))
        if score > 0:
            strength = 0.92 if score >= 3.5 else 0.8 if score >= 2 else 0.6
            found = Found(name, canonical_name(name), words or list(line.words))
            return Candidate("supplier_name", found, first.number, "briefkopf:rechtsform", strength, line)
    return _largest_top_line(first, recipient, median_height)


def _largest_top_line(page: PageLayout, recipient: set[int], median_height: float) -> Candidate | None:
    """No legal form anywhere: the largest line at the top of the page that reads like a name."""
    best = None
    for line in page.lines:
        if line.bbox[1] > 0.15:
            break
        if line.index in recipient or _is_sender_line(line):
            continue
        text = line.segments[0] and " ".join(word.text for word in line.segments[0])
        letters = sum(char.isalpha() for char in text)
        if letters < 4 or letters < 0.6 * len(text.replace(" ", "")):
            continue
        if {fold(word) for word in text.split()} & _TITLE_WORDS:
            continue
        if best is None or line.height > best.height * 1.05:
            best = line
    if best is None or best.height < median_height * 1.2:
        return None
    words = best.segments[0]
    text = " ".join(word.text for word in words)
    return Candidate(
        "supplier_name", Found(text, text, list(words)), page.number, "briefkopf:groesste-zeile", 0.45, best
    )
