"""The archive copy: one PDF, searchable throughout.

Born-digital pages are taken from the original unchanged. A scanned page becomes its page
image (JPEG, the resolution the clerk sees) with Tesseract's invisible text layer laid over
it; the text layer comes from the same Tesseract run that produced the words. Each scanned
page is built as soon as it is read (``searchable_page``) and waits in the page spool;
``assemble`` puts the pages together at the end.
"""

import io
from contextlib import ExitStack

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import ContentStream, NameObject

from ocr.spool import PageSpool

ARCHIVE_JPEG_QUALITY = 75


def searchable_page(image: Image.Image, text_layer_pdf: bytes) -> bytes:
    """A one-page PDF: ``image`` with the text layer (Tesseract's ``textonly_pdf`` page) over it.

    The two content streams are joined as bytes, the image drawn first. ``merge_page`` would
    parse the text layer's content stream (thousands of operators) and write it out again:
    that cost more than a third of everything the pipeline does outside OCR.
    """
    writer = PdfWriter()
    page = writer.add_page(PdfReader(io.BytesIO(text_layer_pdf)).pages[0])
    width_pt = float(page.mediabox.width)
    # Same page size in points as the text layer: the image's resolution follows from it.
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=image.width / (width_pt / 72), quality=ARCHIVE_JPEG_QUALITY)
    image_page = PdfReader(buffer).pages[0]
    image_resources = image_page["/Resources"].get_object()
    resources = page["/Resources"].get_object()
    # Pillow names its image /image, Tesseract its font /f-0-0: no name can clash.
    resources[NameObject("/XObject")] = image_resources["/XObject"].clone(writer)
    content = ContentStream(None, writer)
    content.set_data(image_page.get_contents().get_data() + b"\n" + page.get_contents().get_data())
    page.replace_contents(content)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def assemble(original: bytes | None, pages: list[str | None], spool: PageSpool) -> bytes | None:
    """The archive copy, or None when there is nothing to archive searchable.

    ``pages``: per page in order, the spool name of its searchable page (``searchable_page``
    output) or None for a born-digital page, copied from ``original`` (the uploaded PDF; None
    for images). The pages are read from the spool one by one.
    """
    if not any(pages):
        return None
    writer = PdfWriter()
    reader = None
    with ExitStack() as handles:
        for index, name in enumerate(pages):
            if name is not None:
                writer.add_page(PdfReader(handles.enter_context(spool.open_bytes(name))).pages[0])
                continue
            if original is None:
                return None  # an image page without a text layer cannot be archived searchable
            if reader is None:
                try:
                    reader = PdfReader(io.BytesIO(original))
                except PdfReadError:
                    return None
            writer.add_page(reader.pages[index])
        output = io.BytesIO()
        writer.write(output)
    return output.getvalue()
