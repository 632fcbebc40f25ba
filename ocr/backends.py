"""OCR backends behind one interface: a page image in, words (boxes, confidences, line ids in
reading order) and optionally the page's invisible text layer (PDF) out.

``text_layer`` is not in this registry: born-digital pages never reach an OCR backend.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ocr import surya, tesseract
from ocr.types import Word


@dataclass
class RecognisedPage:
    words: list[Word]
    text_layer_pdf: bytes | None = None


class OCRBackend(Protocol):
    name: str

    def availability(self) -> tuple[bool, str]:
        """(available, reason it is not)."""

    def recognise(self, image: np.ndarray, *, dpi: int, text_layer: bool) -> RecognisedPage: ...


class TesseractBackend:
    name = tesseract.BACKEND_NAME

    def availability(self) -> tuple[bool, str]:
        try:
            tesseract.tesseract_version()
        except tesseract.TesseractUnavailable as exc:
            return False, str(exc)
        return True, ""

    def recognise(self, image, *, dpi, text_layer):
        page = tesseract.recognise_page(image, dpi=dpi, searchable_pdf=text_layer)
        return RecognisedPage(page.words, page.pdf)


class SuryaBackend:
    name = surya.BACKEND_NAME

    def availability(self) -> tuple[bool, str]:
        return surya.availability()

    def recognise(self, image, *, dpi, text_layer):
        # Surya gives no PDF text layer; such a page is archived without one (see ocr.archive).
        return RecognisedPage(surya.recognise(image, dpi=dpi))


BACKENDS: dict[str, OCRBackend] = {backend.name: backend for backend in (TesseractBackend(), SuryaBackend())}
DEFAULT = tesseract.BACKEND_NAME


def get_backend(name: str) -> OCRBackend:
    return BACKENDS[name]
