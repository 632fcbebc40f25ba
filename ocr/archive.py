"""The archive copy: one PDF, searchable throughout.

Born-digital pages are taken from the original unchanged. A scanned page becomes its page
image (JPEG, the resolution the clerk sees) with Tesseract's invisible text layer laid over
it; the text layer comes from the same Tesseract run that produced the words.
"""

import io

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

ARCHIVE_JPEG_QUALITY = 75


def build_searchable_pdf(original: bytes | None, pages) -> bytes | None:
    """``pages``: processed pages in order (``content.source``, ``image``, ``searchable_pdf`` text layer).

    Returns None when there is nothing to add (no page has a text layer to lay over).
    ``original`` is the PDF the born-digital pages are copied from (None for images).
    """
    if not any(page.searchable_pdf for page in pages):
        return None
    writer = PdfWriter()
    reader = None
    for index, page in enumerate(pages):
        if page.searchable_pdf:
            _add_image_with_text_layer(writer, page.image, page.searchable_pdf)
            continue
        if original is None:
            return None  # an image page without a text layer cannot be archived searchable
        if reader is None:
            try:
                reader = PdfReader(io.BytesIO(original))
            except PdfReadError:
                return None
        writer.add_page(reader.pages[index])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _add_image_with_text_layer(writer: PdfWriter, image: Image.Image, text_layer_pdf: bytes) -> None:
    text_page = PdfReader(io.BytesIO(text_layer_pdf)).pages[0]
    width_pt = float(text_page.mediabox.width)
    # Same page size in points as the text layer: the image's resolution follows from it.
    resolution = image.width / (width_pt / 72)
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=resolution, quality=ARCHIVE_JPEG_QUALITY)
    image_page = writer.add_page(PdfReader(io.BytesIO(buffer.getvalue())).pages[0])
    image_page.merge_page(text_page)
