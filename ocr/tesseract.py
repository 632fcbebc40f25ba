"""The CPU OCR backend: Tesseract as a subprocess, word boxes from its TSV output."""

import csv
import io
import os
import subprocess

import numpy as np
from django.conf import settings
from PIL import Image

from ocr.errors import TransientOCRError
from ocr.types import Word

BACKEND_NAME = "tesseract"


class TesseractUnavailable(RuntimeError):
    pass


def tesseract_version() -> str:
    try:
        output = subprocess.run(
            [settings.ABLAGE_TESSERACT_CMD, "--version"], capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TesseractUnavailable(
            f"Tesseract ist nicht installiert oder nicht startbar ({settings.ABLAGE_TESSERACT_CMD}): {exc}"
        ) from exc
    return output.stdout.splitlines()[0] if output.stdout else "tesseract"


def recognise(grey: np.ndarray, *, dpi: int, languages: str | None = None) -> list[Word]:
    """OCR one page image (greyscale array) and return its words with normalised boxes."""
    height, width = grey.shape
    buffer = io.BytesIO()
    # PNM is the cheapest format for Tesseract to decode (no compression either side).
    Image.fromarray(grey).save(buffer, format="PPM")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    command = [
        settings.ABLAGE_TESSERACT_CMD,
        "stdin",
        "stdout",
        "-l",
        languages or settings.ABLAGE_OCR_LANGUAGES,
        "--dpi",
        str(dpi),
        "--psm",
        "3",
        "tsv",
    ]
    try:
        completed = subprocess.run(
            command,
            input=buffer.getvalue(),
            capture_output=True,
            timeout=settings.ABLAGE_OCR_TIMEOUT_SECONDS,
            env=env,
        )
    except FileNotFoundError as exc:
        raise TesseractUnavailable(f"Tesseract wurde nicht gefunden ({settings.ABLAGE_TESSERACT_CMD}).") from exc
    except subprocess.TimeoutExpired as exc:
        raise TransientOCRError(
            f"Tesseract hat nach {settings.ABLAGE_OCR_TIMEOUT_SECONDS} s nicht geantwortet."
        ) from exc
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()[-500:]
        if "Failed loading language" in message or "Error opening data file" in message:
            raise TesseractUnavailable(f"Tesseract-Sprachdaten fehlen: {message}")
        if completed.returncode < 0:
            raise TransientOCRError(f"Tesseract wurde beendet (Signal {-completed.returncode}).")
        raise TransientOCRError(f"Tesseract ist fehlgeschlagen: {message}")
    return _parse_tsv(completed.stdout.decode("utf-8", "replace"), width, height)


def _parse_tsv(tsv: str, width: int, height: int) -> list[Word]:
    words = []
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        if row.get("level") != "5":
            continue
        text = (row.get("text") or "").strip()
        confidence = float(row.get("conf") or -1)
        if not text or confidence < 0:
            continue
        left, top = int(row["left"]), int(row["top"])
        right, bottom = left + int(row["width"]), top + int(row["height"])
        words.append(Word(text, (left / width, top / height, right / width, bottom / height), confidence / 100))
    return words
