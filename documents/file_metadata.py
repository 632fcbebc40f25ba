"""What an original says about itself: PDF document information (author, creator, producer,
creation date) or image EXIF (camera, capture date, orientation). Read by the worker from the
verified original and kept on ``Document.file_metadata``; shown in the review side panel and
the API. Best effort: a file without such data, or with unreadable data, simply has none.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime

from ocr.filetypes import JPEG, PDF, PNG, TIFF, sniff

logger = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_MAKE, _MODEL, _SOFTWARE, _DATETIME, _ORIENTATION = 0x010F, 0x0110, 0x0131, 0x0132, 0x0112
_DATETIME_ORIGINAL = 0x9003
# EXIF 2.32, 4.6.4 A "Orientation": how the stored pixels must be turned to stand upright.
ORIENTATIONS = {
    1: "aufrecht",
    2: "gespiegelt",
    3: "um 180° gedreht",
    4: "vertikal gespiegelt",
    5: "gespiegelt und um 90° gedreht",
    6: "um 90° im Uhrzeigersinn gedreht",
    7: "gespiegelt und um 90° gegen den Uhrzeigersinn gedreht",
    8: "um 90° gegen den Uhrzeigersinn gedreht",
}
_MAX_TEXT = 300


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).replace("\x00", "").split())[:_MAX_TEXT]


def _pdf_metadata(data: bytes) -> dict:
    from pypdf import PdfReader

    info = PdfReader(io.BytesIO(data)).metadata
    if info is None:
        return {}
    found = {
        "author": _text(info.author),
        "creator": _text(info.creator),
        "producer": _text(info.producer),
        "title": _text(info.title),
    }
    try:
        created = info.creation_date
    except ValueError:  # a date that does not follow ISO 32000-1, 7.9.4
        created = None
        found["created_raw"] = _text(info.get("/CreationDate"))
    if created is not None:
        found["created_at"] = created.isoformat()
    return {"kind": "pdf", **{key: value for key, value in found.items() if value}}


def _exif_date(value: str) -> str:
    try:
        return datetime.strptime(value.strip(), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return ""


def _image_metadata(data: bytes) -> dict:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:  # headers only: no pixels decoded
        exif = image.getexif()
    if not exif:
        return {}
    detail = exif.get_ifd(_EXIF_IFD)
    camera = " ".join(part for part in (_text(exif.get(_MAKE)), _text(exif.get(_MODEL))) if part)
    captured = _exif_date(_text(detail.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)))
    found = {"kind": "exif", "camera": camera, "software": _text(exif.get(_SOFTWARE)), "captured_at": captured}
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int) and orientation in ORIENTATIONS:
        found["orientation"] = orientation
        found["orientation_text"] = ORIENTATIONS[orientation]
        # ocr.sources turns every image upright by this tag (ImageOps.exif_transpose) before OCR.
        found["orientation_applied"] = orientation != 1
    return {key: value for key, value in found.items() if value not in ("", None)}


def file_metadata_read(data: bytes) -> dict:
    """The original's own metadata; {} when it has none (or is an e-mail or office file)."""
    file_type = sniff(data[:1024])
    try:
        if file_type == PDF:
            return _pdf_metadata(data)
        if file_type in (JPEG, PNG, TIFF):
            return _image_metadata(data)
    except Exception as exc:
        logger.warning("File metadata unreadable: %s", exc)
    return {}


def _when(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%d.%m.%Y %H:%M") + (moment.strftime(" (UTC%z)") if moment.tzinfo else "")


_LABELS = (
    ("author", "Autor"),
    ("title", "Titel"),
    ("creator", "Erstellt mit"),
    ("producer", "PDF erzeugt von"),
    ("created_at", "Erstellt am"),
    ("created_raw", "Erstellt am"),
    ("camera", "Kamera"),
    ("software", "Software"),
    ("captured_at", "Aufgenommen am"),
)


def file_metadata_rows(metadata: dict) -> list[tuple[str, str]]:
    """(label, value) for the review side panel, dates in German notation."""
    rows = [
        (label, _when(metadata[key]) if key.endswith("_at") else metadata[key])
        for key, label in _LABELS
        if metadata.get(key)
    ]
    if metadata.get("orientation_text"):
        applied = " – für die Texterkennung aufgerichtet" if metadata.get("orientation_applied") else ""
        rows.append(("Ausrichtung", metadata["orientation_text"] + applied))
    return rows
