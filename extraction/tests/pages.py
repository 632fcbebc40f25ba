"""Build ``PageContent`` from text placed on a page, for extraction tests without PDFs or scans.

``PageBuilder().text(x, y, "Rechnungsnummer: RE-2026-00123")`` splits the text into words and
gives each a box from a fixed character width, the way a text layer or Tesseract reports them.
Runs of spaces widen the gap (column layouts); ``noise`` lowers the word confidence as OCR does.
"""

from ocr.types import PageContent, Word

CHAR_WIDTH = 0.0062
LINE_HEIGHT = 0.011


class PageBuilder:
    def __init__(self, number: int = 1, *, source: str = "text_layer", confidence: float = 1.0):
        self.number = number
        self.source = source
        self.confidence = confidence
        self.words: list[Word] = []

    def text(self, x: float, y: float, text: str, *, size: float = 1.0, confidence: float | None = None):
        width = CHAR_WIDTH * size
        height = LINE_HEIGHT * size
        cursor = x
        for index, token in enumerate(text.split(" ")):
            if not token:
                cursor += width  # each extra space widens the gap
                continue
            if index:
                cursor += width
            box = (cursor, y, cursor + len(token) * width, y + height)
            self.words.append(Word(token, box, self.confidence if confidence is None else confidence))
            cursor = box[2]
        return self

    def right(self, x1: float, y: float, text: str, *, size: float = 1.0):
        """Right-aligned text ending at ``x1`` (amount columns)."""
        width = CHAR_WIDTH * size * len(text)
        return self.text(x1 - width, y, text, size=size)

    def lines(self, x: float, y: float, texts: list[str], *, spacing: float = 0.018, size: float = 1.0):
        for offset, text in enumerate(texts):
            self.text(x, y + offset * spacing, text, size=size)
        return self

    def build(self) -> PageContent:
        backend = "pdf_text" if self.source == "text_layer" else "tesseract"
        return PageContent(self.number, list(self.words), self.source, backend)
