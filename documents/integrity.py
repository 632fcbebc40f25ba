"""Archive integrity (GoBD): every stored original and e-invoice XML still has the SHA-256 it
was stored with. Run daily by the scheduler and on demand (``manage.py archive_verify``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.storage import default_storage

from documents.models import Document

CHUNK = 1024 * 1024


@dataclass
class IntegrityProblem:
    document_id: str
    title: str
    kind: str  # "missing" | "mismatch"
    what: str  # "original" | "e-invoice" | "PDF-Fassung" (made from an e-mail or office original)
    detail: str


def file_sha256(key: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(key, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check(document, key: str, expected: str, what: str) -> IntegrityProblem | None:
    try:
        actual = file_sha256(key)
    except (FileNotFoundError, OSError) as error:
        return IntegrityProblem(str(document.pk), document.title, "missing", what, f"{key}: {error}")
    if actual != expected:
        return IntegrityProblem(
            str(document.pk), document.title, "mismatch", what, f"{key}: SHA-256 {actual[:12]}… statt {expected[:12]}…"
        )
    return None


def archive_integrity_check() -> tuple[int, list[IntegrityProblem]]:
    """Check every document, deleted ones too (they are still under retention)."""
    problems: list[IntegrityProblem] = []
    checked = 0
    for document in Document.all_objects.only(
        "id", "title", "storage_key", "sha256", "einvoice_key", "einvoice_sha256", "rendition_key", "rendition_sha256"
    ).iterator():
        checked += 1
        problem = _check(document, document.storage_key, document.sha256, "original")
        if problem:
            problems.append(problem)
        if document.einvoice_key and document.einvoice_sha256 and document.einvoice_key != document.storage_key:
            problem = _check(document, document.einvoice_key, document.einvoice_sha256, "e-invoice")
            if problem:
                problems.append(problem)
        if document.rendition_key:
            problem = _check(document, document.rendition_key, document.rendition_sha256, "PDF-Fassung")
            if problem:
                problems.append(problem)
    return checked, problems
