"""Recognise supported originals by their first bytes, never by name or client-sent type."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    mime_type: str
    extension: str
    label: str


PDF = FileType("application/pdf", "pdf", "PDF")
PNG = FileType("image/png", "png", "PNG")
JPEG = FileType("image/jpeg", "jpg", "JPEG")
TIFF = FileType("image/tiff", "tif", "TIFF")
XML = FileType("application/xml", "xml", "XML")  # e-invoices (XRechnung, ZUGFeRD, UBL) only

SUPPORTED = (PDF, PNG, JPEG, TIFF, XML)
BY_MIME = {file_type.mime_type: file_type for file_type in SUPPORTED}


def sniff(head: bytes) -> FileType | None:
    # PDF readers accept the header within the first 1024 bytes (ISO 32000-1, 7.5.2 note);
    # scanners and mail gateways sometimes prepend a few bytes.
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    # XML may start with a byte-order mark and blank lines (some ERP exports); whether it is
    # an e-invoice is decided when it is opened.
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return XML
    return None
