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

SUPPORTED = (PDF, PNG, JPEG, TIFF)
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
    return None
