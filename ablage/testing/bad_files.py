"""Uploads the ingestion must refuse, each a few kilobytes and made by code.

Every factory returns the file's bytes (``open_source(corrupt_pdf(), ...)``);
:func:`all_bad_files` lists them as :class:`BadFile` records with the name a client would
send and the content type it would claim, for tests that walk the whole catalogue::

    for bad in all_bad_files():
        client.post(url, {"file": SimpleUploadedFile(bad.name, bad.content, bad.content_type)})
"""

import functools
import io
import struct
import zlib
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

BOMB_SIDE = 30_000  # 900 million pixels, ten times Pillow's MAX_IMAGE_PIXELS
ENCRYPTED_PDF_PASSWORD = "geheim"  # noqa: S105 - the documented password of a test fixture


@dataclass(frozen=True)
class BadFile:
    name: str
    content: bytes
    content_type: str
    reason: str  # what the ingestion should notice, for test ids and failure messages

    def __str__(self) -> str:  # readable pytest ids
        return self.reason


def _small_pdf(text: str = "Rechnung RE-2026-00001") -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setFont("Helvetica", 12)
    canvas.drawString(72, 760, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def encrypted_pdf(password: str = ENCRYPTED_PDF_PASSWORD) -> bytes:
    """A PDF that needs a user password to open (AES-256, as current PDF tools write it).

    The only non-deterministic factory here: AES needs a fresh salt and IV on every call.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_small_pdf())))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def corrupt_pdf() -> bytes:
    """Starts like a PDF (valid ``%PDF-`` header) but is cut off and garbled after it.

    Only the header and the start of the first object survive; no page tree, no xref, no
    trailer, so neither pdfium nor pypdf can reconstruct a page from it.
    """
    original = _small_pdf()
    head = original[:120]
    garbage = bytes((index * 73 + 41) % 256 for index in range(600))
    return head + garbage


def empty_file() -> bytes:
    return b""


def text_file_named_pdf() -> bytes:
    """Plain text with a .pdf name and a PDF content type: only the magic bytes tell the truth."""
    content = "Rechnung Nr. 4711\nGesamtbetrag: 1.234,56 €\nDies ist keine PDF-Datei, nur Text.\n".encode()
    return content


@functools.cache
def _bomb_png_bytes(side: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    # 1-bit greyscale, every row "filter 0 + all white bits": zlib shrinks the 112 MB of raw
    # scanlines about a thousandfold, which is what makes the file a bomb.
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    png_signature = b"\x89PNG\r\n\x1a\n"
    return png_signature + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def decompression_bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid PNG of ``side`` x ``side`` 1-bit pixels, about 110 KB on disk, ~900 MB decoded in Pillow."""
    if side < 1000:
        raise ValueError(f"Eine Dekompressionsbombe braucht mindestens 1000 Pixel Kantenlänge, nicht {side}.")
    return _bomb_png_bytes(side)


def pdf_with_javascript() -> bytes:
    """An otherwise valid invoice PDF that runs JavaScript when opened (catalog /OpenAction).

    Built by hand rather than with ``PdfWriter.add_js``, whose name-tree key is a random UUID,
    so the bytes stay the same from run to run.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_small_pdf())))
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('Bitte aktivieren Sie Makros, um die Rechnung zu sehen.');"),
        }
    )
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def path_traversal_name() -> str:
    """A client-supplied file name that climbs out of the upload directory."""
    return "../../etc/passwd.pdf"


def valid_pdf() -> bytes:
    """A small, harmless one-page PDF, e.g. to send under :func:`path_traversal_name`."""
    return _small_pdf()


def all_bad_files() -> list[BadFile]:
    """The whole catalogue with upload names and claimed content types."""
    pdf = "application/pdf"
    return [
        BadFile("rechnung_verschluesselt.pdf", encrypted_pdf(), pdf, "encrypted_pdf"),
        BadFile("rechnung_defekt.pdf", corrupt_pdf(), pdf, "corrupt_pdf"),
        BadFile("leer.pdf", empty_file(), pdf, "empty_file"),
        BadFile("rechnung.pdf", text_file_named_pdf(), pdf, "unsupported_file_type"),
        BadFile("scan.png", decompression_bomb_png(), "image/png", "image_too_large"),
        BadFile("rechnung_mit_skript.pdf", pdf_with_javascript(), pdf, "javascript"),
        BadFile(path_traversal_name(), valid_pdf(), pdf, "path_traversal"),
    ]
