"""Running exports: write the file, record it (format, selection, SHA-256), audit it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.utils import timezone

from ablage.errors import ApplicationError
from documents.exports import datev, formats, gdpdu
from documents.exports.data import document_rows
from documents.models import Document, ExportRun
from monitoring.services import audit_log_record

MAX_DOCUMENTS = 5000
FILE_NAMES = {
    "json": "belege.json",
    "csv": "belege.csv",
    "xml": "belege.xml",
    "xlsx": "belege.xlsx",
    "parquet": "belege.parquet",
    "zip": "belege.zip",
    "datev": "datev.zip",
    "audit": "aussenpruefung.zip",
}


@dataclass
class ExportFile:
    run: ExportRun
    name: str
    content_type: str
    data: bytes


def documents_select(documents, *, filters: dict):
    """Narrow a visible-documents queryset by the export form / API filters."""
    if filters.get("document_ids"):
        documents = documents.filter(pk__in=filters["document_ids"])
    if filters.get("status"):
        documents = documents.filter(status=filters["status"])
    if filters.get("document_type"):
        documents = documents.filter(document_type=filters["document_type"])
    if filters.get("date_from"):
        documents = documents.filter(document_date__gte=filters["date_from"])
    if filters.get("date_to"):
        documents = documents.filter(document_date__lte=filters["date_to"])
    return documents.order_by("document_date", "created_at")


def _render(fmt: str, documents, *, user) -> bytes:
    if fmt == "datev":
        return datev.datev_package(documents, user=user)
    return formats.WRITERS[fmt](document_rows(documents))


def export_create(*, user, documents, fmt: str, selection: dict) -> ExportFile:
    """Export ``documents`` (already restricted to what ``user`` may see) as ``fmt``."""
    if fmt not in FILE_NAMES or fmt == "audit":
        raise ApplicationError(f"Unbekanntes Exportformat „{fmt}“.", code="unknown_format")
    count = documents.count()
    if count == 0:
        raise ApplicationError("Die Auswahl enthält keine Belege.", code="export_empty")
    if count > MAX_DOCUMENTS:
        raise ApplicationError(
            f"Zu viele Belege für einen Export ({count}, höchstens {MAX_DOCUMENTS}); bitte den Zeitraum einschränken.",
            code="export_too_large",
        )
    data = _render(fmt, documents.order_by("document_date", "created_at"), user=user)
    return _record(user=user, fmt=fmt, selection=selection, count=count, data=data)


def audit_export_create(*, user, period: tuple[date, date], company: str = "") -> ExportFile:
    """The tax auditor's package for documents dated in ``period`` (all owners)."""
    from monitoring.models import AuditLog

    start, end = period
    if end < start:
        raise ApplicationError("Das Ende des Zeitraums liegt vor dem Beginn.", code="invalid_period")
    documents = Document.all_objects.filter(document_date__gte=start, document_date__lte=end).order_by("document_date")
    entries = AuditLog.objects.filter(created_at__date__gte=start, created_at__date__lte=end + timedelta(days=366))
    data = gdpdu.audit_package(documents, entries, period=period, company=company or "Ablage")
    return _record(
        user=user,
        fmt="audit",
        selection={"date_from": start.isoformat(), "date_to": end.isoformat()},
        count=documents.count(),
        data=data,
    )


def _record(*, user, fmt: str, selection: dict, count: int, data: bytes, key: str = "", scheduled=False) -> ExportFile:
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        run = ExportRun.objects.create(
            created_by=user if getattr(user, "is_authenticated", False) else None,
            format=fmt,
            selection=selection,
            document_count=count,
            storage_key=key,
            sha256=digest,
            size_bytes=len(data),
            scheduled=scheduled,
        )
        audit_log_record(
            actor=user,
            action="export.created",
            obj=run,
            changes={"format": fmt, "documents": count, "sha256": digest, "selection": selection},
        )
    content_type = formats.FORMATS.get(fmt, ("application/zip", "zip"))[0]
    return ExportFile(run=run, name=FILE_NAMES[fmt], content_type=content_type, data=data)


def atomic_save(key: str, data: bytes) -> str:
    """Write ``key`` so that a reader never sees half a file: temp file + rename on local disk;
    an S3 PUT is atomic by itself. An existing file of that name is replaced."""
    if isinstance(default_storage, FileSystemStorage):
        target = Path(default_storage.path(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as output:
                output.write(data)
                output.flush()
                os.fsync(output.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key
    if default_storage.exists(key):
        default_storage.delete(key)
    return default_storage.save(key, ContentFile(data))


def scheduled_export(*, target: str, days: int = 1, status: str = "approved", now=None) -> list[ExportRun]:
    """Periodic export of the last ``days`` days' documents in ``status`` to ``exports/<target>/``:
    Parquet and JSON with the same rows (dual output), each recorded with its hash."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    documents = Document.objects.filter(status=status, updated_at__gte=since).order_by("created_at")
    if not documents.exists():
        return []
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M%S")
    prefix = f"{settings.ABLAGE_EXPORT_PREFIX.rstrip('/')}/{target}/{timezone.localtime(now):%Y/%m}"
    rows = document_rows(documents)
    runs = []
    for fmt in ("parquet", "json"):
        data = formats.WRITERS[fmt](rows)
        key = atomic_save(f"{prefix}/belege-{stamp}.{fmt}", data)
        runs.append(
            _record(
                user=None,
                fmt=fmt,
                selection={"target": target, "days": days, "status": status},
                count=len(rows),
                data=data,
                key=key,
                scheduled=True,
            ).run
        )
    return runs
