"""The archive copy: one PDF, searchable throughout.

Born-digital pages are taken from the original unchanged. A scanned page becomes its page
image (JPEG, the resolution the clerk sees) with Tesseract's invisible text layer laid over
it; the text layer comes from the same Tesseract run that produced the words. Each scanned
page is built as soon as it is read (``searchable_page``) and waits on disk; ``assemble``
puts the pages together at the end.
"""

import io
from pathlib import Path

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

ARCHIVE_JPEG_QUALITY = 75


def searchable_page(image: Image.Image, text_layer_pdf: bytes) -> bytes:
    """A one-page PDF: ``image`` with the text layer (Tesseract's ``textonly_pdf`` page) over it."""
    text_page = PdfReader(io.BytesIO(text_layer_pdf)).pages[0]
    width_pt = float(text_page.mediabox.width)
    # Same page size in points as the text layer: the image's resolution follows from it.
    resolution = image.width / (width_pt / 72)
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=resolution, quality=ARCHIVE_JPEG_QUALITY)
    writer = PdfWriter()
    image_page = writer.add_page(PdfReader(io.BytesIO(buffer.getvalue())).pages[0])
    image_page.merge_page(text_page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def assemble(original: bytes | None, pages: list[Path | None], target: Path) -> bool:
    """Write the archive copy to ``target``; False when there is nothing to archive searchable.

    ``pages``: per page in order, its searchable page (``searchable_page`` output on disk) or
    None for a born-digital page, copied from ``original`` (the uploaded PDF; None for images).
    """
    if not any(pages):
        return False
    writer = PdfWriter()
    reader = None
    for index, page_path in enumerate(pages):
        if page_path is not None:
            writer.add_page(PdfReader(page_path).pages[0])
            continue
        if original is None:
            return False  # an image page without a text layer cannot be archived searchable
        if reader is None:
            try:
                reader = PdfReader(io.BytesIO(original))
            except PdfReadError:
                return False
        writer.add_page(reader.pages[index])
    with target.open("wb") as handle:
        writer.write(handle)
    return True
