"""Open an original (PDF or image) safely and hand out its pages.

Everything that can be checked before rendering is checked in ``open_source``: encryption,
corruption, page count, pixel count of images (decompression bombs). Rendering happens page by
page, in memory.
"""

import io
import warnings
from dataclasses import dataclass

import pypdfium2 as pdfium
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr.errors import StopProcessing
from ocr.filetypes import PDF, XML, FileType, sniff
from ocr.types import Word

# Pillow raises DecompressionBombError above twice this; we turn its warning into an error
# too so a 90-megapixel "scan" is refused rather than decoded.
MAX_IMAGE_PIXELS = 60_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# A page counts as born-digital when its text layer carries at least this many visible
# characters; scanners that add an invisible OCR layer of a few stray glyphs do not qualify.
MIN_TEXT_LAYER_CHARS = 40


@dataclass
class SourcePage:
    number: int
    width_pt: float
    height_pt: float


class SourceDocument:
    """An opened original. Use as a context manager; pages are rendered on demand."""

    def __init__(self, data: bytes, file_type: FileType, *, max_pages: int):
        self.file_type = file_type
        self._pdf = None
        self._frames: list[Image.Image] = []
        self.einvoice = None
        if file_type == XML:
            from extraction.einvoice import find_einvoice

            self.einvoice = find_einvoice(data)
            if self.einvoice is None:
                raise StopProcessing(
                    "Die XML-Datei ist keine E-Rechnung (unterstützt: XRechnung, ZUGFeRD, Factur-X, UBL).",
                    code="not_einvoice",
                )
            self.page_count = 0  # a bare e-invoice has no pages; the pipeline renders a view of it
            return
        if file_type == PDF:
            self._pdf = _open_pdf(data)
            self.page_count = len(self._pdf)
        else:
            self._frames = _open_image_frames(data, file_type, max_pages=max_pages)
            self.page_count = len(self._frames)
        if self.page_count == 0:
            raise StopProcessing("Die Datei enthält keine Seiten.", code="no_pages")
        if self.page_count > max_pages:
            raise StopProcessing(
                f"Die Datei hat {self.page_count} Seiten; erlaubt sind höchstens {max_pages}.", code="too_many_pages"
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
        for frame in self._frames:
            frame.close()
        self._frames = []

    def text_layer_words(self, index: int) -> list[Word]:
        """Words of a PDF page's text layer with normalised boxes; empty for images or scanned pages."""
        if self._pdf is None:
            return []
        page = self._pdf[index]
        try:
            width, height = page.get_size()
            textpage = page.get_textpage()
            try:
                words = _words_from_textpage(textpage, width, height)
            finally:
                textpage.close()
        finally:
            page.close()
        visible = sum(len(word.text) for word in words)
        return words if visible >= MIN_TEXT_LAYER_CHARS else []

    def render(self, index: int, *, dpi: int) -> Image.Image:
        """The page as an RGB or greyscale image at ``dpi`` (images keep their own resolution)."""
        if self._pdf is None:
            return self._frames[index].copy()
        page = self._pdf[index]
        try:
            width, height = page.get_size()
            pixels = (width * dpi / 72) * (height * dpi / 72)
            if pixels > MAX_IMAGE_PIXELS:
                raise StopProcessing(
                    f"Seite {index + 1} ist zu groß zum Verarbeiten ({width / 72 * 25.4:.0f} × "
                    f"{height / 72 * 25.4:.0f} mm).",
                    code="page_too_large",
                )
            bitmap = page.render(scale=dpi / 72, may_draw_forms=True)
            image = bitmap.to_pil()
            bitmap.close()
            return image
        finally:
            page.close()

    def native_dpi(self, index: int) -> int | None:
        if self._pdf is not None:
            return None
        dpi = self._frames[index].info.get("dpi")
        if dpi and dpi[0] and dpi[0] > 1:
            return round(float(dpi[0]))
        return None


def open_source(data: bytes, *, max_pages: int) -> SourceDocument:
    if not data:
        raise StopProcessing("Die Datei ist leer.", code="empty_file")
    file_type = sniff(data[:1024])
    if file_type is None:
        raise StopProcessing(
            "Dateityp wird nicht unterstützt: erlaubt sind PDF, PNG, JPEG, TIFF und E-Rechnungen (XML).",
            code="unsupported_file_type",
        )
    return SourceDocument(data, file_type, max_pages=max_pages)


def _count_pdf_objects(data: bytes) -> int:
    """The cross-reference table's declared size (trailer /Size): how many objects the PDF claims."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return int(PdfReader(io.BytesIO(data), strict=False).trailer.get("/Size", 0))
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        return 0  # unreadable trailers are pdfium's to judge below


def _open_pdf(data: bytes):
    objects = _count_pdf_objects(data)
    if objects > settings.ABLAGE_MAX_PDF_OBJECTS:
        raise StopProcessing(
            f"Das PDF enthält {objects:,} Objekte; erlaubt sind höchstens {settings.ABLAGE_MAX_PDF_OBJECTS:,}.".replace(
                ",", "."
            ),
            code="too_many_objects",
        )
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise StopProcessing(
                "Das PDF ist passwortgeschützt (verschlüsselt). Bitte ohne Kennwort erneut hochladen.",
                code="encrypted_pdf",
            ) from exc
        raise StopProcessing("Das PDF ist beschädigt und kann nicht gelesen werden.", code="corrupt_pdf") from exc


def _open_image_frames(data: bytes, file_type: FileType, *, max_pages: int) -> list[Image.Image]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            frames = []
            frame_count = getattr(image, "n_frames", 1)
            if frame_count > max_pages:
                raise StopProcessing(
                    f"Die Datei hat {frame_count} Seiten; erlaubt sind höchstens {max_pages}.", code="too_many_pages"
                )
            for index in range(frame_count):
                image.seek(index)
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                frame = ImageOps.exif_transpose(image.copy()) if index == 0 else image.copy()
                frame.load()
                frames.append(frame if frame.mode in ("L", "RGB") else frame.convert("RGB"))
            return frames
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise StopProcessing(
            f"Das Bild ist zu groß (mehr als {MAX_IMAGE_PIXELS // 1_000_000} Megapixel) und wird aus "
            "Sicherheitsgründen nicht verarbeitet.",
            code="image_too_large",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise StopProcessing(
            f"Die {file_type.label}-Datei ist beschädigt und kann nicht gelesen werden.", code="corrupt_image"
        ) from exc


def _words_from_textpage(textpage, width: float, height: float) -> list[Word]:
    count = textpage.count_chars()
    if count <= 0:
        return []
    text = textpage.get_text_range(0, count)
    words: list[Word] = []
    chars: list[str] = []
    box = [0.0, 0.0, 0.0, 0.0]

    def flush():
        if chars:
            x0, y0, x1, y1 = box
            words.append(Word("".join(chars), (x0 / width, 1 - y1 / height, x1 / width, 1 - y0 / height), 1.0))
            chars.clear()

    # get_text_range can be shorter than count when pdfium folds surrogate pairs.
    for index, char in enumerate(text[:count]):
        if char.isspace() or char == "\x00":
            flush()
            continue
        left, bottom, right, top = textpage.get_charbox(index)
        if not chars:
            box[:] = [left, bottom, right, top]
        else:
            box[0], box[1] = min(box[0], left), min(box[1], bottom)
            box[2], box[3] = max(box[2], right), max(box[3], top)
        chars.append(char)
    flush()
    return words
