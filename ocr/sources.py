"""Open an original (PDF or image) safely and hand out its pages.

Everything that can be checked before rendering is checked in ``open_source``: encryption,
corruption of the PDF structure, page count, pixel count of every image frame (decompression
bombs), all from headers. Pixels are decoded page by page when a page is rendered, in memory:
a worker holds one decoded page at a time however long the scan (a 50-frame fax TIFF decoded
up front would take over 1 GB), and each page is decoded once, not decoded and then copied.
"""

import io
import warnings
from ctypes import byref, c_double
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
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
        self._open_page: tuple[int, object] | None = None
        self._image_data: bytes | None = None
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
            self.page_count = _check_image_frames(data, file_type, max_pages=max_pages)
            self._image_data = data
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
        self._close_page()
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
        self._image_data = None

    def text_layer_words(self, index: int) -> list[Word]:
        """Words of a PDF page's text layer with normalised boxes; empty for images or scanned pages."""
        if self._pdf is None:
            return []
        page = self._page(index)
        width, height = page.get_size()
        textpage = page.get_textpage()
        try:
            words = _words_from_textpage(textpage, width, height)
        finally:
            textpage.close()
        visible = sum(len(word.text) for word in words)
        return words if visible >= MIN_TEXT_LAYER_CHARS else []

    def render(self, index: int, *, dpi: int) -> Image.Image:
        """The page as an RGB or greyscale image at ``dpi`` (images keep their own resolution)."""
        if self._pdf is None:
            frame = self._decode_frame(index)
            if frame.mode in ("L", "RGB"):
                return frame
            with frame:
                return frame.convert("RGB")
        bitmap = self._render_pdf_page(index, dpi=dpi, grayscale=False)
        try:
            # pdfium renders BGR; converting to Pillow's RGB copies, so the image outlives the bitmap.
            return bitmap.to_pil()
        finally:
            bitmap.close()

    def render_grey(self, index: int, *, dpi: int) -> np.ndarray:
        """The page as a greyscale array at ``dpi`` (images keep their own resolution), what OCR reads.

        Straight into greyscale, without an RGB image in between: a 300-dpi page is 26 MB in
        RGB, and converting it costs as much as deskewing it.
        """
        if self._pdf is None:
            with self._decode_frame(index) as frame:
                if frame.mode == "L":
                    return np.asarray(frame)
                with frame.convert("L") as grey:
                    return np.asarray(grey)
        bitmap = self._render_pdf_page(index, dpi=dpi, grayscale=True)
        try:
            # A copy: the view into pdfium's buffer dies with the bitmap.
            return np.array(bitmap.to_numpy()[:, :, 0])
        finally:
            bitmap.close()

    def _page(self, index: int):
        """PDF page ``index``, kept open until another page is asked for.

        A born-digital page is read twice in a row (text layer, then the display image);
        loading it once halves pdfium's parsing of its content stream.
        """
        if self._open_page is not None and self._open_page[0] == index:
            return self._open_page[1]
        self._close_page()
        page = self._pdf[index]
        self._open_page = (index, page)
        return page

    def _close_page(self):
        if self._open_page is not None:
            self._open_page[1].close()
            self._open_page = None

    def _render_pdf_page(self, index: int, *, dpi: int, grayscale: bool):
        page = self._page(index)
        try:
            width, height = page.get_size()
            pixels = (width * dpi / 72) * (height * dpi / 72)
            if pixels > MAX_IMAGE_PIXELS:
                raise StopProcessing(
                    f"Seite {index + 1} ist zu groß zum Verarbeiten ({width / 72 * 25.4:.0f} × "
                    f"{height / 72 * 25.4:.0f} mm).",
                    code="page_too_large",
                )
            return page.render(scale=dpi / 72, may_draw_forms=True, grayscale=grayscale)
        finally:
            # Rendering is the last thing done with a page: its parsed content (a scan's image)
            # should not stay in memory through OCR.
            self._close_page()

    def _decode_frame(self, index: int) -> Image.Image:
        """Frame ``index`` of the image, decoded (the first turned upright by its EXIF orientation)."""
        image = None
        try:
            image = Image.open(io.BytesIO(self._image_data))
            image.seek(index)
            image.load()
            if index == 0:
                ImageOps.exif_transpose(image, in_place=True)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            if image is not None:
                image.close()
            # Only headers were checked up front; a truncated file shows here, at its first page.
            raise StopProcessing(
                f"Die {self.file_type.label}-Datei ist beschädigt und kann nicht gelesen werden (Seite {index + 1}).",
                code="corrupt_image",
            ) from exc
        return image

    def native_dpi(self, index: int) -> int | None:
        if self._pdf is not None:
            return None
        with Image.open(io.BytesIO(self._image_data)) as image:
            image.seek(index)
            dpi = image.info.get("dpi")
        if dpi and dpi[0] and dpi[0] > 1:
            return round(float(dpi[0]))
        return None


def open_source(data: bytes, *, max_pages: int) -> SourceDocument:
    if not data:
        raise StopProcessing("Die Datei ist leer.", code="empty_file")
    file_type = sniff(data[:1024])
    if file_type is None:
        raise StopProcessing(
            "Dateityp wird nicht unterstützt: erlaubt sind PDF, PNG, JPEG, TIFF, E-Rechnungen (XML), E-Mails (.eml) "
            "und Office-Dateien (.docx, .xlsx, .odt, .rtf, .txt).",
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


def _declares_no_pages(data: bytes) -> bool:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return len(PdfReader(io.BytesIO(data), strict=False).pages) == 0
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError):
        return False


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
        if _declares_no_pages(data):
            # pdfium refuses a document without pages as unreadable; the clerk should hear why.
            raise StopProcessing("Die Datei enthält keine Seiten.", code="no_pages") from exc
        raise StopProcessing("Das PDF ist beschädigt und kann nicht gelesen werden.", code="corrupt_pdf") from exc


def _check_image_frames(data: bytes, file_type: FileType, *, max_pages: int) -> int:
    """The number of frames, after checking each frame's pixel count from its header (nothing decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                frame_count = getattr(image, "n_frames", 1)
                if frame_count > max_pages:
                    raise StopProcessing(
                        f"Die Datei hat {frame_count} Seiten; erlaubt sind höchstens {max_pages}.",
                        code="too_many_pages",
                    )
                for index in range(frame_count):
                    image.seek(index)
                    if image.width * image.height > MAX_IMAGE_PIXELS:
                        raise Image.DecompressionBombError("too many pixels")
                return frame_count
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

    # pdfium's C call with four doubles reused for every character: the helper
    # ``get_charbox`` allocates them anew each time, a third of the text layer's cost.
    get_charbox, raw = pdfium_c.FPDFText_GetCharBox, textpage.raw
    c_left, c_right, c_bottom, c_top = c_double(), c_double(), c_double(), c_double()
    pointers = byref(c_left), byref(c_right), byref(c_bottom), byref(c_top)
    # get_text_range can be shorter than count when pdfium folds surrogate pairs.
    for index, char in enumerate(text[:count]):
        if char.isspace() or char == "\x00":
            flush()
            continue
        if not get_charbox(raw, index, *pointers):
            raise pdfium.PdfiumError(f"Failed to get charbox {index}.")
        left, bottom, right, top = c_left.value, c_bottom.value, c_right.value, c_top.value
        if not chars:
            box[:] = [left, bottom, right, top]
        else:
            box[0], box[1] = min(box[0], left), min(box[1], bottom)
            box[2], box[3] = max(box[2], right), max(box[3], top)
        chars.append(char)
    flush()
    return words
