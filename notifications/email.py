"""The e-mail queue: render from a template, enqueue, send with backoff, bundle digests.

Every mail goes through ``EmailQueue``. A worker claims a row with a guarded update, hands it
to Django's e-mail backend and records the outcome; a failed attempt waits 5, 10, 20, 40
minutes before the next one, and after ``max_attempts`` the row is FAILED with the error.
The Message-ID is fixed when the mail is queued, so a mail sent twice (the server accepted
it but the acknowledgement was lost) is recognisably the same mail.
"""

import datetime
import hashlib
import logging
import smtplib
import uuid
from urllib.parse import urlsplit

import jinja2
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from jinja2.sandbox import SandboxedEnvironment

from ablage.errors import ApplicationError
from notifications.models import DigestEntry, EmailQueue, EmailTemplate, NotificationPreference

logger = logging.getLogger(__name__)

BACKOFF_BASE = datetime.timedelta(minutes=5)
# A worker that died mid-send leaves its row in "sending"; after this long it is sent again.
SENDING_STUCK_AFTER = datetime.timedelta(minutes=10)

_html_environment = SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)
_text_environment = SandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined)


class TemplateContextError(ApplicationError):
    def __init__(self, message: str):
        super().__init__(message, code="email_template_context")


def email_render(template: EmailTemplate, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML of ``template`` with ``context``; the context must match the declared variables."""
    declared, given = set(template.variables), set(context)
    if declared - given or given - declared:
        raise TemplateContextError(
            _("Vorlage „%(key)s“: fehlende Variablen %(missing)s, nicht deklarierte Variablen %(extra)s.")
            % {
                "key": template.key,
                "missing": ", ".join(sorted(declared - given)) or "-",
                "extra": ", ".join(sorted(given - declared)) or "-",
            }
        )
    try:
        subject = _text_environment.from_string(template.subject_template).render(context)
        text = _text_environment.from_string(template.text_template).render(context)
        html = _html_environment.from_string(template.html_template).render(context)
    except jinja2.TemplateError as exc:
        raise TemplateContextError(
            _("Vorlage „%(key)s“ lässt sich nicht anwenden: %(error)s") % {"key": template.key, "error": exc}
        ) from exc
    # A subject is one header line: a line break in a document title must not start a new header.
    subject = " ".join(subject.split())[:500]
    return subject, text, html


def sample_context(template: EmailTemplate) -> dict:
    """Example values for every declared variable, for the admin preview."""
    samples = {
        "user_name": "Erika Mustermann",
        "document": {
            "title": "Rechnung RE-2026-0042",
            "original_filename": "rechnung-0042.pdf",
            "status": "Prüfung nötig",
            "document_number": "RE-2026-0042",
            "total_amount": "1.234,56 EUR",
            "overall_confidence": "72 %",
        },
        "document_url": f"{settings.SITE_URL}/dokumente/00000000-0000-0000-0000-000000000000/",
        "reason": "Summe der Positionen weicht vom Rechnungsbetrag ab",
        "error": "Die Datei ist beschädigt.",
        "decision": "freigegeben",
        "reviewer_name": "Rita Prüferin",
        "workflow_name": "Freigabe ab 5.000 EUR",
        "period": "Tägliche Zusammenfassung",
        "entries": [
            {"title": "Bitte prüfen: Rechnung RE-2026-0042", "message": "Konfidenz 72 %", "url": ""},
            {"title": "Verarbeitet: Lieferschein 17", "message": "", "url": ""},
        ],
        "reset_url": f"{settings.SITE_URL}/konto/passwort/neu/beispiel/",
        "valid_hours": 24,
    }
    return {name: samples.get(name, f"<{name}>") for name in template.variables}


def message_id_domain() -> str:
    return settings.ABLAGE_MESSAGE_ID_DOMAIN or urlsplit(settings.SITE_URL).hostname or "localhost"


def _short_dedup_key(dedup_key: str) -> str:
    if len(dedup_key) <= 200:
        return dedup_key
    return "sha256:" + hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()


def email_enqueue(
    *,
    template_key: str,
    to_address: str,
    context: dict,
    to_name: str = "",
    user=None,
    document=None,
    dedup_key: str = "",
    send_after: datetime.datetime | None = None,
    attachments: list[dict] | None = None,
) -> EmailQueue:
    """Render and queue one mail; sent by a worker after commit. The same ``dedup_key`` twice queues it once."""
    template = EmailTemplate.objects.filter(key=template_key, is_active=True).first()
    if template is None:
        raise ApplicationError(
            _("Es gibt keine aktive E-Mail-Vorlage „%(key)s“.") % {"key": template_key}, code="email_template_missing"
        )
    subject, text, html = email_render(template, context)
    dedup_key = _short_dedup_key(dedup_key)
    if dedup_key:
        existing = EmailQueue.objects.filter(dedup_key=dedup_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            email = EmailQueue.objects.create(
                to_address=to_address,
                to_name=to_name[:255],
                subject=subject or template.name,
                text_body=text,
                html_body=html,
                template=template,
                context=context,
                attachments=attachments or [],
                user=user,
                document=document,
                dedup_key=dedup_key,
                max_attempts=settings.ABLAGE_EMAIL_MAX_ATTEMPTS,
                next_attempt_at=send_after or timezone.now(),
                message_id=f"<{uuid.uuid4().hex}@{message_id_domain()}>",
            )
    except IntegrityError:
        # Queued concurrently under the same key: the other one is the mail.
        return EmailQueue.objects.get(dedup_key=dedup_key)
    if send_after is None or send_after <= timezone.now():
        transaction.on_commit(lambda: _schedule(email.id))
    return email


def email_record_unrenderable(
    *,
    template_key: str,
    to_address: str,
    subject: str,
    text: str,
    reason: str,
    to_name: str = "",
    user=None,
    document=None,
    dedup_key: str = "",
) -> EmailQueue:
    """Record a mail whose template is missing or does not fit as FAILED, with the reason.

    The other channels (in-app, webhooks) of the same event still go out; the row makes the
    broken template visible in the queue instead of only in a log line.
    """
    dedup_key = _short_dedup_key(dedup_key)
    if dedup_key:
        existing = EmailQueue.objects.filter(dedup_key=dedup_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return EmailQueue.objects.create(
                to_address=to_address,
                to_name=to_name[:255],
                subject=(subject or template_key)[:500],
                text_body=text,
                template=EmailTemplate.objects.filter(key=template_key).first(),
                user=user,
                document=document,
                dedup_key=dedup_key,
                status=EmailQueue.Status.FAILED,
                max_attempts=settings.ABLAGE_EMAIL_MAX_ATTEMPTS,
                last_error=reason,
            )
    except IntegrityError:
        return EmailQueue.objects.get(dedup_key=dedup_key)


def _schedule(email_id) -> None:
    from notifications.tasks import send_email

    send_email.delay(str(email_id))


def _is_permanent(exc: Exception) -> bool:
    """Errors that another attempt would not fix: the server refused this mail or its recipient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError | UnicodeError | ValueError)


def email_send(*, email_id, now: datetime.datetime | None = None) -> str | None:
    """Try to send one queued mail whose attempt is due. Returns its new status, or None if not claimed."""
    now = now or timezone.now()
    # Claim: only one worker moves a due row from queued to sending.
    claimed = EmailQueue.objects.filter(
        id=email_id, status=EmailQueue.Status.QUEUED, next_attempt_at__lte=now, attempts__lt=F("max_attempts")
    ).update(status=EmailQueue.Status.SENDING, attempts=F("attempts") + 1, sending_started_at=now)
    if claimed != 1:
        return None
    email = EmailQueue.objects.get(id=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[f"{email.to_name} <{email.to_address}>" if email.to_name else email.to_address],
        headers={"Message-ID": email.message_id} if email.message_id else None,
    )
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    for attachment in email.attachments:
        with default_storage.open(attachment["key"], "rb") as handle:
            message.attach(attachment["name"], handle.read(), attachment.get("mime_type") or "application/octet-stream")
    try:
        with get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT) as connection:
            connection.send_messages([message])
    except Exception as exc:  # every failure is recorded on the row; which ones are retried is decided below
        return _record_failure(email, exc, now=now)
    EmailQueue.objects.filter(id=email.id, status=EmailQueue.Status.SENDING).update(
        status=EmailQueue.Status.SENT, sent_at=timezone.now(), last_error="", sending_started_at=None
    )
    return EmailQueue.Status.SENT


def _record_failure(email: EmailQueue, exc: Exception, *, now) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if _is_permanent(exc) or email.attempts >= email.max_attempts:
        status, next_attempt_at = EmailQueue.Status.FAILED, email.next_attempt_at
    else:
        status = EmailQueue.Status.QUEUED
        next_attempt_at = now + BACKOFF_BASE * 2 ** (email.attempts - 1)
    EmailQueue.objects.filter(id=email.id, status=EmailQueue.Status.SENDING).update(
        status=status, next_attempt_at=next_attempt_at, last_error=error, sending_started_at=None
    )
    logger.warning("E-mail %s attempt %s failed (%s): %s", email.id, email.attempts, status, error)
    return status


def email_due_ids(*, now=None, limit: int = 200) -> list:
    now = now or timezone.now()
    return list(
        EmailQueue.objects.filter(status=EmailQueue.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


def email_recover_stuck(*, now=None) -> int:
    """Mails left in "sending" by a dead worker go back to the queue (same Message-ID, so no visible duplicate)."""
    now = now or timezone.now()
    return EmailQueue.objects.filter(
        status=EmailQueue.Status.SENDING, sending_started_at__lt=now - SENDING_STUCK_AFTER
    ).update(status=EmailQueue.Status.QUEUED, next_attempt_at=now, sending_started_at=None)


@transaction.atomic
def email_mark_bounced(*, email: EmailQueue, reason: str) -> None:
    changed = EmailQueue.objects.filter(id=email.id, status=EmailQueue.Status.SENT).update(
        status=EmailQueue.Status.BOUNCED, last_error=reason[:2000]
    )
    if changed != 1:
        raise ApplicationError(
            _("Nur gesendete E-Mails können als unzustellbar markiert werden."), code="invalid_status"
        )


@transaction.atomic
def email_retry(*, email: EmailQueue) -> None:
    """A person sends a FAILED mail again (e.g. after fixing the SMTP settings); same Message-ID."""
    changed = EmailQueue.objects.filter(id=email.id, status=EmailQueue.Status.FAILED).update(
        status=EmailQueue.Status.QUEUED, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if changed != 1:
        raise ApplicationError(_("Nur fehlgeschlagene E-Mails können erneut gesendet werden."), code="invalid_status")
    transaction.on_commit(lambda: _schedule(email.id))


# --- digests -----------------------------------------------------------------------------------

Digest = NotificationPreference.Digest


def _digest_due_before(frequency: str, *, user, now: datetime.datetime) -> datetime.datetime | None:
    """Entries created before the returned moment belong into a digest sent now (None: not yet)."""
    from notifications.selectors import user_zone
    from system.selectors import config_get

    local_now = now.astimezone(user_zone(user))
    if frequency == Digest.HOURLY:
        return local_now.replace(minute=0, second=0, microsecond=0)
    digest_hour = config_get("notifications.digest_hour", 8)
    cutoff = local_now.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
    return cutoff if local_now >= cutoff else None


def digest_send_due(*, now=None) -> int:
    """Bundle waiting digest entries into one mail per user and frequency once their period is over."""
    from notifications.selectors import preferences_for, quiet_hours_end_after

    now = now or timezone.now()
    sent = 0
    pairs = (
        DigestEntry.objects.filter(email__isnull=True)
        .values_list("user_id", "frequency")
        .distinct()
        .order_by("user_id", "frequency")
    )
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk({user_id for user_id, _frequency in pairs})
    for user_id, frequency in pairs:
        user = users.get(user_id)
        if user is None or not user.is_active or not user.email:
            continue
        cutoff = _digest_due_before(frequency, user=user, now=now)
        if cutoff is None:
            continue
        with transaction.atomic():
            entries = list(
                DigestEntry.objects.select_for_update(skip_locked=True)
                .filter(user=user, frequency=frequency, email__isnull=True, created_at__lt=cutoff)
                .order_by("created_at")
            )
            if not entries:
                continue
            # Quiet hours of the digest itself: the strictest of the user's e-mail preferences.
            preferences = preferences_for(user)
            send_after = max(
                (
                    quiet_hours_end_after(preferences[(entry.notification_type, "email")], user=user, now=now)
                    for entry in entries
                ),
                default=None,
                key=lambda moment: moment or now,
            )
            email = email_enqueue(
                template_key="daily_digest",
                to_address=user.email,
                to_name=user.get_full_name(),
                user=user,
                context={
                    "user_name": user.get_full_name(),
                    "period": str(Digest(frequency).label),
                    "entries": [
                        {"title": entry.title, "message": entry.message, "url": _absolute(entry.link_url)}
                        for entry in entries
                    ],
                },
                dedup_key=f"digest:{user.id}:{frequency}:{entries[-1].id}",
                send_after=send_after,
            )
            DigestEntry.objects.filter(id__in=[entry.id for entry in entries]).update(email=email)
            sent += 1
    return sent


def _absolute(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL.rstrip("/") + link
