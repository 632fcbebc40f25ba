"""The main screens run a fixed number of queries, however many documents (and rows on the
page) there are: no query per row. Counts, not timings (``manage.py bench pages`` times them)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from documents import review, services
from documents.models import Document, DocumentNote, DocumentPage, DocumentRelation, JobEvent, ProcessingJob, Tag
from documents.search import search_vector_refresh
from documents.tests.factories import make_document
from suppliers.models import Supplier

pytestmark = [pytest.mark.django_db]

INVOICE_FIELDS = {
    "supplier_name": ("Stadtwerke Musterhausen", "Stadtwerke Musterhausen"),
    "invoice_number": ("RE-1", "RE-1"),
    "total_amount": ("119,00", "119.00"),
}


def _add_documents(owner, count: int, *, start: int) -> None:
    tag, _ = Tag.objects.get_or_create(name="Strom")
    supplier, _ = Supplier.objects.get_or_create(name="Stadtwerke Musterhausen")
    now = timezone.now()
    for n in range(start, start + count):
        status = Document.Status.REVIEW if n % 2 else Document.Status.APPROVED
        document = make_document(
            owner,
            title=f"Rechnung {n}",
            status=status,
            fields=INVOICE_FIELDS,
            supplier=supplier if n % 3 else None,
            document_type=[Document.DocumentType.INVOICE, Document.DocumentType.RECEIPT][n % 2],
            review_priority=0.5 if status == Document.Status.REVIEW else None,
            created_at=now - timedelta(minutes=n),
            total_amount="119.00",
        )
        document.tags.add(tag)
        job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.COMPLETED)
        JobEvent.objects.create(job=job, event_type="completed", message="Bereit zur Prüfung")
    search_vector_refresh(document_ids=Document.objects.values_list("id", flat=True))


def _queries(client, url: str) -> int:
    client.get(url)  # first call: sessions, caches, lazy imports
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def _screens() -> dict[str, str]:
    return {
        "Dokumentliste": reverse("documents:list"),
        "Dokumentliste, gefiltert": reverse("documents:list")
        + "?status=review&document_type=receipt&sort=-total_amount",
        "Prüfwarteschlange": reverse("documents:queue"),
        "Suche": reverse("documents:search") + "?q=Rechnung",
    }


def test_it_runs_the_same_number_of_queries_for_3_and_30_documents(client, owner, reviewer):
    client.force_login(reviewer)
    _add_documents(owner, 3, start=0)
    few = {name: _queries(client, url) for name, url in _screens().items()}

    _add_documents(owner, 27, start=3)
    many = {name: _queries(client, url) for name, url in _screens().items()}

    assert many == few


def _review_details(document, *, reviewer, owner, count: int, start: int) -> None:
    for n in range(start, start + count):
        DocumentPage.objects.create(
            document=document,
            page_number=n + 1,
            image_key=f"pages/{n}.jpg",
            width_px=1000,
            height_px=1400,
            dpi=150,
            text_source="ocr",
            words=[
                {"text": f"Wort{i}", "bbox": [0.1, i / 100, 0.2, (i + 1) / 100], "confidence": 0.9} for i in range(50)
            ],
        )
        DocumentNote.objects.create(document=document, author=reviewer, text=f"Notiz {n}")
        other = make_document(owner, title=f"Lieferschein {n}", status=Document.Status.APPROVED)
        DocumentRelation.objects.create(source=document, target=other, relation_type="delivery_for")
        services.document_update_fields(document=document, user=reviewer, values={"invoice_number": f"RE-{n}"})
        review.document_set_tags(document=document, user=reviewer, names=[f"Tag {n}"])
        job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.COMPLETED)
        JobEvent.objects.create(job=job, event_type="completed", message="Bereit zur Prüfung")


def test_it_renders_the_review_screen_with_a_fixed_number_of_queries(client, owner, reviewer):
    document = make_document(owner, fields=INVOICE_FIELDS)
    client.force_login(reviewer)
    url = reverse("documents:review", args=[document.id])
    _review_details(document, reviewer=reviewer, owner=owner, count=1, start=0)
    few = _queries(client, url)

    _review_details(document, reviewer=reviewer, owner=owner, count=6, start=1)
    many = _queries(client, url)

    assert many == few
