"""Webhooks: endpoints, events, signed deliveries with retries (Standard Webhooks).

Each event becomes one ``WebhookDelivery`` per endpoint (unique per endpoint and event id,
so a producer that emits twice sends once). Headers follow https://www.standardwebhooks.com/:
``webhook-id`` (the delivery's id, the same on every retry), ``webhook-timestamp`` (seconds)
and ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key, "id.timestamp.body")). Every
attempt goes through the SSRF guard of ``ablage.net`` and connects to the checked address.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import http.client
import json
import logging
import random
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage import net
from ablage.errors import ApplicationError
from documents.selectors import visible_documents
from notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

Event = WebhookEndpoint.Event
Scope = WebhookEndpoint.Scope

BACKOFF_BASE = datetime.timedelta(seconds=30)
BACKOFF_MAX = datetime.timedelta(hours=6)
SENDING_STUCK_AFTER = datetime.timedelta(minutes=5)
# Consecutive deliveries given up before the endpoint is switched off (its owner is told in the UI).
DEACTIVATE_AFTER_DEAD = 10
RETRY_STATUSES = {408, 425, 429}

# Which notification type a webhook event belongs to, for the owner's "webhook" channel preference.
EVENT_NOTIFICATION_TYPE = {
    Event.DOCUMENT_PROCESSED: Notification.Type.DOCUMENT_PROCESSED,
    Event.DOCUMENT_REVIEW_REQUIRED: Notification.Type.REVIEW_REQUIRED,
    Event.DOCUMENT_APPROVED: Notification.Type.REVIEW_COMPLETED,
    Event.DOCUMENT_REJECTED: Notification.Type.REVIEW_COMPLETED,
    Event.DOCUMENT_FAILED: Notification.Type.PROCESSING_FAILED,
    Event.WORKFLOW_FAILED: Notification.Type.WORKFLOW_FAILED,
}


# --- endpoints ---------------------------------------------------------------------------------


def _check_events(events) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise ApplicationError(_("Bitte mindestens ein Ereignis auswählen."), code="webhook_events_missing")
    unknown = sorted(set(events) - set(Event.values))
    if unknown:
        raise ApplicationError(
            _("Unbekannte Ereignisse: %(unknown)s.") % {"unknown": ", ".join(map(str, unknown))},
            code="webhook_events_unknown",
        )
    return [event for event in Event.values if event in events]


def _check_scope(*, owner, scope: str, team):
    if scope not in Scope.values:
        raise ApplicationError(_("Unbekannter Umfang."), code="webhook_scope_invalid")
    if scope == Scope.ALL and not (owner.is_superuser or owner.has_perm("accounts.view_all_documents")):
        raise ApplicationError(
            _("Nur wer alle Dokumente sehen darf, kann einen Webhook für alle Dokumente anlegen."),
            code="webhook_scope_forbidden",
        )
    if scope == Scope.TEAM:
        if team is None:
            raise ApplicationError(_("Bitte ein Team auswählen."), code="webhook_team_missing")
        if not (owner.is_superuser or owner.groups.filter(id=team.id).exists()):
            raise ApplicationError(_("Sie gehören diesem Team nicht an."), code="webhook_team_forbidden")
    return team if scope == Scope.TEAM else None


def check_url(url: str, *, guard: net.UrlGuard | None = None) -> str:
    """Save-time SSRF check (the same check runs again before every attempt)."""
    url = (url or "").strip()
    if len(url) > 500:
        raise ApplicationError(_("Die Adresse ist zu lang (höchstens 500 Zeichen)."), code="unsafe_url")
    (guard or net.default_guard()).check(url)
    return url


@transaction.atomic
def endpoint_create(
    *, owner, name: str, url: str, events, scope: str = Scope.OWN, team=None, guard: net.UrlGuard | None = None
) -> WebhookEndpoint:
    name = (name or "").strip()[:100]
    if not name:
        raise ApplicationError(_("Bitte einen Namen angeben."), code="webhook_name_missing")
    url = check_url(url, guard=guard)
    events = _check_events(events)
    team = _check_scope(owner=owner, scope=scope, team=team)
    if WebhookEndpoint.objects.filter(owner=owner, url=url).exists():
        raise ApplicationError(_("Für diese Adresse gibt es schon einen Webhook."), code="webhook_duplicate")
    return WebhookEndpoint.objects.create(owner=owner, name=name, url=url, events=events, scope=scope, team=team)


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    name: str,
    url: str,
    events,
    scope: str,
    team=None,
    is_active: bool,
    guard: net.UrlGuard | None = None,
) -> WebhookEndpoint:
    endpoint.name = (name or "").strip()[:100] or endpoint.name
    endpoint.url = check_url(url, guard=guard)
    endpoint.events = _check_events(events)
    endpoint.team = _check_scope(owner=endpoint.owner, scope=scope, team=team)
    endpoint.scope = scope
    if is_active and not endpoint.is_active:
        endpoint.failure_count = 0
    endpoint.is_active = is_active
    if WebhookEndpoint.objects.filter(owner=endpoint.owner, url=endpoint.url).exclude(id=endpoint.id).exists():
        raise ApplicationError(_("Für diese Adresse gibt es schon einen Webhook."), code="webhook_duplicate")
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, user) -> int:
    """Remove the endpoint with its delivery history; what was still pending is not sent.

    A delivery being sent right now finishes its attempt; its status updates find no row any
    more and change nothing. Returns the number of deliveries removed with it."""
    from monitoring.services import audit_log_record

    deliveries = endpoint.deliveries.count()
    pending = endpoint.deliveries.filter(
        status__in=(WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING)
    ).count()
    audit_log_record(
        actor=user,
        action="webhook.deleted",
        obj=endpoint,
        changes={"name": endpoint.name, "url": endpoint.url, "deliveries": deliveries, "pending": pending},
    )
    endpoint.delete()
    logger.info("Webhook endpoint %s deleted with %s deliveries (%s pending)", endpoint.url, deliveries, pending)
    return deliveries


# --- events ------------------------------------------------------------------------------------


def event_id_for(event: str, occurrence: str) -> uuid.UUID:
    """The same occurrence of an event always gets the same id (a producer retrying emits it once)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"ablage:{event}:{occurrence}")


def document_data(document) -> dict:
    return {
        "id": str(document.id),
        "title": document.title,
        "original_filename": document.original_filename,
        "status": document.status,
        "document_type": document.document_type,
        "document_number": document.document_number,
        "document_date": document.document_date.isoformat() if document.document_date else None,
        "total_amount": str(document.total_amount) if document.total_amount is not None else None,
        "currency": document.currency,
        "overall_confidence": document.overall_confidence,
        "url": f"{settings.SITE_URL.rstrip('/')}/dokumente/{document.id}/",
    }


def _endpoint_hears(endpoint: WebhookEndpoint, event: str, document, preferences_cache: dict) -> bool:
    if event not in endpoint.events:
        return False
    owner = endpoint.owner
    if not owner.is_active:
        return False
    if document is None and not (
        endpoint.scope == Scope.ALL and (owner.is_superuser or owner.has_perm("accounts.view_all_documents"))
    ):
        return False  # an event about no document (a scheduled workflow) is for those who see everything
    if document is not None:
        if endpoint.scope == Scope.OWN and document.owner_id != owner.id:
            return False
        if endpoint.scope == Scope.TEAM and not document.owner.groups.filter(id=endpoint.team_id).exists():
            return False
        # Whatever the scope says, nobody learns about a document they cannot see.
        if not visible_documents(owner).filter(id=document.id).exists():
            return False
    notification_type = EVENT_NOTIFICATION_TYPE.get(event)
    if notification_type is not None:
        if owner.id not in preferences_cache:
            from notifications.selectors import preferences_for

            preferences_cache[owner.id] = preferences_for(owner)
        if not preferences_cache[owner.id][(notification_type, NotificationPreference.Channel.WEBHOOK)].enabled:
            return False
    return True


def event_emit(*, event: str, occurrence: str, document=None, data: dict | None = None) -> list[WebhookDelivery]:
    """Queue ``event`` for every active endpoint that subscribed to it and may see ``document``."""
    event = Event(event)
    event_id = event_id_for(event, occurrence)
    payload = {
        "type": str(event),
        "timestamp": timezone.now().isoformat(),
        "data": {**({"document": document_data(document)} if document is not None else {}), **(data or {})},
    }
    deliveries, preferences_cache = [], {}
    # Filtered in Python: a JSON "contains" lookup does not exist on SQLite (the embedded default).
    for endpoint in WebhookEndpoint.objects.filter(is_active=True).select_related("owner"):
        if not _endpoint_hears(endpoint, event, document, preferences_cache):
            continue
        delivery = _delivery_create(
            endpoint=endpoint, event=event, event_id=event_id, payload=payload, document=document
        )
        if delivery is not None:
            deliveries.append(delivery)
    return deliveries


def callback_emit(*, url: str, event: str, occurrence: str, document, data: dict | None = None):
    """Queue ``event`` for a per-document callback URL (given at upload); same delivery path as endpoints."""
    event = Event(event)
    payload = {
        "type": str(event),
        "timestamp": timezone.now().isoformat(),
        "data": {"document": document_data(document), **(data or {})},
    }
    return _delivery_create(
        endpoint=None,
        callback_url=url,
        event=event,
        event_id=event_id_for(event, occurrence),
        payload=payload,
        document=document,
    )


def delivery_queue(*, event: str, occurrence: str, payload: dict, document=None, endpoint=None, url: str = ""):
    """Queue one delivery to an endpoint (signed) or a checked URL (unsigned), once per occurrence;
    for callers outside this module (workflow steps)."""
    event = Event(event)
    return _delivery_create(
        endpoint=endpoint,
        callback_url="" if endpoint is not None else check_url(url),
        event=event,
        event_id=event_id_for(event, occurrence),
        payload=payload,
        document=document,
    )


def _delivery_create(*, endpoint, event, event_id, payload, document, callback_url: str = ""):
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint,
                callback_url=callback_url,
                event=event,
                event_id=event_id,
                payload=payload,
                document=document,
            )
    except IntegrityError:
        return None  # this occurrence was emitted before: it goes out once
    transaction.on_commit(lambda: _schedule(delivery.id))
    return delivery


def _schedule(delivery_id) -> None:
    from notifications.tasks import deliver_webhook

    deliver_webhook.delay(str(delivery_id))


# --- delivery ----------------------------------------------------------------------------------


def signing_key(secret: str) -> bytes:
    """The HMAC key: base64 after "whsec_" (Standard Webhooks); an older plain secret as its bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            pass
    return secret.encode("utf-8")


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def message_id(delivery: WebhookDelivery) -> str:
    return f"msg_{delivery.id.hex}"


def backoff(attempts: int) -> datetime.timedelta:
    """30 s, 1, 2, 4 ... minutes (capped at 6 h), plus up to half again at random so retries spread out."""
    base = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)
    return base + base * random.uniform(0, 0.5)  # noqa: S311 - jitter, not cryptography


def delivery_attempt(*, delivery_id, now=None, guard: net.UrlGuard | None = None) -> str | None:
    """One attempt of one due delivery. Returns its new status, or None when it was not claimed."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
        attempts__lt=F("max_attempts"),
    ).update(status=WebhookDelivery.Status.SENDING, attempts=F("attempts") + 1, sending_started_at=now)
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(id=delivery_id)
    endpoint = delivery.endpoint
    if endpoint is not None and not endpoint.is_active:
        return _finish(delivery, WebhookDelivery.Status.DEAD, error=_("Der Endpunkt ist deaktiviert."))
    url = endpoint.url if endpoint is not None else delivery.callback_url
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    timestamp = int(now.timestamp())
    headers = {
        "webhook-id": message_id(delivery),
        "webhook-timestamp": str(timestamp),
        "User-Agent": "Ablage-Webhooks/1",
    }
    if endpoint is not None:
        headers["webhook-signature"] = sign(
            secret=endpoint.secret, message_id=headers["webhook-id"], timestamp=timestamp, body=body
        )
    try:
        response = net.post_json(
            url, body, headers=headers, timeout=settings.ABLAGE_WEBHOOK_TIMEOUT_SECONDS, guard=guard
        )
    except net.UnsafeURL as refusal:
        return _finish(delivery, WebhookDelivery.Status.DEAD, error=refusal.message)
    except (OSError, http.client.HTTPException) as exc:
        error = _("Zeitüberschreitung") if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return _retry_or_give_up(delivery, error=str(error), now=now)
    excerpt = response.body[: WebhookDelivery.RESPONSE_BODY_EXCERPT_LENGTH].decode("utf-8", "replace")
    if 200 <= response.status < 300:
        return _finish(delivery, WebhookDelivery.Status.DELIVERED, status_code=response.status, body=excerpt)
    if response.status >= 500 or response.status in RETRY_STATUSES:
        return _retry_or_give_up(
            delivery, error=f"HTTP {response.status}", now=now, status_code=response.status, body=excerpt
        )
    if 300 <= response.status < 400:
        error = _("Weiterleitung nach „%(location)s“ wird nicht verfolgt.") % {"location": response.location[:300]}
    else:
        error = f"HTTP {response.status}"
    return _finish(delivery, WebhookDelivery.Status.DEAD, error=error, status_code=response.status, body=excerpt)


def _retry_or_give_up(delivery, *, error: str, now, status_code=None, body: str = "") -> str:
    if delivery.attempts >= delivery.max_attempts:
        return _finish(delivery, WebhookDelivery.Status.DEAD, error=error, status_code=status_code, body=body)
    WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.SENDING).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now + backoff(delivery.attempts),
        last_error=error[:2000],
        response_status=status_code,
        response_body=body,
        sending_started_at=None,
    )
    logger.info("Webhook delivery %s attempt %s failed, retrying: %s", delivery.id, delivery.attempts, error)
    return WebhookDelivery.Status.PENDING


def _finish(delivery, status: str, *, error: str = "", status_code=None, body: str = "") -> str:
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.SENDING).update(
            status=status,
            last_error=error[:2000],
            response_status=status_code,
            response_body=body,
            delivered_at=now if status == WebhookDelivery.Status.DELIVERED else None,
            sending_started_at=None,
        )
        if delivery.endpoint_id is not None:
            endpoints = WebhookEndpoint.objects.filter(id=delivery.endpoint_id)
            if status == WebhookDelivery.Status.DELIVERED:
                endpoints.update(failure_count=0, last_success_at=now)
            else:
                endpoints.update(failure_count=F("failure_count") + 1, last_failure_at=now)
                endpoints.filter(failure_count__gte=DEACTIVATE_AFTER_DEAD).update(is_active=False)
    if status == WebhookDelivery.Status.DEAD:
        logger.warning("Webhook delivery %s given up after %s attempts: %s", delivery.id, delivery.attempts, error)
    return status


def delivery_due_ids(*, now=None, limit: int = 200) -> list:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


def delivery_recover_stuck(*, now=None) -> int:
    now = now or timezone.now()
    return WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, sending_started_at__lt=now - SENDING_STUCK_AFTER
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now, sending_started_at=None)


@transaction.atomic
def delivery_resend(*, delivery: WebhookDelivery) -> None:
    """Send a delivery that was given up once more: same ``webhook-id``, attempts start again."""
    changed = WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.DEAD).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if changed != 1:
        raise ApplicationError(
            _("Nur aufgegebene Zustellungen können erneut gesendet werden."), code="invalid_status", status_code=409
        )
    transaction.on_commit(lambda: _schedule(delivery.id))
