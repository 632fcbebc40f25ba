"""Words into lines and lines into segments, the geometry every rule reads from.

A *line* is words whose boxes overlap vertically, sorted left to right. A *segment* is a run of
words within a line without a wide gap: a two-column letterhead gives one line with two
segments, so "label left, value right" and "value below the label" both become questions about
segments.
"""

from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from statistics import median

from extraction.normalize import fold
from ocr.types import PageContent, Word

BBox = tuple[float, float, float, float]

# Boxes are normalised to the page's width and height separately, so a horizontal gap and a
# word height are in different units. Nearly everything we get is A4 portrait; the residual
# error on other formats only shifts the gap thresholds a little.
PAGE_ASPECT = 297 / 210

# A gap wider than this many word heights separates two segments (columns, table cells).
SEGMENT_GAP_HEIGHTS = 2.0
# A gap wider than this is more than a space: a tab stop or a table cell boundary.
WIDE_GAP_HEIGHTS = 1.2


def height_x(word: Word) -> float:
    """The height of a word in units of page width, comparable with horizontal gaps."""
    return (word.bbox[3] - word.bbox[1]) * PAGE_ASPECT


def union_bbox(words: list[Word]) -> BBox:
    return (
        min(word.bbox[0] for word in words),
        min(word.bbox[1] for word in words),
        max(word.bbox[2] for word in words),
        max(word.bbox[3] for word in words),
    )


@dataclass
class Line:
    page: int
    words: list[Word]
    index: int = 0
    segments: list[list[Word]] = field(default_factory=list)

    @cached_property
    def bbox(self) -> BBox:
        # Cached: rules ask for a line's box thousands of times a page, and a line's words are
        # fixed once ``group_lines`` has made it.
        return union_bbox(self.words)

    @property
    def height(self) -> float:
        return median(word.bbox[3] - word.bbox[1] for word in self.words)

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @property
    def folded(self) -> str:
        return fold(self.text)

    def segment_of(self, word: Word) -> list[Word]:
        for segment in self.segments:
            if any(candidate is word for candidate in segment):
                return segment
        return self.words


@dataclass
class PageLayout:
    number: int
    lines: list[Line]
    source: str

    @property
    def words(self) -> list[Word]:
        return [word for line in self.lines for word in line.words]


def _vertical_overlap(a: BBox, b: BBox) -> float:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min(a[3] - a[1], b[3] - b[1])
    if smaller <= 0:
        return 0.0
    return overlap / smaller


def group_lines(words: list[Word], page: int = 1) -> list[Line]:
    """Group words into lines by vertical overlap; robust to the slight skew left after deskewing.

    Words are visited top to bottom by their centre; a word joins the line whose *last* word
    (nearest on the left after sorting) overlaps it most, so a line may drift a little across
    a wide page without swallowing the line below.
    """
    usable = [word for word in words if word.text.strip() and word.bbox[3] > word.bbox[1]]
    usable.sort(key=lambda word: ((word.bbox[1] + word.bbox[3]) / 2, word.bbox[0]))
    lines: list[list[Word]] = []
    # The vertical extent of each line so far: a line that no word of it overlaps cannot take
    # the word (the anchor must overlap by more than half), and most of the last eight lines
    # are above the word. Skipping them keeps the result and saves most of the work.
    extents: list[list[float]] = []
    for word in usable:
        best, best_index, best_overlap = None, -1, 0.5
        top, bottom = word.bbox[1], word.bbox[3]
        height = bottom - top
        for index in range(max(0, len(lines) - 8), len(lines)):
            extent = extents[index]
            if extent[1] <= top or extent[0] >= bottom:
                continue
            candidate = lines[index]
            # A stray "-" or speck that Tesseract reports with a tiny box is no anchor: it would
            # split "Krause IT-Service UG" into two lines.
            sized = [other for other in candidate if other.bbox[3] - other.bbox[1] >= 0.4 * height] or candidate
            anchor = min(sized, key=lambda other: abs(other.bbox[0] - word.bbox[0]))
            overlap = _vertical_overlap(anchor.bbox, word.bbox)
            if overlap > best_overlap and not any(_same_slot(other, word) for other in candidate):
                best, best_index, best_overlap = candidate, index, overlap
        if best is None:
            lines.append([word])
            extents.append([top, bottom])
        else:
            best.append(word)
            extent = extents[best_index]
            extent[0], extent[1] = min(extent[0], top), max(extent[1], bottom)
    result = []
    for words_of_line in lines:
        words_of_line.sort(key=lambda word: word.bbox[0])
        result.append(Line(page=page, words=words_of_line))
    result.sort(key=lambda line: (line.bbox[1] + line.bbox[3]) / 2)
    for index, line in enumerate(result):
        line.index = index
        line.segments = split_segments(line.words)
    return result


def _same_slot(a: Word, b: Word) -> bool:
    # Two words that overlap horizontally cannot sit on the same line (one is above the other).
    overlap = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
    # Tesseract's boxes of neighbours on one line can overlap ("GmbH" drawn over "&" in a bold
    # letterhead); only words that also sit at clearly different heights are stacked.
    return overlap > 0.5 * min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0]) and _vertical_overlap(a.bbox, b.bbox) < 0.8


def split_segments(words: list[Word]) -> list[list[Word]]:
    if not words:
        return []
    height = median(height_x(word) for word in words)
    segments = [[words[0]]]
    for previous, word in pairwise(words):
        if word.bbox[0] - previous.bbox[2] > SEGMENT_GAP_HEIGHTS * height:
            segments.append([word])
        else:
            segments[-1].append(word)
    return segments


def gap(a: Word, b: Word) -> float:
    """Horizontal distance from the right edge of ``a`` to the left edge of ``b``."""
    return b.bbox[0] - a.bbox[2]


def build_layouts(pages: list[PageContent]) -> list[PageLayout]:
    return [
        PageLayout(page.number, group_lines(split_glued_words(page.words), page.number), page.source) for page in pages
    ]


@dataclass
class Run:
    """Words joined into one string, remembering where each word starts.

    Regular expressions run on ``text``; ``words_in`` maps a match back to the words (and so
    to the box) that carry it. Words further apart than a normal space are joined with three
    spaces so a pattern that allows one space ("1 234,56") does not bridge two table cells.
    """

    words: list[Word]
    text: str
    starts: list[int]

    def words_in(self, start: int, end: int) -> list[Word]:
        chosen = []
        for word, word_start in zip(self.words, self.starts, strict=True):
            word_end = word_start + len(word.text)
            if word_start < end and word_end > start:
                chosen.append(word)
        return chosen


def make_run(words: list[Word]) -> Run:
    parts: list[str] = []
    starts: list[int] = []
    position = 0
    for index, word in enumerate(words):
        if index:
            previous = words[index - 1]
            height = max(height_x(word), height_x(previous))
            separator = "   " if gap(previous, word) > WIDE_GAP_HEIGHTS * height else " "
            parts.append(separator)
            position += len(separator)
        starts.append(position)
        parts.append(word.text)
        position += len(word.text)
    return Run(words=list(words), text="".join(parts), starts=starts)


def split_glued_words(words: list[Word]) -> list[Word]:
    """Split "Datum:03.11.2026" into "Datum:" and "03.11.2026" (Tesseract drops the space after a colon).

    The box is divided in proportion to the characters, which is close enough for highlighting.
    """
    result = []
    for word in words:
        text = word.text
        colon = text.find(":")
        if 0 < colon < len(text) - 1 and any(char.isalpha() for char in text[:colon]):
            x0, y0, x1, y1 = word.bbox
            cut = x0 + (x1 - x0) * (colon + 1) / len(text)
            result.append(Word(text[: colon + 1], (x0, y0, cut, y1), word.confidence))
            result.append(Word(text[colon + 1 :], (cut, y0, x1, y1), word.confidence))
        else:
            result.append(word)
    return result
