"""The CPU OCR backend: Tesseract as a subprocess, word boxes from its TSV output.

One Tesseract run yields both the words (TSV) and, when asked, the page's invisible text
layer as a one-page PDF (``textonly_pdf``) for the archive copy: no second recognition.
"""

import csv
import errno
import io
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from ocr.errors import TransientOCRError, WorkDirectoryFull
from ocr.types import Word
from ocr.workdir import temporary_folder, work_dir

BACKEND_NAME = "tesseract"


class TesseractUnavailable(RuntimeError):
    pass


@dataclass
class TesseractPage:
    words: list[Word]
    pdf: bytes | None = None


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
    return recognise_page(grey, dpi=dpi, languages=languages).words


def recognise_page(
    grey: np.ndarray, *, dpi: int, languages: str | None = None, searchable_pdf: bool = False
) -> TesseractPage:
    height, width = grey.shape
    # The text layer only: the archive puts it over a compressed page image of its own
    # (ocr.archive), so OCR reads the lossless image and the archive stays small.
    text_only = ["-c", "textonly_pdf=1"] if searchable_pdf else []
    with temporary_folder("ablage-ocr-") as folder:
        output_base = Path(folder) / "page"
        image_path = Path(folder) / "page.pgm"
        try:
            _write_pgm(grey, image_path)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise WorkDirectoryFull(
                    f"Das Arbeitsverzeichnis ist voll ({work_dir()}); die Seite konnte nicht an die "
                    "Texterkennung übergeben werden."
                ) from exc
            raise
        try:
            _run(
                [
                    str(image_path),
                    str(output_base),
                    "-l",
                    languages or settings.ABLAGE_OCR_LANGUAGES,
                    "--dpi",
                    str(dpi),
                    "--psm",
                    "3",
                    *text_only,
                    "tsv",
                    *(["pdf"] if searchable_pdf else []),
                ]
            )
        except TransientOCRError:
            _room_check(folder)  # Tesseract failing for want of room says so
            raise
        tsv = output_base.with_suffix(".tsv").read_bytes()
        pdf = output_base.with_suffix(".pdf").read_bytes() if searchable_pdf else None
        _outputs_check(folder, tsv, pdf)
    return TesseractPage(_parse_tsv(tsv.decode("utf-8", errors="replace"), width, height), pdf)


def _outputs_check(folder: str, tsv: bytes, pdf: bytes | None) -> None:
    """Refuse output that a full disk cut short.

    Tesseract does not check its writes: on a full disk it exits 0 and leaves empty (or cut)
    files, which would read as a page without a word. A whole TSV starts with its header and
    ends with a line break; a whole PDF ends with %%EOF. A disk with no room left at all is
    suspect too: a cut that happened to fall after a line break passes the first checks.
    """
    whole = tsv.startswith(b"level\t") and tsv.endswith(b"\n")
    if pdf is not None:
        whole = whole and pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    if whole and os.statvfs(folder).f_bavail > 0:
        return
    _room_check(folder)
    raise TransientOCRError("Die Ausgabe der Texterkennung ist unvollständig.")


def _room_check(folder: str) -> None:
    space = os.statvfs(folder)
    free = space.f_bavail * space.f_frsize
    if free < 1024 * 1024:
        raise WorkDirectoryFull(
            f"Das Arbeitsverzeichnis ist voll ({free // 1024} KB frei in {work_dir()}); "
            "die Texterkennung konnte ihr Ergebnis nicht schreiben."
        )


def _write_pgm(grey: np.ndarray, path: Path) -> None:
    """The page as binary PGM: lossless and the cheapest format for Tesseract to decode.

    A file, not stdin: ``subprocess`` feeds a pipe 4 KB per poll, about 2,100 rounds for a
    300-dpi page, which cost ~20 ms CPU a page between the worker and Tesseract; the file is
    written once and stays in the page cache.
    """
    with path.open("wb") as file:
        file.write(b"P5\n%d %d\n255\n" % (grey.shape[1], grey.shape[0]))
        file.write(np.ascontiguousarray(grey, dtype=np.uint8).data)


def _run(arguments: list[str]) -> None:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        completed = subprocess.run(
            [settings.ABLAGE_TESSERACT_CMD, *arguments],
            stdin=subprocess.DEVNULL,
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


def _parse_tsv(tsv: str, width: int, height: int) -> list[Word]:
    words = []
    line_ids: dict[tuple[str, str, str], int] = {}
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
        line = line_ids.setdefault((row["block_num"], row["par_num"], row["line_num"]), len(line_ids))
        words.append(Word(text, (left / width, top / height, right / width, bottom / height), confidence / 100, line))
    return words
