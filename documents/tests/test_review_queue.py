import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ablage.errors import ApplicationError
from documents.models import Document
from documents.review_queue import (
    CLAIM_DURATION,
    review_claim_next,
    review_current_claim,
    review_queue,
    review_queue_refresh_priorities,
    review_release,
)
from system.models import SystemConfig
from system.selectors import config_cache_invalidate

pytestmark = [pytest.mark.django_db]

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _fresh_config():
    # config_get caches for 30 s per process; tests change SystemConfig rows.
    config_cache_invalidate()
    yield
    config_cache_invalidate()


@pytest.fixture
def second_reviewer(django_user_model, reviewer):
    user = django_user_model.objects.create_user("zweite@example.com", "Passwort-12345")
    user.groups.add(Group.objects.get(name="test-reviewers"))
    return user


def make_document(owner, *, title="Rechnung", status=Document.Status.REVIEW, created_at=None, **fields):
    defaults = {
        "document_type": Document.DocumentType.INVOICE,
        "overall_confidence": 0.9,
    }
    return Document.objects.create(
        owner=owner,
        title=title,
        original_filename=f"{title}.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{uuid.uuid4()}.pdf",
        status=status,
        created_at=created_at or NOW,
        **{**defaults, **fields},
    )


# Priority


def test_it_weighs_confidence_sla_line_items_and_amount(owner):
    document = make_document(
        owner,
        created_at=NOW - timedelta(hours=24),  # half of the invoice SLA (48 h) used up
        overall_confidence=0.5,
        line_items=[{"description": f"Pos. {n}"} for n in range(10)],
        total_amount=Decimal("5000.00"),
    )

    assert review_queue_refresh_priorities(now=NOW) == 1

    document.refresh_from_db()
    assert document.review_priority == pytest.approx(0.4 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.1 * 0.5)
    assert document.sla_due_at == NOW + timedelta(hours=24)


def test_it_caps_line_items_and_amount_and_counts_a_missing_confidence_as_zero(owner):
    document = make_document(
        owner,
        overall_confidence=None,
        line_items=[{}] * 45,
        total_amount=Decimal("-250000.00"),  # a Gutschrift weighs by its size
    )

    review_queue_refresh_priorities(now=NOW)

    document.refresh_from_db()
    assert document.review_priority == pytest.approx(0.4 + 0.0 + 0.2 + 0.1)


def test_it_counts_an_overdue_document_as_full_sla_proximity(owner):
    document = make_document(owner, created_at=NOW - timedelta(days=10), overall_confidence=1.0)

    review_queue_refresh_priorities(now=NOW)

    document.refresh_from_db()
    assert document.review_priority == pytest.approx(0.3)


def test_it_takes_the_sla_hours_per_document_type_with_a_default(owner):
    invoice = make_document(owner, document_type=Document.DocumentType.INVOICE)
    letter = make_document(owner, document_type=Document.DocumentType.LETTER)
    SystemConfig.objects.filter(key="review.sla_hours.invoice").update(value=8)

    review_queue_refresh_priorities(now=NOW)

    invoice.refresh_from_db()
    letter.refresh_from_db()
    default_hours = SystemConfig.objects.get(key="review.sla_hours.default").value
    assert invoice.sla_due_at == NOW + timedelta(hours=8)
    assert letter.sla_due_at == NOW + timedelta(hours=default_hours)


def test_it_falls_back_to_48_hours_without_any_sla_config(owner):
    document = make_document(owner)
    SystemConfig.objects.filter(key__startswith="review.sla_hours.").delete()

    review_queue_refresh_priorities(now=NOW)

    document.refresh_from_db()
    assert document.sla_due_at == NOW + timedelta(hours=48)


def test_it_refreshes_only_documents_in_review(owner):
    approved = make_document(owner, status=Document.Status.APPROVED)

    assert review_queue_refresh_priorities(now=NOW) == 0

    approved.refresh_from_db()
    assert approved.review_priority is None


def test_it_orders_the_queue_by_priority_then_age(owner, reviewer):
    low = make_document(owner, title="niedrig", overall_confidence=0.99)
    older_high = make_document(owner, title="alt", overall_confidence=0.1, created_at=NOW - timedelta(minutes=2))
    newer_high = make_document(owner, title="neu", overall_confidence=0.1, created_at=NOW - timedelta(minutes=1))
    make_document(owner, title="fertig", status=Document.Status.APPROVED, overall_confidence=0.0)
    Document.objects.update(review_priority=0.5)
    Document.objects.filter(id=low.id).update(review_priority=0.1)

    titles = [document.title for document in review_queue(reviewer)]

    assert titles == [older_high.title, newer_high.title, low.title]


def test_it_shows_the_queue_only_to_reviewers(owner, outsider):
    make_document(owner)

    assert list(review_queue(owner)) == []
    assert list(review_queue(outsider)) == []


# Claims


@pytest.fixture
def queue_of_three(owner):
    documents = [make_document(owner, title=f"Dok {n}") for n in range(3)]
    for priority, document in zip((0.9, 0.5, 0.1), documents, strict=True):
        Document.objects.filter(id=document.id).update(review_priority=priority)
    return documents


def test_it_claims_the_most_urgent_document(reviewer, queue_of_three):
    claimed = review_claim_next(user=reviewer, now=NOW)

    assert claimed.id == queue_of_three[0].id
    claimed.refresh_from_db()
    assert claimed.claimed_by == reviewer and claimed.claimed_until == NOW + CLAIM_DURATION


def test_it_returns_the_users_current_claim_and_extends_it(reviewer, queue_of_three):
    first = review_claim_next(user=reviewer, now=NOW)
    later = NOW + timedelta(minutes=10)

    again = review_claim_next(user=reviewer, now=later)

    assert again.id == first.id
    assert Document.objects.filter(claimed_by=reviewer).count() == 1
    assert Document.objects.get(id=first.id).claimed_until == later + CLAIM_DURATION


def test_it_gives_a_second_reviewer_the_next_document(reviewer, second_reviewer, queue_of_three):
    review_claim_next(user=reviewer, now=NOW)

    claimed = review_claim_next(user=second_reviewer, now=NOW)

    assert claimed.id == queue_of_three[1].id


def test_it_takes_over_an_expired_claim(reviewer, second_reviewer, queue_of_three):
    review_claim_next(user=reviewer, now=NOW)

    claimed = review_claim_next(user=second_reviewer, now=NOW + CLAIM_DURATION + timedelta(seconds=1))

    assert claimed.id == queue_of_three[0].id
    assert Document.objects.get(id=claimed.id).claimed_by == second_reviewer
    assert review_current_claim(user=reviewer, now=NOW) is None


def test_it_claims_anew_after_the_claimed_document_was_decided(reviewer, queue_of_three):
    first = review_claim_next(user=reviewer, now=NOW)
    Document.objects.filter(id=first.id).update(status=Document.Status.APPROVED)

    second = review_claim_next(user=reviewer, now=NOW)

    assert second.id == queue_of_three[1].id
    assert Document.objects.get(id=first.id).claimed_by is None


def test_it_returns_none_when_nothing_is_left(reviewer, second_reviewer, owner):
    only = make_document(owner)
    review_claim_next(user=second_reviewer, now=NOW)

    assert review_claim_next(user=reviewer, now=NOW) is None
    assert Document.objects.get(id=only.id).claimed_by == second_reviewer


def test_it_claims_nothing_for_a_clerk_without_review_permission(owner, queue_of_three):
    assert review_claim_next(user=owner, now=NOW) is None
    assert not Document.objects.filter(claimed_by__isnull=False).exists()


def test_it_releases_a_claim_back_to_the_queue(reviewer, second_reviewer, queue_of_three):
    claimed = review_claim_next(user=reviewer, now=NOW)

    review_release(document=claimed, user=reviewer)

    assert review_claim_next(user=second_reviewer, now=NOW).id == claimed.id


def test_it_refuses_to_release_someone_elses_claim(reviewer, second_reviewer, queue_of_three):
    claimed = review_claim_next(user=reviewer, now=NOW)

    with pytest.raises(ApplicationError) as refusal:
        review_release(document=claimed, user=second_reviewer)

    assert refusal.value.code == "not_claimed"
    assert Document.objects.get(id=claimed.id).claimed_by == reviewer


def _claim_until_empty(user, barrier, claimed, errors):
    try:
        barrier.wait()
        while (document := review_claim_next(user=user)) is not None:
            claimed.append((user.email, document.id))
            # The clerk decides, which takes the document out of review; then the next one.
            Document.objects.filter(id=document.id).update(status=Document.Status.APPROVED)
    except Exception as error:  # reported to the main thread
        errors.append(error)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections (PostgreSQL)")
def test_it_never_hands_one_document_to_two_concurrent_reviewers(reviewer, second_reviewer, owner):
    for n in range(10):
        make_document(owner, title=f"Dok {n}", overall_confidence=0.5 + n / 100)
    review_queue_refresh_priorities()
    barrier = threading.Barrier(2)
    claimed, errors = [], []
    threads = [
        threading.Thread(target=_claim_until_empty, args=(user, barrier, claimed, errors))
        for user in (reviewer, second_reviewer)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    ids = [document_id for _, document_id in claimed]
    assert len(ids) == len(set(ids)) == 10
    assert not Document.objects.filter(status=Document.Status.REVIEW).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections (PostgreSQL)")
def test_it_gives_one_reviewer_claiming_in_two_tabs_one_document(reviewer, owner):
    for n in range(5):
        make_document(owner, title=f"Dok {n}")
    barrier = threading.Barrier(2)
    claimed, errors = [], []

    def claim_once():
        try:
            barrier.wait()
            claimed.append(review_claim_next(user=reviewer).id)
        except Exception as error:  # reported to the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(claimed) == 2 and claimed[0] == claimed[1]
    assert Document.objects.filter(claimed_by=reviewer).count() == 1


def test_it_keeps_the_claim_another_tab_took_after_the_check(reviewer, owner, monkeypatch):
    # The interleaving behind the two-tab race: tab B checks for a current claim (none yet),
    # tab A claims, then B runs. B must come back with A's document, not release it for another.
    documents = [make_document(owner, title=f"Dok {n}", overall_confidence=0.5 + n / 10) for n in range(3)]
    taken = documents[1]
    Document.objects.filter(id=taken.id).update(claimed_by=reviewer, claimed_until=timezone.now() + CLAIM_DURATION)
    monkeypatch.setattr("documents.review_queue.review_current_claim", _none_on_first_call(review_current_claim))

    claimed = review_claim_next(user=reviewer)

    assert claimed.id == taken.id
    assert list(Document.objects.filter(claimed_by=reviewer).values_list("id", flat=True)) == [taken.id]


def _none_on_first_call(function):
    calls = []

    def wrapper(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else function(**kwargs)

    return wrapper


# Views


def test_it_lists_the_queue_with_sla_badges(client, owner, reviewer):
    make_document(owner, title="Überfällige Rechnung", created_at=timezone.now() - timedelta(days=5))
    make_document(owner, title="Frische Rechnung", created_at=timezone.now() - timedelta(hours=45, minutes=30))
    review_queue_refresh_priorities()
    client.force_login(reviewer)

    body = client.get(reverse("documents:queue")).content.decode()

    assert "Überfällige Rechnung" in body and "Frische Rechnung" in body
    assert body.index("Überfällige Rechnung") < body.index("Frische Rechnung")
    assert "überfällig" in body
    assert "noch 2 h" in body  # 48 h SLA, 45.5 h gone
    assert "Nächstes Dokument" in body


def test_it_refuses_the_queue_to_clerks_without_review_permission(client, owner):
    client.force_login(owner)

    assert client.get(reverse("documents:queue")).status_code == 403
    assert client.post(reverse("documents:queue-claim-next")).status_code == 403


def test_it_opens_the_claimed_document_from_the_next_button(client, reviewer, queue_of_three):
    client.force_login(reviewer)

    response = client.post(reverse("documents:queue-claim-next"))

    assert response.status_code == 302
    assert response["Location"] == reverse("documents:review", args=[queue_of_three[0].id])
    assert Document.objects.get(id=queue_of_three[0].id).claimed_by == reviewer


def test_it_says_so_when_the_queue_is_empty(client, reviewer):
    client.force_login(reviewer)

    response = client.post(reverse("documents:queue-claim-next"), follow=True)

    assert "Keine offenen Dokumente in der Prüfung." in response.content.decode()


def test_it_releases_from_the_queue_page(client, reviewer, queue_of_three):
    claimed = review_claim_next(user=reviewer)
    client.force_login(reviewer)

    assert "Zurückgeben" in client.get(reverse("documents:queue")).content.decode()
    response = client.post(reverse("documents:queue-release", args=[claimed.id]), follow=True)

    assert "ist wieder frei" in response.content.decode()
    assert Document.objects.get(id=claimed.id).claimed_by is None


def test_it_returns_the_queue_table_partial_to_htmx(client, reviewer, queue_of_three):
    client.force_login(reviewer)

    body = client.get(reverse("documents:queue") + "?partial=table", HTTP_HX_REQUEST="true").content.decode()

    assert body.lstrip().startswith('<div id="queue-table"') and "<html" not in body
