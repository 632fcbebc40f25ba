"""Uploads the ingestion must refuse, each a few kilobytes and made by code.

Every factory returns a :class:`BadFile` with the name a client would send, the bytes and
the content type it would claim, so an upload test reads::

    bad = encrypted_pdf()
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


def _small_pdf(text: str = "Rechnung RE-2026-00001") -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setFont("Helvetica", 12)
    canvas.drawString(72, 760, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def encrypted_pdf(password: str = ENCRYPTED_PDF_PASSWORD) -> BadFile:
    """A PDF that needs a user password to open (AES-256, as current PDF tools write it).

    The only non-deterministic factory here: AES needs a fresh salt and IV on every call.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_small_pdf())))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return BadFile("rechnung_verschluesselt.pdf", buffer.getvalue(), "application/pdf", "encrypted")


def corrupt_pdf() -> BadFile:
    """Starts like a PDF (valid ``%PDF-`` header) but is cut off and garbled after it.

    Only the header and the start of the first object survive; no page tree, no xref, no
    trailer, so neither pdfium nor pypdf can reconstruct a page from it.
    """
    original = _small_pdf()
    head = original[:120]
    garbage = bytes((index * 73 + 41) % 256 for index in range(600))
    return BadFile("rechnung_defekt.pdf", head + garbage, "application/pdf", "corrupt")


def empty_file() -> BadFile:
    return BadFile("leer.pdf", b"", "application/pdf", "empty")


def text_file_named_pdf() -> BadFile:
    """Plain text with a .pdf name and a PDF content type: only the magic bytes tell the truth."""
    content = "Rechnung Nr. 4711\nGesamtbetrag: 1.234,56 €\nDies ist keine PDF-Datei, nur Text.\n".encode()
    return BadFile("rechnung.pdf", content, "application/pdf", "wrong_type")


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


def decompression_bomb_png(side: int = BOMB_SIDE) -> BadFile:
    """A valid PNG of ``side`` x ``side`` 1-bit pixels, about 110 KB on disk, ~900 MB decoded in Pillow."""
    if side < 1000:
        raise ValueError(f"Eine Dekompressionsbombe braucht mindestens 1000 Pixel Kantenlänge, nicht {side}.")
    return BadFile("scan.png", _bomb_png_bytes(side), "image/png", "decompression_bomb")


def pdf_with_javascript() -> BadFile:
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
    return BadFile("rechnung_mit_skript.pdf", buffer.getvalue(), "application/pdf", "javascript")


def path_traversal_name() -> str:
    """A client-supplied file name that climbs out of the upload directory."""
    return "../../etc/passwd.pdf"


def path_traversal_file() -> BadFile:
    """A harmless, valid PDF sent under :func:`path_traversal_name`: only the name is hostile."""
    return BadFile(path_traversal_name(), _small_pdf(), "application/pdf", "path_traversal")


def all_bad_files() -> list[BadFile]:
    return [
        encrypted_pdf(),
        corrupt_pdf(),
        empty_file(),
        text_file_named_pdf(),
        decompression_bomb_png(),
        pdf_with_javascript(),
        path_traversal_file(),
    ]
