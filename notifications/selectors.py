"""Reads: a user's notifications, effective preferences, and who may hear about a document."""

import datetime
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.selectors import users_with_permission
from documents.selectors import visible_documents
from notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint

Type = Notification.Type
Channel = NotificationPreference.Channel
Digest = NotificationPreference.Digest

# The kinds a person can switch on and off on the settings page (system alerts are not optional).
USER_TYPES = (
    Type.DOCUMENT_PROCESSED,
    Type.REVIEW_REQUIRED,
    Type.REVIEW_COMPLETED,
    Type.DOCUMENT_REJECTED,
    Type.PROCESSING_FAILED,
    Type.WORKFLOW_FAILED,
)


@dataclass(frozen=True)
class EffectivePreference:
    """A preference row, or the default for a (type, channel) without one."""

    enabled: bool
    digest: str = Digest.NONE
    quiet_hours_start: datetime.time | None = None
    quiet_hours_end: datetime.time | None = None
    confidence_below: float | None = None
    only_failures: bool = False

    def is_quiet_at(self, local_time: datetime.time) -> bool:
        return NotificationPreference(
            quiet_hours_start=self.quiet_hours_start, quiet_hours_end=self.quiet_hours_end
        ).is_quiet_at(local_time)


# Defaults: everything in the app; e-mail for what needs someone to act (review, failures) and,
# for the uploader, only rejected reviews; webhooks follow the endpoints' event selection.
_EMAIL_ON = {Type.REVIEW_REQUIRED, Type.PROCESSING_FAILED, Type.DOCUMENT_REJECTED, Type.WORKFLOW_FAILED}


def default_preference(notification_type: str, channel: str) -> EffectivePreference:
    if channel == Channel.EMAIL:
        if notification_type == Type.REVIEW_COMPLETED:
            return EffectivePreference(enabled=True, only_failures=True)
        return EffectivePreference(enabled=notification_type in _EMAIL_ON)
    return EffectivePreference(enabled=True)


def preferences_for(user) -> dict[tuple[str, str], EffectivePreference]:
    """Every (type, channel) of ``user`` with its effective preference."""
    rows = {(row.notification_type, row.channel): row for row in NotificationPreference.objects.filter(user=user)}
    result = {}
    for notification_type in Type.values:
        for channel in Channel.values:
            row = rows.get((notification_type, channel))
            if row is None:
                result[(notification_type, channel)] = default_preference(notification_type, channel)
            else:
                result[(notification_type, channel)] = EffectivePreference(
                    enabled=row.enabled,
                    digest=row.digest,
                    quiet_hours_start=row.quiet_hours_start,
                    quiet_hours_end=row.quiet_hours_end,
                    confidence_below=row.confidence_below,
                    only_failures=row.only_failures,
                )
    return result


def user_zone(user) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.timezone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def quiet_hours_end_after(preference: EffectivePreference, *, user, now: datetime.datetime) -> datetime.datetime | None:
    """When ``now`` falls into the user's quiet hours: the moment they end; otherwise None."""
    local_now = now.astimezone(user_zone(user))
    if not preference.is_quiet_at(local_now.time().replace(tzinfo=None)):
        return None
    end = preference.quiet_hours_end
    candidate = local_now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate += datetime.timedelta(days=1)
    # zoneinfo computes the offset from the wall-clock time, so a DST change in between is handled.
    return candidate


def reviewers() -> QuerySet:
    """Active users who may review documents (directly, through a group, or as superuser)."""
    return users_with_permission("documents.review_document")


def document_audience(document, *, owner: bool = True, review_staff: bool = False) -> list:
    """The people who may hear about ``document``: each one must be able to see it."""
    candidates = []
    if owner:
        candidates.append(document.owner)
    if review_staff:
        candidates.extend(reviewers().order_by("email"))
    audience, seen = [], set()
    for user in candidates:
        if user.id in seen or not user.is_active:
            continue
        seen.add(user.id)
        if visible_documents(user).filter(id=document.id).exists():
            audience.append(user)
    return audience


def notifications_for(user, *, now=None) -> QuerySet[Notification]:
    """The user's notifications that have not expired, newest first."""
    now = now or timezone.now()
    return (
        Notification.objects.filter(user=user)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("document")
        .order_by("-created_at")
    )


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return notifications_for(user).filter(read_at__isnull=True).count()


def webhook_endpoints_for(user) -> QuerySet[WebhookEndpoint]:
    """The user's own webhook endpoints (everyone's for staff)."""
    endpoints = WebhookEndpoint.objects.select_related("owner", "team")
    if user.is_staff or user.is_superuser:
        return endpoints
    return endpoints.filter(owner=user)


def deliveries_for(user) -> QuerySet[WebhookDelivery]:
    """Deliveries of the user's own endpoints (everyone's for staff)."""
    deliveries = WebhookDelivery.objects.select_related("endpoint", "document")
    if user.is_staff or user.is_superuser:
        return deliveries
    return deliveries.filter(endpoint__owner=user)
