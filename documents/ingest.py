"""Writes of the ways in: every file, from browser, API, folder or mailbox, becomes a document here.

``document_ingest`` validates (type by content, extension, size, pages, hostile content,
viruses), decides about duplicates, stores the original under a UUID key and creates the
document with its first job, enqueued once the transaction commits. Keyword-only, transactional.
"""

import functools
import hashlib
import io
import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from ablage.errors import ApplicationError
from ablage.outages import outage_of, unavailable_refusal
from documents.models import Document, DocumentFingerprint, DocumentRelation, JobEvent, ProcessingJob, Tag
from documents.office import office_type
from documents.search import search_vector_refresh
from monitoring.services import audit_log_record
from notifications import services as notify
from ocr.errors import StopProcessing
from ocr.filetypes import FileType, sniff
from ocr.sources import open_source
from ocr.workdir import work_dir
from workflows.services import workflows_document_event

logger = logging.getLogger(__name__)

# Upload refusals and their HTTP status in the API.
_REFUSAL_STATUS = {"unsupported_file_type": 415, "file_too_large": 413}


# Names Windows reserves for devices, with or without an extension: a download saved as
# "CON.pdf" cannot be written there.
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
# The extensions a client may send, and the type each promises; checked against the content.
_EXTENSION_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "xml": "application/xml",
}
MAX_METADATA_BYTES = 16 * 1024


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most 200 characters, never a device name."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')
    base = base.strip(" .")
    if len(base) > 200:
        stem, dot, extension = base.rpartition(".")
        base = (stem[:190] + dot + extension[:9]) if dot else base[:200]
    if base.split(".")[0].strip().upper() in _RESERVED_NAMES:
        base = f"_{base}"
    return base or "dokument"


def read_upload(upload) -> bytes:
    """Read an uploaded file, refusing an over-size one before it is read into memory."""
    limit = settings.ABLAGE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ApplicationError(
            f"„{clean_filename(upload.name or '')}“ ist zu groß ({upload.size / 1_048_576:.1f} MB); "
            f"erlaubt sind {limit / 1_048_576:.0f} MB.",
            code="file_too_large",
            status_code=413,
        )
    upload.seek(0)
    return upload.read(limit + 1)


def _size_validate(filename: str, data: bytes) -> None:
    if len(data) == 0:
        raise ApplicationError(f"„{filename}“ ist leer.", code="empty_file")
    limit = settings.ABLAGE_MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise ApplicationError(
            f"„{filename}“ ist zu groß ({len(data) / 1_048_576:.1f} MB); erlaubt sind {limit / 1_048_576:.0f} MB.",
            code="file_too_large",
            status_code=413,
        )


def upload_validate(*, filename: str, data: bytes) -> None:
    """Refuse what cannot become a document, before anything is stored."""
    _size_validate(filename, data)
    from ocr.options import load_options

    try:
        with open_source(data, max_pages=load_options().max_pages) as source:
            _extension_validate(filename, source.file_type)
            _einvoice_validate(data, source)
    except StopProcessing as refusal:
        raise ApplicationError(
            f"„{filename}“: {refusal.message}",
            code=refusal.code,
            status_code=_REFUSAL_STATUS.get(refusal.code, 400),
        ) from refusal


def _extension_validate(filename: str, file_type) -> None:
    """A name that promises another type than the content is refused: one of them is lying."""
    _, dot, extension = filename.rpartition(".")
    promised = _EXTENSION_TYPES.get(extension.lower()) if dot else None
    if dot and promised is None:
        raise StopProcessing(
            f"Die Dateiendung „.{extension[:10]}“ wird nicht unterstützt: erlaubt sind .pdf, .png, .jpg, .tif, "
            ".xml, .eml, .docx, .xlsx, .odt, .rtf und .txt.",
            code="unsupported_file_type",
        )
    if promised is not None and promised != file_type.mime_type:
        raise StopProcessing(
            f"Die Endung „.{extension}“ passt nicht zum Inhalt: die Datei ist eine {file_type.label}-Datei.",
            code="extension_mismatch",
        )


def _einvoice_validate(data: bytes, source) -> None:
    """Hostile XML is refused at the door; an unreadable e-invoice too, unless a PDF carries it."""
    from extraction.einvoice import INVALID_EINVOICE, find_einvoice, parse_einvoice
    from ocr.filetypes import PDF, XML

    if source.file_type not in (PDF, XML):
        return
    found = source.einvoice if source.file_type == XML else find_einvoice(data)
    if found is None:
        return
    try:
        parse_einvoice(found)
    except StopProcessing as refusal:
        if refusal.code == INVALID_EINVOICE and source.file_type == PDF:
            return  # the visible pages are read instead
        raise


def _virus_scan(filename: str, data: bytes) -> None:
    """clamd's verdict when a socket is configured; unreachable clamd refuses (fail-closed) or logs."""
    if not settings.ABLAGE_CLAMD_SOCKET:
        return
    from documents.clamd import ScannerUnavailable, scan_bytes

    try:
        signature = scan_bytes(data)
    except ScannerUnavailable as exc:
        if settings.ABLAGE_CLAMD_FAIL_CLOSED:
            logger.error("Virus scan unavailable, upload of %s refused: %s", filename, exc)
            raise ApplicationError(
                "Die Virenprüfung ist gerade nicht erreichbar; die Datei wurde nicht angenommen. "
                "Bitte später erneut versuchen.",
                code="virus_scan_unavailable",
                status_code=503,
            ) from exc
        logger.warning("Virus scan unavailable, %s taken unscanned: %s", filename, exc)
        return
    if signature is not None:
        logger.warning("Virus scan refused %s: %s", filename, signature)
        raise ApplicationError(
            f"„{filename}“ enthält Schadsoftware ({signature}) und wurde abgewiesen.", code="virus_found"
        )


def _options_validate(*, priority: int, document_type_hint: str, metadata: dict, callback_url: str) -> None:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    if not 1 <= priority <= 10:
        raise ApplicationError("Die Priorität muss zwischen 1 und 10 liegen.", code="invalid_priority")
    if document_type_hint and document_type_hint not in Document.DocumentType.values:
        raise ApplicationError(f"Unbekannter Dokumenttyp „{document_type_hint[:40]}“.", code="invalid_document_type")
    if not isinstance(metadata, dict) or not all(isinstance(key, str) for key in metadata):
        raise ApplicationError("Metadaten müssen ein JSON-Objekt sein.", code="invalid_metadata")
    if len(json.dumps(metadata, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        raise ApplicationError(
            f"Die Metadaten sind zu groß; erlaubt sind {MAX_METADATA_BYTES // 1024} KB.", code="invalid_metadata"
        )
    if callback_url:
        try:
            URLValidator(schemes=["http", "https"])(callback_url)
        except ValidationError:
            raise ApplicationError(
                "Die Callback-URL ist keine gültige http(s)-Adresse.", code="invalid_callback_url"
            ) from None
        if len(callback_url) > 2000:
            raise ApplicationError("Die Callback-URL ist zu lang.", code="invalid_callback_url")


def _original_of(owner, sha256: str) -> Document | None:
    """The owner's live document these bytes were first uploaded as, if any."""
    fingerprint = DocumentFingerprint.objects.filter(owner=owner, sha256=sha256).select_related("document").first()
    if fingerprint is None or fingerprint.document.deleted_at is not None:
        return None
    return fingerprint.document


def _duplicate_refusal(filename: str, original: Document) -> ApplicationError:
    uploaded = timezone.localtime(original.created_at)
    return ApplicationError(
        f"„{filename}“: Dieses Dokument wurde bereits am {uploaded:%d.%m.%Y um %H:%M} Uhr hochgeladen "
        f"(„{original.original_filename}“).",
        code="duplicate",
        status_code=409,
        extra={"duplicate_of": str(original.id)},
    )


def upload_rate_check(*, user, files: int = 1) -> None:
    """Refuse (429, Retry-After) when ``user`` sent more files in the last minute than allowed.

    Counted from the documents themselves (browser and API, deleted ones too), so every web
    process sees the same count without a shared cache.
    """
    from system.selectors import config_get

    limit = config_get("ingest.uploads_per_minute", 0)
    if not limit:
        return
    since = timezone.now() - timedelta(minutes=1)
    recent = Document.all_objects.filter(
        owner=user, created_at__gte=since, source__in=[Document.Source.UPLOAD, Document.Source.API]
    )
    count = recent.count()
    if count + files <= limit:
        return
    oldest = recent.order_by("created_at").values_list("created_at", flat=True).first() or since
    retry_after = max(1, math.ceil((oldest + timedelta(minutes=1) - timezone.now()).total_seconds()))
    raise ApplicationError(
        f"Zu viele Uploads: höchstens {limit} Dateien pro Minute. Bitte in {retry_after} Sekunden erneut versuchen.",
        code="rate_limited",
        status_code=429,
        extra={"retry_after": retry_after},
    )


# Backlog estimate for Retry-After: throughput over this window; bounds keep clients neither
# hammering nor giving up.
_THROUGHPUT_WINDOW = timedelta(minutes=5)
_RETRY_AFTER_BOUNDS = (5, 600)


def intake_capacity_check(*, files: int = 1, entry: str = "api") -> None:
    """Refuse (503, Retry-After) while the pipeline holds more documents than
    ``ingest.max_queued_documents``: under overload a client gets a clear "busy, retry after"
    at once instead of a timeout, and the queue stays bounded. Nothing is read or stored.

    Retry-After is the time the workers need, at their throughput of the last minutes, to work
    the queue down below the limit again. Mailboxes and the watched folder don't call this:
    their files wait where they are and are picked up on a later poll (``intake_has_room``)."""
    limit, waiting = _intake_load()
    if not limit or waiting + files <= limit:
        return
    from monitoring.metrics import UPLOADS_SHED

    UPLOADS_SHED.labels(entry).inc(files)
    retry_after = _backlog_seconds(waiting + files - limit)
    logger.warning("Upload refused: %s documents in the pipeline, limit %s", waiting, limit)
    raise ApplicationError(
        f"Ablage ist gerade ausgelastet: {waiting} Dokumente warten auf Verarbeitung. "
        f"Bitte in {retry_after} Sekunden erneut versuchen.",
        code="busy",
        status_code=503,
        extra={"retry_after": retry_after},
    )


def intake_has_room() -> bool:
    """For the pollers (mailboxes, watched folder): whether to take new files now."""
    limit, waiting = _intake_load()
    return not limit or waiting < limit


def _intake_load() -> tuple[int, int]:
    from system.selectors import config_get

    limit = config_get("ingest.max_queued_documents", 0)
    if not limit:
        return 0, 0
    return limit, Document.objects.filter(status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]).count()


def _backlog_seconds(excess: int) -> int:
    low, high = _RETRY_AFTER_BOUNDS
    finished = ProcessingJob.objects.filter(finished_at__gte=timezone.now() - _THROUGHPUT_WINDOW).count()
    if not finished:
        return 60
    per_second = finished / _THROUGHPUT_WINDOW.total_seconds()
    return min(high, max(low, math.ceil(excess / per_second)))


def document_ingest(
    *,
    owner,
    filename: str,
    data: bytes,
    source: str = Document.Source.UPLOAD,
    source_reference: str = "",
    title: str = "",
    priority: int = 5,
    document_type_hint: str = "",
    metadata: dict | None = None,
    callback_url: str = "",
    _nesting: int = 0,
) -> Document:
    """Validate, store the original under a UUID key, create Document + ProcessingJob, enqueue on commit.

    The same bytes sent again by the same owner are refused or accepted as a linked duplicate
    (``is_duplicate``), as ``ingest.duplicates`` says. An e-mail file (.eml) or an office file
    (``documents.office``) is processed as a PDF made from it (``rendition_key``); an e-mail's
    attachments become documents of their own.
    """
    from system.selectors import config_get

    filename = clean_filename(filename)
    metadata = {} if metadata is None else metadata
    _options_validate(
        priority=priority, document_type_hint=document_type_hint, metadata=metadata, callback_url=callback_url
    )
    if data:
        # Before anything parses the file: PDF and image readers are what malware aims at.
        _virus_scan(filename, data)
    mail = rendition = None
    if is_mail_file(filename):
        mail, rendition = _mail_prepare(filename, data, nesting=_nesting)
        file_type = MAIL_FILE
        source_reference = source_reference or mail.sender_address
        title = title or mail.subject
        metadata = {**metadata, "email": {**mail.summary(), **metadata.get("email", {})}}
    elif office_type(filename) is not None:
        file_type = office_type(filename)
        rendition = _office_prepare(filename, data, file_type)
    else:
        upload_validate(filename=filename, data=data)
        file_type = sniff(data[:1024])
    sha256 = hashlib.sha256(data).hexdigest()
    refuse_duplicates = config_get("ingest.duplicates", "link") == "reject"
    original = _original_of(owner, sha256)
    if original is not None and refuse_duplicates:
        raise _duplicate_refusal(filename, original)
    document_id = uuid.uuid4()
    now = timezone.now()
    # Keys never carry the client's name: UUIDs, partitioned by owner and day.
    key = _store(f"originals/{owner.pk}/{now:%Y/%m/%d}/{document_id}.{file_type.extension}", data)
    rendition_key = ""
    if rendition is not None:
        try:
            rendition_key = _store(f"renditions/{owner.pk}/{now:%Y/%m/%d}/{document_id}.pdf", rendition)
        except Exception:
            _delete_quietly(key)
            raise
    create = functools.partial(
        _document_create,
        document_id=document_id,
        owner=owner,
        filename=filename,
        data=data,
        file_type=file_type,
        sha256=sha256,
        key=key,
        source=source,
        source_reference=source_reference,
        title=title,
        priority=priority,
        document_type_hint=document_type_hint,
        metadata=metadata,
        callback_url=callback_url,
        rendition_key=rendition_key,
        rendition_sha256=hashlib.sha256(rendition).hexdigest() if rendition is not None else "",
    )
    try:
        try:
            document = create(original=original)
        except IntegrityError as exc:
            # PostgreSQL names the constraint, SQLite the table: both say "fingerprint".
            if "fingerprint" not in str(exc).lower():
                raise
            # Another upload of the same bytes committed between our look and our insert.
            original = _original_of(owner, sha256)
            if original is None:
                raise
            if refuse_duplicates:
                raise _duplicate_refusal(filename, original) from None
            document = create(original=original)
    except Exception:
        # Nothing half-created: without its row the stored original would be an orphan.
        _delete_quietly(key)
        if rendition_key:
            _delete_quietly(rendition_key)
        raise
    if mail is not None:
        _mail_attachments_ingest(document, mail, source=source, priority=priority, nesting=_nesting)
    return document


def _store(name: str, data: bytes) -> str:
    """Save under ``name`` (a fresh UUID key); an unreachable store or a full disk is a 503 refusal."""
    try:
        return default_storage.save(name, ContentFile(data))
    except Exception as exc:
        reason = outage_of(exc)
        if reason is None:
            raise
        logger.error("Storing %s failed (%s): %s", name, reason, exc)
        # A write cut short by a full disk leaves part of the file under its name (Django's
        # FileSystemStorage does not remove it); the name is new, so what is there is ours.
        _delete_quietly(name)
        raise unavailable_refusal(reason) from exc


def _delete_quietly(key: str) -> None:
    """Remove what an upload that failed had stored; while the store is down, log the orphan's key."""
    try:
        default_storage.delete(key)
    except Exception as exc:
        if not isinstance(exc, OSError) and outage_of(exc) is None:
            raise
        logger.error("Could not remove %s after a failed upload (%s); whatever of it was stored is an orphan", key, exc)


MAIL_FILE = FileType("message/rfc822", "eml", "E-Mail")


def is_mail_file(filename: str) -> bool:
    return filename.lower().endswith(".eml")


def _mail_prepare(filename: str, data: bytes, *, nesting: int):
    """The parsed mail and its PDF rendition, or the refusal (size first, as for any upload)."""
    from documents.emails import MAX_NESTING, mail_parse, mail_render_pdf

    _size_validate(filename, data)
    if nesting >= MAX_NESTING:
        raise ApplicationError(
            f"„{filename}“ ist eine E-Mail in einer E-Mail; verschachtelte E-Mails werden nur eine Ebene tief "
            "übernommen. Bitte einzeln hochladen.",
            code="nested_email",
        )
    mail = mail_parse(filename=filename, data=data)
    rendition = mail_render_pdf(mail)
    stem = PurePath(filename).stem or "e-mail"
    upload_validate(filename=f"{stem}.pdf", data=rendition)
    return mail, rendition


def _office_prepare(filename: str, data: bytes, file_type: FileType) -> bytes:
    """The PDF LibreOffice makes of an office file, validated like an uploaded PDF."""
    from documents.office import office_to_pdf, office_validate

    _size_validate(filename, data)
    office_validate(filename=filename, data=data, file_type=file_type)
    rendition = office_to_pdf(filename=filename, data=data, file_type=file_type)
    upload_validate(filename=f"{PurePath(filename).stem or 'dokument'}.pdf", data=rendition)
    return rendition


def _mail_attachments_ingest(document: Document, mail, *, source: str, priority: int, nesting: int) -> None:
    """Each attachment a document of its own, "Anhang zu" the mail; a refused one is recorded
    on the mail's document (``metadata.email.attachments``) and stops nothing."""
    results = []
    for name, payload in mail.attachments:
        filename = clean_filename(name)
        try:
            with transaction.atomic():
                attachment = document_ingest(
                    owner=document.owner,
                    filename=filename,
                    data=payload,
                    source=source,
                    source_reference=document.source_reference,
                    priority=priority,
                    metadata={"email": {**mail.summary(), "attachment_of": str(document.id)}},
                    _nesting=nesting + 1,
                )
                DocumentRelation.objects.create(
                    source=attachment,
                    target=document,
                    relation_type=DocumentRelation.RelationType.ATTACHMENT_TO,
                    confidence=1.0,
                    notes=f"Anhang „{filename}“ der E-Mail",
                    created_by=document.owner,
                )
        except ApplicationError as refusal:
            results.append({"filename": filename, "error": refusal.message, "code": refusal.code})
        else:
            results.append({"filename": filename, "document": str(attachment.id)})
    if results:
        document.metadata = {**document.metadata, "email": {**document.metadata["email"], "attachments": results}}
        Document.objects.filter(id=document.id).update(metadata=document.metadata)


def _document_create(*, document_id, owner, filename, data, file_type, sha256, key, source, original, **options):
    source_reference, title = options.pop("source_reference"), options.pop("title")
    with transaction.atomic():
        document = Document.objects.create(
            id=document_id,
            owner=owner,
            title=(title or PurePath(filename).stem)[:255],
            original_filename=filename,
            mime_type=file_type.mime_type,
            file_size=len(data),
            sha256=sha256,
            storage_key=key,
            source=source,
            source_reference=source_reference[:255],
            is_duplicate=original is not None,
            **options,
        )
        search_vector_refresh(document_ids=[document.id])  # findable by its title before processing
        if original is None:
            # Take over the row of a deleted original, or create it; a racing upload of the same
            # bytes that got there first makes this raise IntegrityError (see document_ingest).
            taken_over = DocumentFingerprint.objects.filter(
                owner=owner, sha256=sha256, document__deleted_at__isnull=False
            ).update(document=document)
            if not taken_over:
                DocumentFingerprint.objects.create(owner=owner, sha256=sha256, document=document)
        else:
            DocumentRelation.objects.create(
                source=document,
                target=original,
                relation_type=DocumentRelation.RelationType.DUPLICATE_OF,
                confidence=1.0,
                notes="SHA-256 gleich",
                created_by=owner,
            )
        job = ProcessingJob.objects.create(document=document, queue="ocr_cpu", created_by=owner)
        JobEvent.objects.create(job=job, event_type="queued", message="Dokument angenommen")
        audit_log_record(
            actor=owner,
            action="document.uploaded",
            obj=document,
            changes={
                "filename": filename,
                "sha256": sha256,
                "source": source,
                **({"duplicate_of": str(original.id)} if original is not None else {}),
            },
        )
        notify.notify_document_event(event="document.created", document=document, occurrence=str(document.id))
        transaction.on_commit(lambda: _enqueue(job))
        workflows_document_event(document=document, event="uploaded", user=owner, dedup="uploaded")
    return document


def _enqueue(job: ProcessingJob) -> None:
    from documents.tasks import process_document

    ProcessingJob.objects.filter(id=job.id).update(enqueued_at=timezone.now())
    process_document.apply_async(args=[str(job.id)], queue=job.queue, priority=job.document.priority)


def rendition_read_verified(document: Document) -> bytes:
    """The PDF made from the original at intake (e-mail, office file), checked against its hash."""
    try:
        with default_storage.open(document.rendition_key, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ApplicationError(
            "Die zur Verarbeitung erzeugte PDF-Fassung fehlt im Speicher.", code="rendition_missing", status_code=404
        ) from None
    if hashlib.sha256(data).hexdigest() != document.rendition_sha256:
        logger.error("Rendition of document %s changed in storage", document.id)
        raise ApplicationError(
            "Die zur Verarbeitung erzeugte PDF-Fassung stimmt nicht mehr mit ihrer Prüfsumme überein.",
            code="rendition_tampered",
            status_code=409,
        )
    return data


def original_read_verified(document: Document, *, actor=None):
    """The stored original as a file object, after checking it still has the hash it had on upload.

    Originals are immutable; a mismatch means the storage was altered or damaged. That is
    recorded (log and audit) and refused rather than handed out as if it were the original.
    """
    import tempfile

    digest = hashlib.sha256()
    # Not a context manager: handed to the caller, who streams it and closes it.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, dir=work_dir())  # noqa: SIM115
    try:
        with default_storage.open(document.storage_key, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
                spool.write(chunk)
    except FileNotFoundError:
        spool.close()
        raise ApplicationError(
            "Die Originaldatei fehlt im Speicher.", code="original_missing", status_code=404
        ) from None
    except BaseException:
        spool.close()  # the store gone, the work directory full: the caller decides, the spool goes
        raise
    if digest.hexdigest() != document.sha256:
        spool.close()
        logger.error(
            "Original of document %s changed in storage: sha256 %s, expected %s",
            document.id,
            digest.hexdigest(),
            document.sha256,
        )
        audit_log_record(
            actor=actor,
            action="document.original_mismatch",
            obj=document,
            changes={"expected_sha256": document.sha256, "found_sha256": digest.hexdigest()},
        )
        raise ApplicationError(
            "Die gespeicherte Originaldatei stimmt nicht mehr mit dem Upload überein (Prüfsumme weicht ab) "
            "und wird nicht ausgeliefert. Der Vorfall wurde protokolliert.",
            code="original_tampered",
            status_code=409,
        )
    spool.seek(0)
    return spool


MAX_BATCH_FILES = 50


@dataclass(frozen=True)
class IngestFile:
    """One file to ingest. ``read`` is called late so that an over-size upload is refused unread."""

    filename: str
    read: Callable[[], bytes]
    source_reference: str = ""
    title: str = ""
    document_type_hint: str = ""
    metadata: dict | None = None
    callback_url: str = ""


@dataclass(frozen=True)
class IngestOutcome:
    """What became of one file: a document (perhaps a linked duplicate), or the refusal that kept it out."""

    filename: str
    document: Document | None = None
    refusal: ApplicationError | None = None

    @property
    def status(self) -> str:
        """``accepted``, ``duplicate`` (accepted and linked) or ``rejected``."""
        if self.document is None:
            return "rejected"
        return "duplicate" if self.document.is_duplicate else "accepted"


def document_ingest_batch(
    *,
    owner,
    files: list[IngestFile],
    source: str = Document.Source.API,
    priority: int = 5,
    tags: list[str] | tuple[str, ...] = (),
) -> list[IngestOutcome]:
    """Ingest each file on its own, in order, and tag it; one refused file never stops the others.

    A ZIP archive (when enabled) is unpacked and each entry ingested in its place, named
    ``archive.zip/entry.pdf``. Refuses the whole batch (nothing stored) when it has no or too
    many files, or a tag name is unusable. Tags are created when missing (matched
    case-insensitively) and attached in the file's transaction, so the job is enqueued only
    once the document carries them.
    """
    from documents.archives import is_zip, zip_entries

    if not files:
        raise ApplicationError("Bitte mindestens eine Datei senden.", code="no_files")
    if len(files) > MAX_BATCH_FILES:
        raise ApplicationError(
            f"Zu viele Dateien ({len(files)}); höchstens {MAX_BATCH_FILES} pro Sendung.", code="too_many_files"
        )
    tag_names = list(dict.fromkeys(name.strip() for name in tags if name.strip()))
    for name in tag_names:
        if len(name) > 100:
            raise ApplicationError(
                f"Das Schlagwort „{name[:40]}…“ ist zu lang; erlaubt sind 100 Zeichen.", code="invalid_tag"
            )
    outcomes = []
    for file in files:
        filename = clean_filename(file.filename)
        try:
            data = file.read()
            # DOCX, XLSX and ODT are ZIPs too, but documents of their own, not archives to unpack.
            unpack = is_zip(data) and office_type(filename) is None
            entries = zip_entries(filename=filename, data=data) if unpack else None
        except ApplicationError as refusal:
            outcomes.append(IngestOutcome(filename, refusal=refusal))
            continue
        if entries is None:
            outcomes.append(_ingest_one(owner, file, filename, data, source=source, priority=priority, tags=tag_names))
            continue
        for entry in entries:
            entry_name = clean_filename(entry.name)
            outcomes.append(
                _ingest_one(
                    owner,
                    replace(
                        file, filename=entry_name, source_reference=file.source_reference or f"{filename}/{entry.name}"
                    ),
                    f"{filename}/{entry_name}",
                    entry.data,
                    source=source,
                    priority=priority,
                    tags=tag_names,
                )
            )
    return outcomes


def _ingest_one(owner, file: IngestFile, label: str, data: bytes, *, source, priority, tags) -> IngestOutcome:
    document = None
    try:
        with transaction.atomic():
            document = document_ingest(
                owner=owner,
                filename=file.filename,
                data=data,
                source=source,
                source_reference=file.source_reference,
                title=file.title,
                priority=priority,
                document_type_hint=file.document_type_hint,
                metadata=file.metadata,
                callback_url=file.callback_url,
            )
            document.tags.add(
                *(
                    Tag.objects.filter(name__iexact=name).first() or Tag.objects.get_or_create(name=name)[0]
                    for name in tags
                )
            )
    except ApplicationError as refusal:
        return IngestOutcome(label, refusal=refusal)
    except Exception:
        if document is not None:
            # The row went with the rolled-back transaction; its original must not stay behind.
            _delete_quietly(document.storage_key)
            if document.rendition_key:
                _delete_quietly(document.rendition_key)
        raise
    return IngestOutcome(label, document=document)


def images_combine(*, files: list[tuple[str, bytes]]) -> bytes:
    """Several scanned images (pages of one document) as one multi-page TIFF, in the given order.

    Each image is validated on its own first, so a bad page is named; frames are stored
    losslessly (deflate).
    """
    from PIL import Image

    from ocr.filetypes import JPEG, PNG, TIFF

    if len(files) < 2:
        raise ApplicationError("Zum Zusammenfassen bitte mindestens zwei Bilder senden.", code="combine_needs_images")
    frames = []
    try:
        for name, data in files:
            name = clean_filename(name)
            upload_validate(filename=name, data=data)
            if sniff(data[:1024]) not in (PNG, JPEG, TIFF):
                raise ApplicationError(
                    f"„{name}“ ist kein Bild; zusammengefasst werden nur PNG-, JPEG- und TIFF-Seiten.",
                    code="combine_needs_images",
                )
            image = Image.open(io.BytesIO(data))
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frame = image.convert("RGB") if image.mode not in ("L", "RGB") else image.copy()
                frames.append(frame)
        from ocr.options import load_options

        max_pages = load_options().max_pages
        if len(frames) > max_pages:
            raise ApplicationError(
                f"Zusammen {len(frames)} Seiten; erlaubt sind höchstens {max_pages}.", code="too_many_pages"
            )
        buffer = io.BytesIO()
        frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
        return buffer.getvalue()
    finally:
        for frame in frames:
            frame.close()
