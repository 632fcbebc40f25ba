"""Writes: who hears about what, through which channel, and the in-app notification centre.

The ``notify_*`` functions are called explicitly where the event happens (documents.services,
the workflow engine), inside that transaction: notifications, queued mails and webhook
deliveries exist exactly when the change they report was committed. Sending happens after
commit, in workers. A notification problem is logged and never undoes the change itself.
"""

import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from notifications import email as email_queue
from notifications import live, webhooks
from notifications.models import DigestEntry, Notification, NotificationPreference
from notifications.selectors import (
    USER_TYPES,
    document_audience,
    preferences_for,
    quiet_hours_end_after,
)

logger = logging.getLogger(__name__)

Type = Notification.Type
Channel = NotificationPreference.Channel
Digest = NotificationPreference.Digest
Event = webhooks.Event


@dataclass(frozen=True)
class Message:
    """One thing that happened, as people are told about it."""

    type: str
    title: str
    text: str
    occurrence: str  # identifies this happening: the same occurrence is announced once
    template_key: str
    template_context: dict = field(default_factory=dict)
    document: object = None
    is_failure: bool = False
    confidence: float | None = None


def _document_url(document) -> str:
    return f"/dokumente/{document.id}/"


_DOCUMENT_KEYS = ("title", "original_filename", "status", "document_number", "total_amount", "overall_confidence")


def _document_context(document) -> dict:
    confidence = document.overall_confidence
    return {
        "title": document.title,
        "original_filename": document.original_filename,
        "status": str(document.get_status_display()),
        "document_number": document.document_number,
        "total_amount": f"{document.total_amount} {document.currency}".strip() if document.total_amount else "",
        "overall_confidence": f"{round(confidence * 100)} %" if confidence is not None else "",
    }


def _wanted(preference, message: Message) -> bool:
    if not preference.enabled:
        return False
    if preference.only_failures and not message.is_failure:
        return False
    if preference.confidence_below is not None and message.confidence is not None:
        return message.confidence < preference.confidence_below
    return True


def dispatch(*, message: Message, recipients, now=None) -> list[Notification]:
    """Tell each recipient through each channel their preferences allow."""
    now = now or timezone.now()
    created = []
    for user in recipients:
        preferences = preferences_for(user)
        in_app = preferences[(message.type, Channel.IN_APP)]
        if _wanted(in_app, message):
            notification = Notification.objects.create(
                user=user,
                type=message.type,
                title=message.title[:255],
                message=message.text,
                document=message.document,
                link_url=_document_url(message.document) if message.document is not None else "",
                expires_at=now + datetime.timedelta(days=settings.ABLAGE_NOTIFICATION_EXPIRY_DAYS),
                created_at=now,
            )
            created.append(notification)
            transaction.on_commit(lambda n=notification: live.push(n))
        by_mail = preferences[(message.type, Channel.EMAIL)]
        if user.email and _wanted(by_mail, message):
            _mail(user, message, by_mail, now=now)
    return created


def _mail(user, message: Message, preference, *, now) -> None:
    if preference.digest != Digest.NONE:
        DigestEntry.objects.create(
            user=user,
            frequency=preference.digest,
            notification_type=message.type,
            title=message.title[:255],
            message=message.text,
            link_url=_document_url(message.document) if message.document is not None else "",
            document=message.document,
        )
        return
    context = {"user_name": user.get_full_name(), **message.template_context}
    dedup_key = f"{message.type}:{message.occurrence}:{user.id}"
    try:
        email_queue.email_enqueue(
            template_key=message.template_key,
            to_address=user.email,
            to_name=user.get_full_name(),
            context=context,
            user=user,
            document=message.document,
            dedup_key=dedup_key,
            send_after=quiet_hours_end_after(preference, user=user, now=now),
        )
    except ApplicationError as exc:
        # A missing or broken template is an admin's mistake in one channel: it must not
        # silence the in-app notification or the webhooks of the same event.
        logger.warning("E-mail %s for user %s not rendered: %s", message.template_key, user.id, exc.message)
        email_queue.email_record_unrenderable(
            template_key=message.template_key,
            to_address=user.email,
            to_name=user.get_full_name(),
            subject=message.title,
            text=message.text,
            reason=exc.message,
            user=user,
            document=message.document,
            dedup_key=dedup_key,
        )


def _guarded(function):
    """A failing notification is logged; it must not roll back the document change it reports."""

    def wrapper(*args, **kwargs):
        try:
            with transaction.atomic():
                return function(*args, **kwargs)
        except Exception:
            logger.exception("Notification %s failed", function.__name__)
            return None

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def _document_message(document, **kwargs) -> Message:
    context = {
        "document": _document_context(document),
        "document_url": settings.SITE_URL.rstrip("/") + _document_url(document),
    }
    return Message(
        document=document,
        confidence=document.overall_confidence,
        template_context={**context, **kwargs.pop("template_context", {})},
        **kwargs,
    )


@_guarded
def notify_document_processed(*, document) -> None:
    """Processing finished (auto-approved or waiting for review): the uploader, plus reviewers if review is needed."""
    occurrence = f"{document.id}:{document.processed_at.isoformat() if document.processed_at else ''}"
    dispatch(
        message=_document_message(
            document,
            type=Type.DOCUMENT_PROCESSED,
            title=_("Verarbeitet: %(title)s") % {"title": document.title},
            text=str(document.get_status_display()),
            occurrence=occurrence,
            template_key="document_processed",
        ),
        recipients=document_audience(document),
    )
    webhooks.event_emit(event=Event.DOCUMENT_PROCESSED, occurrence=occurrence, document=document)
    if document.status == document.Status.APPROVED:
        webhooks.event_emit(event=Event.DOCUMENT_APPROVED, occurrence=occurrence, document=document)
    if document.status == document.Status.REVIEW:
        notify_review_required(document=document, occurrence=occurrence)


def notify_review_required(*, document, occurrence: str) -> None:
    reason = document.decision_reason or _("Die Erkennung ist nicht sicher genug.")
    dispatch(
        message=_document_message(
            document,
            type=Type.REVIEW_REQUIRED,
            title=_("Bitte prüfen: %(title)s") % {"title": document.title},
            text=reason,
            occurrence=occurrence,
            template_key="review_required",
            template_context={"reason": reason},
        ),
        recipients=document_audience(document, owner=False, review_staff=True),
    )
    webhooks.event_emit(event=Event.DOCUMENT_REVIEW_REQUIRED, occurrence=occurrence, document=document)


@_guarded
def notify_document_rejected(*, document, reason: str, occurrence: str) -> None:
    """The pipeline refused the document (not an invoice we can read, invalid e-invoice, ...)."""
    dispatch(
        message=_document_message(
            document,
            type=Type.DOCUMENT_REJECTED,
            title=_("Abgewiesen: %(title)s") % {"title": document.title},
            text=reason,
            occurrence=occurrence,
            template_key="document_rejected",
            template_context={"reason": reason},
            is_failure=True,
        ),
        recipients=document_audience(document),
    )
    webhooks.event_emit(
        event=Event.DOCUMENT_REJECTED, occurrence=occurrence, document=document, data={"reason": reason}
    )


@_guarded
def notify_processing_failed(*, document, error: str, occurrence: str) -> None:
    """Processing gave up (dead): the uploader and the people who run the review."""
    dispatch(
        message=_document_message(
            document,
            type=Type.PROCESSING_FAILED,
            title=_("Verarbeitung fehlgeschlagen: %(title)s") % {"title": document.title},
            text=error,
            occurrence=occurrence,
            template_key="processing_failed",
            template_context={"error": error},
            is_failure=True,
        ),
        recipients=document_audience(document, review_staff=True),
    )
    webhooks.event_emit(event=Event.DOCUMENT_FAILED, occurrence=occurrence, document=document, data={"error": error})


@_guarded
def notify_review_completed(*, document, reviewer, approved: bool, reason: str = "") -> None:
    """A person approved or rejected the document: its uploader hears about it (not the reviewer themselves)."""
    occurrence = f"{document.id}:{document.reviewed_at.isoformat() if document.reviewed_at else ''}"
    decision = _("freigegeben") if approved else _("abgelehnt")
    text = decision if approved else f"{decision}: {reason}"
    dispatch(
        message=_document_message(
            document,
            type=Type.REVIEW_COMPLETED,
            title=_("Geprüft: %(title)s – %(decision)s") % {"title": document.title, "decision": decision},
            text=text,
            occurrence=occurrence,
            template_key="review_completed",
            template_context={
                "decision": decision,
                "reviewer_name": reviewer.get_full_name() if reviewer else "",
                "reason": "" if approved else reason,
            },
            is_failure=not approved,
        ),
        recipients=[user for user in document_audience(document) if reviewer is None or user.id != reviewer.id],
    )
    webhooks.event_emit(
        event=Event.DOCUMENT_APPROVED if approved else Event.DOCUMENT_REJECTED,
        occurrence=occurrence,
        document=document,
        data={"reviewed_by": reviewer.email if reviewer else None, **({} if approved else {"reason": reason})},
    )


@_guarded
def notify_workflow_failed(*, execution, error: str) -> None:
    """Called by the workflow engine when a run fails.

    Told: the document's owner and reviewers; for a run without a document, the workflow's author.
    """
    workflow, document = execution.workflow, execution.document
    occurrence = str(execution.id)
    title = _("Workflow „%(name)s“ fehlgeschlagen") % {"name": workflow.name}
    fields = {
        "type": Type.WORKFLOW_FAILED,
        "text": error,
        "occurrence": occurrence,
        "template_key": "workflow_failed",
        "is_failure": True,
    }
    if document is not None:
        message = _document_message(
            document,
            title=f"{title}: {document.title}",
            template_context={"workflow_name": workflow.name, "error": error},
            **fields,
        )
        recipients = document_audience(document, review_staff=True)
    else:
        # A run without a document (e.g. a schedule) concerns whoever set the workflow up.
        message = Message(
            title=title,
            template_context={
                "workflow_name": workflow.name,
                "error": error,
                "document": {
                    **dict.fromkeys(_DOCUMENT_KEYS, ""),
                    "title": str(_("ohne Dokument")),
                },
                "document_url": settings.SITE_URL,
            },
            **fields,
        )
        candidates = [workflow.created_by, execution.triggered_by]
        recipients = list({user.id: user for user in candidates if user is not None and user.is_active}.values())
    dispatch(message=message, recipients=recipients)
    webhooks.event_emit(
        event=Event.WORKFLOW_FAILED,
        occurrence=occurrence,
        document=document,
        data={"workflow": {"id": str(workflow.id), "name": workflow.name}, "execution_id": occurrence, "error": error},
    )


@_guarded
def notify_workflow_completed(*, execution) -> None:
    """For the workflow engine: webhook only (a finished workflow is no news for people)."""
    workflow = execution.workflow
    webhooks.event_emit(
        event=Event.WORKFLOW_COMPLETED,
        occurrence=str(execution.id),
        document=execution.document,
        data={"workflow": {"id": str(workflow.id), "name": workflow.name}, "execution_id": str(execution.id)},
    )


@_guarded
def notify_document_event(*, event: str, document, occurrence: str, data: dict | None = None) -> None:
    """Webhook-only document events: created, updated, deleted."""
    webhooks.event_emit(event=event, occurrence=occurrence, document=document, data=data)


# --- notification centre -----------------------------------------------------------------------


def notification_mark_read(*, user, notification_id) -> None:
    changed = Notification.objects.filter(id=notification_id, user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if changed == 0 and not Notification.objects.filter(id=notification_id, user=user).exists():
        raise ApplicationError(_("Benachrichtigung nicht gefunden."), code="not_found", status_code=404)
    transaction.on_commit(lambda: live.push_count(user.id))


def notification_mark_all_read(*, user) -> int:
    changed = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    transaction.on_commit(lambda: live.push_count(user.id))
    return changed


def notifications_purge_expired(*, now=None) -> int:
    deleted, _per_model = Notification.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


# --- preferences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceInput:
    notification_type: str
    in_app: bool
    email: bool
    webhook: bool
    digest: str = Digest.NONE
    only_failures: bool = False
    confidence_below: float | None = None


@transaction.atomic
def preferences_save(*, user, rows: list[PreferenceInput], quiet_hours_start=None, quiet_hours_end=None) -> None:
    """Store the settings page: one row per (type, channel); quiet hours apply to every e-mail row."""
    if (quiet_hours_start is None) != (quiet_hours_end is None):
        raise ApplicationError(_("Bitte Beginn und Ende der Ruhezeit angeben."), code="quiet_hours_incomplete")
    if quiet_hours_start is not None and quiet_hours_start == quiet_hours_end:
        raise ApplicationError(_("Beginn und Ende der Ruhezeit müssen verschieden sein."), code="quiet_hours_empty")
    for row in rows:
        if row.notification_type not in USER_TYPES:
            raise ApplicationError(_("Unbekannte Benachrichtigungsart."), code="preference_type_unknown")
        if row.digest not in Digest.values:
            raise ApplicationError(_("Unbekannte Zusammenfassung."), code="preference_digest_unknown")
        if row.confidence_below is not None and not 0 < row.confidence_below <= 1:
            raise ApplicationError(
                _("Die Konfidenzschwelle muss zwischen 1 und 100 % liegen."), code="preference_threshold_range"
            )
        common = {"only_failures": row.only_failures, "confidence_below": row.confidence_below}
        for channel, enabled in (
            (Channel.IN_APP, row.in_app),
            (Channel.EMAIL, row.email),
            (Channel.WEBHOOK, row.webhook),
        ):
            values = {
                **common,
                "enabled": enabled,
                "digest": Digest.NONE,
                "quiet_hours_start": None,
                "quiet_hours_end": None,
            }
            if channel == Channel.EMAIL:
                values.update(digest=row.digest, quiet_hours_start=quiet_hours_start, quiet_hours_end=quiet_hours_end)
            NotificationPreference.objects.update_or_create(
                user=user, notification_type=row.notification_type, channel=channel, defaults=values
            )
