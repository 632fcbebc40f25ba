"""The review queue: which document a clerk should look at next, and who is looking at it.

Priority (0..1, higher first) weighs four signals, each normalised to 0..1:

    0.4 × (1 − overall confidence)      unknown confidence counts as 0
    0.3 × SLA proximity                 0 on arrival, 1 at or past the deadline
    0.2 × line items                    min(n, 20) / 20
    0.1 × amount                        min(|total|, 10 000) / 10 000

The deadline is ``created_at`` + ``review.sla_hours.<document type>`` hours (SystemConfig),
falling back to ``review.sla_hours.default`` and then to 48 hours.

Claims are taken without locks (STYLE.md): a guarded ``UPDATE ... WHERE unclaimed or expired``
and the claim counts only when exactly one row changed. A partial unique constraint
(``document_one_claim_per_user``) keeps a clerk to one claim even across two browser tabs.

A claim lasts ``review.claim_minutes`` (SystemConfig, default 15) after the clerk's last
activity: opening the document, a validation round trip or a save extends it. Once it has
expired anybody may take the document over; the periodic refresh also clears such claims.
While a claim is live only its holder (or a superuser) may save, approve or reject.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from documents.models import Document
from documents.selectors import reviewable_documents
from system.selectors import config_get

CLAIM_DURATION = timedelta(minutes=15)
DEFAULT_SLA_HOURS = 48

WEIGHT_CONFIDENCE = 0.4
WEIGHT_SLA = 0.3
WEIGHT_LINE_ITEMS = 0.2
WEIGHT_AMOUNT = 0.1
LINE_ITEMS_CAP = 20
AMOUNT_CAP = Decimal("10000")

# Candidates fetched per round of review_claim_next. A round where every guarded update
# loses means other clerks claimed those documents; the next round's query no longer sees
# them. The cap on rounds bounds the loop even if claims and releases keep racing.
CLAIM_BATCH = 20
CLAIM_MAX_ROUNDS = 10


# --- priority ---------------------------------------------------------------------------


def review_claim_duration() -> timedelta:
    minutes = config_get("review.claim_minutes", default=int(CLAIM_DURATION.total_seconds() // 60))
    if minutes <= 0:
        raise ApplicationError(
            _("Die Bearbeitungssperre muss mindestens eine Minute dauern, ist %(minutes)s.") % {"minutes": minutes},
            code="config_invalid_claim_minutes",
            status_code=500,
        )
    return timedelta(minutes=minutes)


def review_sla_hours(document_type: str) -> int:
    """Hours a document of this type may wait for review."""
    hours = config_get(f"review.sla_hours.{document_type}", default=None)
    if hours is None:
        hours = config_get("review.sla_hours.default", default=DEFAULT_SLA_HOURS)
    if hours <= 0:
        raise ApplicationError(
            _("Prüf-SLA für „%(type)s“ muss mindestens eine Stunde sein, ist %(hours)s.")
            % {"type": document_type, "hours": hours},
            code="config_invalid_sla",
            status_code=500,
        )
    return hours


def review_sla_due_at(document: Document, *, sla_hours: dict | None = None) -> datetime:
    """``sla_hours``: a dict the caller keeps for one pass over many documents, so the
    configuration is read once per document type, not once per document."""
    if sla_hours is None:
        return document.created_at + timedelta(hours=review_sla_hours(document.document_type))
    if document.document_type not in sla_hours:
        sla_hours[document.document_type] = review_sla_hours(document.document_type)
    return document.created_at + timedelta(hours=sla_hours[document.document_type])


def review_sla_proximity(*, created_at: datetime, due_at: datetime, now: datetime) -> float:
    """0 when the document just arrived, rising linearly to 1 at (and past) the deadline."""
    window = (due_at - created_at).total_seconds()
    elapsed = (now - created_at).total_seconds()
    return min(max(elapsed / window, 0.0), 1.0)


def review_priority_score(document: Document, *, due_at: datetime, now: datetime) -> float:
    confidence = document.overall_confidence if document.overall_confidence is not None else 0.0
    line_items = len(document.line_items) if isinstance(document.line_items, list) else 0
    amount = abs(document.total_amount) if document.total_amount is not None else Decimal(0)
    score = (
        WEIGHT_CONFIDENCE * (1.0 - confidence)
        + WEIGHT_SLA * review_sla_proximity(created_at=document.created_at, due_at=due_at, now=now)
        + WEIGHT_LINE_ITEMS * min(line_items, LINE_ITEMS_CAP) / LINE_ITEMS_CAP
        + WEIGHT_AMOUNT * float(min(amount, AMOUNT_CAP) / AMOUNT_CAP)
    )
    return round(score, 6)


def review_queue_refresh_priorities(*, now: datetime | None = None, document_ids=None) -> int:
    """Recompute priority and SLA deadline of every document in review (or of ``document_ids``).

    SLA proximity grows with time, so this runs periodically (``documents.tasks.
    review_queue_refresh``) and for each document as it enters review; any number of times.
    """
    now = now or timezone.now()
    in_review = Document.objects.filter(status=Document.Status.REVIEW)
    if document_ids is not None:
        in_review = in_review.filter(id__in=document_ids)
    documents = list(
        in_review.only("id", "created_at", "document_type", "overall_confidence", "line_items", "total_amount")
    )
    sla_hours: dict = {}
    for document in documents:
        document.sla_due_at = review_sla_due_at(document, sla_hours=sla_hours)
        document.review_priority = review_priority_score(document, due_at=document.sla_due_at, now=now)
    Document.objects.bulk_update(documents, ["review_priority", "sla_due_at"], batch_size=500)
    return len(documents)


# --- selectors --------------------------------------------------------------------------


def review_queue(user) -> QuerySet[Document]:
    """Documents in review the user may decide, most urgent first (not yet scored ones last)."""
    return (
        reviewable_documents(user)
        .filter(status=Document.Status.REVIEW)
        .select_related("claimed_by")
        # The same expression as document_review_priority_idx, so PostgreSQL can read the
        # queue in index order; -1 puts documents not yet scored after every scored one.
        .order_by(Coalesce(F("review_priority"), Value(-1.0)).desc(), "created_at")
    )


def _claimable(now: datetime) -> Q:
    return Q(claimed_by__isnull=True) | Q(claimed_until__lt=now)


def review_current_claim(*, user, now: datetime | None = None) -> Document | None:
    """The document the user holds an unexpired claim on, if it is still in review."""
    now = now or timezone.now()
    return review_queue(user).filter(claimed_by=user, claimed_until__gte=now).first()


# --- services ---------------------------------------------------------------------------


def review_claim_next(*, user, now: datetime | None = None, skip=()) -> Document | None:
    """Claim the most urgent unclaimed (or expired) document of the user's queue.

    A user who already holds an active claim gets that document back with the claim
    extended. ``skip``: ids the clerk just passed over. Returns None when nothing is left.
    """
    now = now or timezone.now()
    until = now + review_claim_duration()
    current = review_current_claim(user=user, now=now)
    if current is not None:
        Document.objects.filter(id=current.id, claimed_by=user).update(claimed_until=until)
        current.claimed_until = until
        return current
    # Whatever the user still holds is expired, no longer in review (approved meanwhile) or
    # out of their queue; it must go before the one-claim-per-user constraint lets a new
    # claim in. A live claim that another tab took since the check above stays: releasing it
    # would let two tabs of one clerk come back with different documents.
    live = review_queue(user).filter(claimed_by=user, claimed_until__gte=now).values("id")
    Document.objects.filter(claimed_by=user).exclude(id__in=live).update(claimed_by=None, claimed_until=None)

    queue = review_queue(user).exclude(id__in=list(skip))
    for _round in range(CLAIM_MAX_ROUNDS):
        candidates = list(queue.filter(_claimable(now)).values_list("id", flat=True)[:CLAIM_BATCH])
        if not candidates:
            return None
        for candidate_id in candidates:
            try:
                with transaction.atomic():
                    # The WHERE clause is re-checked by PostgreSQL after a concurrent update of the
                    # same row commits, so only one of two racing clerks sees a changed row.
                    changed = (
                        Document.objects.filter(id=candidate_id, status=Document.Status.REVIEW)
                        .filter(_claimable(now))
                        .update(claimed_by=user, claimed_until=until)
                    )
            except IntegrityError:
                # The same user claimed something in another request a moment ago.
                current = review_current_claim(user=user, now=now)
                if current is not None:
                    return current
                continue
            if changed == 1:
                return queue.get(id=candidate_id)
    return None


def review_claim_open(*, document: Document, user, now: datetime | None = None) -> bool:
    """Claim the document a reviewer opened, if it is in review and free (or already theirs).

    Opening another document gives up the clerk's previous claim: one document at a time.
    Returns whether the user holds the claim afterwards.
    """
    now = now or timezone.now()
    until = now + review_claim_duration()
    if document.status != Document.Status.REVIEW:
        return False
    mine = Document.objects.filter(id=document.id, claimed_by=user, status=Document.Status.REVIEW)
    if mine.update(claimed_until=until) == 1:
        document.claimed_by, document.claimed_until = user, until
        return True
    try:
        with transaction.atomic():
            Document.objects.filter(claimed_by=user).update(claimed_by=None, claimed_until=None)
            changed = (
                Document.objects.filter(id=document.id, status=Document.Status.REVIEW)
                .filter(_claimable(now))
                .update(claimed_by=user, claimed_until=until)
            )
            if changed != 1:
                # Someone else holds it: merely looking must not cost the clerk their own claim.
                transaction.set_rollback(True)
    except IntegrityError:
        # Another tab of the same clerk claimed something at this very moment.
        return False
    if changed == 1:
        document.claimed_by, document.claimed_until = user, until
    return changed == 1


def review_claim_check(*, document: Document, user, now: datetime | None = None) -> None:
    """Refuse a change while another clerk's claim is live; extend the user's own claim.

    Called inside the review services, so the API and the browser obey the same rule.
    """
    now = now or timezone.now()
    holder = (
        Document.objects.filter(id=document.id, claimed_by__isnull=False, claimed_until__gte=now)
        .select_related("claimed_by")
        .only("claimed_by")
        .first()
    )
    if holder is None or holder.claimed_by_id == user.id:
        if holder is not None:
            Document.objects.filter(id=document.id, claimed_by=user).update(claimed_until=now + review_claim_duration())
        return
    if user.is_superuser:
        return
    raise ApplicationError(
        _("„%(title)s“ wird gerade von %(name)s bearbeitet.") % {"title": document.title, "name": holder.claimed_by},
        code="claimed_by_other",
        status_code=409,
    )


def review_release_expired(*, now: datetime | None = None) -> int:
    """Clear claims whose holder has been inactive past the claim duration; returns how many."""
    now = now or timezone.now()
    return Document.objects.filter(claimed_by__isnull=False, claimed_until__lt=now).update(
        claimed_by=None, claimed_until=None
    )


def review_release(*, document: Document, user) -> None:
    """Give a claimed document back to the queue."""
    released = Document.objects.filter(id=document.id, claimed_by=user).update(claimed_by=None, claimed_until=None)
    if released != 1:
        raise ApplicationError(
            _("Sie bearbeiten „%(title)s“ nicht; es gibt nichts zurückzugeben.") % {"title": document.title},
            code="not_claimed",
            status_code=409,
        )
    document.claimed_by = None
    document.claimed_until = None


# --- presentation helper ----------------------------------------------------------------


@dataclass(frozen=True)
class SlaState:
    overdue: bool
    hours_left: int
    due_at: datetime


def review_sla_state(document: Document, *, now: datetime | None = None, sla_hours: dict | None = None) -> SlaState:
    """Whether the document is past its deadline, and whole hours left otherwise (``sla_hours``:
    see ``review_sla_due_at``)."""
    now = now or timezone.now()
    due_at = document.sla_due_at or review_sla_due_at(document, sla_hours=sla_hours)
    remaining = (due_at - now).total_seconds()
    return SlaState(overdue=remaining <= 0, hours_left=max(int(remaining // 3600), 0), due_at=due_at)
