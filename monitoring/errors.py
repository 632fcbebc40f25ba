"""Error capture: unhandled exceptions from web requests and worker tasks become ErrorLog rows.

Deduplicated by a fingerprint of the exception type, its message with volatile parts
(numbers, ids) removed, and where it was raised: while an error is open a repeat only counts
up. A new critical error tells the administrators (in-app notification).
"""

import hashlib
import logging
import re
import traceback

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from monitoring.models import ErrorLog
from monitoring.pii import mask_pii

logger = logging.getLogger(__name__)
_VOLATILE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|0x[0-9a-f]+|\d+", re.IGNORECASE)
# Errors whose cause is the environment, not a defect: critical, so people hear about them.
CRITICAL_TYPES = ("OperationalError", "InterfaceError", "ConnectionError", "OSError", "MemoryError")


def fingerprint(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    origin = f"{frames[-1].filename}:{frames[-1].name}" if frames else ""
    message = _VOLATILE.sub("#", str(error))[:500]
    return hashlib.sha256(f"{type(error).__qualname__}|{message}|{origin}".encode()).hexdigest()


def severity_of(error: BaseException) -> str:
    names = {cls.__name__ for cls in type(error).__mro__}
    return ErrorLog.Severity.CRITICAL if names & set(CRITICAL_TYPES) else ErrorLog.Severity.ERROR


def error_record(
    error: BaseException, *, context: dict | None = None, request=None, document_id=None, job_id=None
) -> ErrorLog | None:
    """Record ``error``; returns the row (new or counted up). Never raises."""
    try:
        return _record(error, context=context or {}, request=request, document_id=document_id, job_id=job_id)
    except Exception:  # recording an error must not become the next error
        logger.exception("could not record error")
        return None


def _record(error, *, context, request, document_id, job_id):
    key = fingerprint(error)
    now = timezone.now()
    counted = ErrorLog.objects.filter(fingerprint=key, resolved_at=None).update(
        occurrence_count=F("occurrence_count") + 1, last_seen_at=now
    )
    if counted:
        return ErrorLog.objects.filter(fingerprint=key, resolved_at=None).first()
    user = getattr(request, "user", None) if request is not None else None
    fields = {
        "severity": severity_of(error),
        "error_type": f"{type(error).__module__}.{type(error).__qualname__}"[:255],
        "message": mask_pii(str(error))[:5000],
        "stack_trace": mask_pii("".join(traceback.format_exception(error)))[:20000],
        "fingerprint": key,
        "context": context,
        "request_path": (request.path[:500] if request is not None else ""),
        "request_method": (request.method[:10] if request is not None else ""),
        "user": user if getattr(user, "is_authenticated", False) else None,
        "ip_address": (request.META.get("REMOTE_ADDR") if request is not None else None),
        "document_id": document_id,
        "job_id": job_id,
        "first_seen_at": now,
        "last_seen_at": now,
    }
    try:
        with transaction.atomic():
            row = ErrorLog.objects.create(**fields)
    except IntegrityError:
        # Another process recorded the same error a moment ago: count it there.
        ErrorLog.objects.filter(fingerprint=key, resolved_at=None).update(
            occurrence_count=F("occurrence_count") + 1, last_seen_at=now
        )
        return ErrorLog.objects.filter(fingerprint=key, resolved_at=None).first()
    if row.severity == ErrorLog.Severity.CRITICAL:
        try:
            _alert_admins(row)
        except Exception:  # the record stands even when the alert cannot be made
            logger.exception("could not alert administrators about error %s", row.pk)
    return row


def _alert_admins(row: ErrorLog) -> None:
    from django.urls import reverse

    from accounts.selectors import alert_recipients
    from notifications.models import Notification

    admins = alert_recipients()
    # The project's URLs, also when a request runs under another urlconf.
    link = reverse("admin:monitoring_errorlog_change", args=[row.pk], urlconf="ablage.urls")
    Notification.objects.bulk_create(
        Notification(
            user=admin,
            type=Notification.Type.SYSTEM_ALERT,
            title=f"Kritischer Fehler: {row.error_type.rsplit('.', 1)[-1]}"[:255],
            message=row.message[:1000],
            link_url=link,
            data={"error_log": str(row.pk)},
        )
        for admin in admins
    )


def error_resolve(*, error: ErrorLog, user, notes: str = "") -> None:
    from monitoring.services import audit_log_record

    changed = ErrorLog.objects.filter(pk=error.pk, resolved_at=None).update(
        resolved_at=timezone.now(), resolved_by=user, resolution_notes=notes
    )
    if changed:
        audit_log_record(actor=user, action="error.resolved", obj=error, message=notes[:500])


def on_request_exception(sender, request=None, **kwargs):
    """Django's ``got_request_exception``: the exception being handled is the current one."""
    import sys

    error = sys.exc_info()[1]
    if error is not None:
        error_record(error, request=request, context={"source": "web"})


def on_task_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **extra):
    """Celery's ``task_failure`` (in the worker process)."""
    if exception is None:
        return
    if einfo is not None and exception.__traceback__ is None:
        exception.__traceback__ = einfo.tb
    job_id = (args or [None])[0] if getattr(sender, "name", "") == "documents.tasks.process_document" else None
    error_record(
        exception,
        context={"source": "worker", "task": getattr(sender, "name", ""), "task_id": task_id},
        job_id=job_id,
    )
