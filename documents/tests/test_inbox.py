import csv
import io
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from documents import bulk
from documents.models import Document, SavedView, Tag
from documents.tests.factories import make_document
from monitoring.models import AuditLog

pytestmark = [pytest.mark.django_db]


def _rows(client, query=""):
    body = client.get(reverse("documents:list") + query).content.decode()
    return body


# Filters, sort, pagination


@pytest.mark.embedded
def test_it_filters_by_type_amount_date_confidence_and_tag(client, reviewer, owner):
    tag = Tag.objects.create(name="Strom")
    match = make_document(
        owner,
        title="Treffer",
        document_type="invoice",
        total_amount=Decimal("1234.56"),
        document_date=date(2026, 3, 5),
        overall_confidence=0.5,
    )
    match.tags.add(tag)
    others = [
        make_document(owner, title="Gutschrift", document_type="credit_note", total_amount=Decimal("1234.56")),
        make_document(owner, title="Zu teuer", total_amount=Decimal("5000"), document_date=date(2026, 3, 5)),
        make_document(owner, title="Zu alt", total_amount=Decimal("1000"), document_date=date(2025, 1, 1)),
        make_document(owner, title="Sicher", total_amount=Decimal("1000"), document_date=date(2026, 3, 5)),
    ]
    client.force_login(reviewer)

    body = _rows(
        client,
        f"?document_type=invoice&amount_min=1.000,00&amount_max=2.000&date_from=2026-03-01&date_to=2026-03-31"
        f"&confidence=low&tag={tag.id}",
    )

    assert f"doc-{match.id}" in body
    assert not any(f"doc-{other.id}" in body for other in others)


def test_it_shows_a_clear_error_for_an_unreadable_amount_and_ignores_that_filter(client, reviewer, owner):
    document = make_document(owner, total_amount=Decimal("10"))
    client.force_login(reviewer)

    body = _rows(client, "?amount_min=zehn")

    assert "Kein gültiger Betrag" in body and f"doc-{document.id}" in body


def test_it_filters_documents_assigned_to_me(client, reviewer, owner):
    mine = make_document(owner, title="Meins", assigned_to=reviewer)
    other = make_document(owner, title="Fremd")
    client.force_login(reviewer)

    body = _rows(client, "?mine=on")

    assert f"doc-{mine.id}" in body and f"doc-{other.id}" not in body


def test_it_sorts_by_amount_with_empty_amounts_last(client, reviewer, owner):
    small = make_document(owner, title="Klein", total_amount=Decimal("5"))
    empty = make_document(owner, title="Ohne")
    large = make_document(owner, title="Groß", total_amount=Decimal("500"))
    client.force_login(reviewer)

    body = _rows(client, "?sort=-total_amount")

    positions = [body.index(f"doc-{document.id}") for document in (large, small, empty)]
    assert positions == sorted(positions)


def test_it_keeps_the_filters_in_the_pagination_links(client, reviewer, owner):
    for number in range(27):
        make_document(owner, title=f"Beleg {number}", status=Document.Status.APPROVED)
    client.force_login(reviewer)

    body = _rows(client, "?status=approved&per_page=25")

    assert "status=approved&amp;per_page=25&amp;page=2" in body
    assert "Seite 1 von 2" in body


# Saved views


def test_it_saves_a_view_per_user_and_hides_it_from_others(client, reviewer, owner):
    client.force_login(reviewer)
    client.post(reverse("documents:saved-view-create"), {"name": "Offene", "query": "status=review&bogus=1"})

    view = SavedView.objects.get(user=reviewer)
    assert view.name == "Offene" and view.query == "status=review"
    assert "Offene" in _rows(client)

    client.force_login(owner)
    assert "Offene" not in _rows(client)
    response = client.post(reverse("documents:saved-view-delete", args=[view.id]))
    assert response.status_code == 404 and SavedView.objects.filter(id=view.id).exists()


# Bulk actions


def test_it_tags_assigns_and_sets_the_type_of_the_selection(client, reviewer, owner):
    first, second = make_document(owner, title="A"), make_document(owner, title="B")
    client.force_login(reviewer)
    ids = [str(first.id), str(second.id)]

    client.post(reverse("documents:bulk"), {"ids": ids, "action": "tag", "tag": "Strom, Q1"})
    client.post(reverse("documents:bulk"), {"ids": ids, "action": "assign", "assignee": str(reviewer.id)})
    client.post(reverse("documents:bulk"), {"ids": ids, "action": "set_type", "document_type": "receipt"})

    for document in (first, second):
        document.refresh_from_db()
        assert sorted(document.tags.values_list("name", flat=True)) == ["Q1", "Strom"]
        assert document.assigned_to == reviewer
        assert document.document_type == "receipt" and document.document_type_locked
    assert AuditLog.objects.filter(action="document.assigned", actor=reviewer).count() == 2


def test_it_refuses_a_selection_with_a_foreign_id_without_changing_anything(owner, outsider, django_user_model):
    from django.contrib.auth.models import Permission

    mine = make_document(owner, title="Meins")
    foreign = make_document(outsider, title="Fremd")
    owner.user_permissions.add(Permission.objects.get(codename="review_document"))
    owner = django_user_model.objects.get(id=owner.id)  # fresh permission cache

    for action in (
        lambda ids: bulk.document_bulk_tag(user=owner, ids=ids, tag_names=["X"]),
        lambda ids: bulk.document_bulk_set_type(user=owner, ids=ids, document_type="receipt"),
        lambda ids: bulk.document_bulk_reprocess(user=owner, ids=ids),
        lambda ids: bulk.document_bulk_approve_valid(user=owner, ids=ids),
        lambda ids: bulk.documents_export_csv(user=owner, ids=ids),
    ):
        with pytest.raises(bulk.ApplicationError) as refusal:
            action([str(mine.id), str(foreign.id)])
        assert refusal.value.status_code == 404

    mine.refresh_from_db()
    assert mine.tags.count() == 0 and mine.document_type == "invoice" and mine.status == Document.Status.REVIEW
    assert not Tag.objects.filter(name="X").exists()


def test_it_refuses_a_malformed_id(reviewer):
    with pytest.raises(bulk.ApplicationError, match="Ungültige Dokumentauswahl"):
        bulk.document_bulk_tag(user=reviewer, ids=["nicht-eine-uuid"], tag_names=["X"])


def test_it_does_not_partly_set_a_type_when_one_document_cannot_take_it(reviewer, owner):
    editable = make_document(owner, title="In Prüfung")
    busy = make_document(owner, title="Läuft", status=Document.Status.PROCESSING)

    with pytest.raises(bulk.ApplicationError):
        bulk.document_bulk_set_type(user=reviewer, ids=[editable.id, busy.id], document_type="receipt")

    editable.refresh_from_db()
    assert editable.document_type == "invoice"


def test_it_approves_only_the_valid_documents_and_says_why_the_rest_stayed(client, reviewer, owner):
    valid = make_document(owner, title="Gültig", validation=[{"rule": "amounts_sum", "ok": True, "message": "ok"}])
    invalid = make_document(
        owner, title="Ungültig", validation=[{"rule": "amounts_sum", "ok": False, "message": "Summe falsch"}]
    )
    client.force_login(reviewer)

    response = client.post(
        reverse("documents:bulk"), {"ids": [valid.id, invalid.id], "action": "approve_valid"}, follow=True
    )

    valid.refresh_from_db(), invalid.refresh_from_db()
    assert valid.status == Document.Status.APPROVED and invalid.status == Document.Status.REVIEW
    assert "„Ungültig“ übersprungen: Summe falsch" in response.content.decode()


def test_it_exports_the_selection_as_csv_and_defuses_formulas(client, owner):
    document = make_document(owner, title="=HYPERLINK(1)", total_amount=Decimal("12.50"))
    client.force_login(owner)

    response = client.post(reverse("documents:bulk"), {"ids": [document.id], "action": "export"})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][1] == "'=HYPERLINK(1)" and rows[1][8] == "12,50"


def test_it_does_not_let_a_clerk_without_review_right_change_documents(client, owner):
    document = make_document(owner)
    client.force_login(owner)

    response = client.post(reverse("documents:bulk"), {"ids": [document.id], "action": "tag", "tag": "X"}, follow=True)

    assert "nicht (mehr) verfügbar" in response.content.decode()
    assert document.tags.count() == 0


def test_it_refuses_to_assign_to_someone_who_cannot_review(reviewer, owner):
    document = make_document(owner)

    with pytest.raises(bulk.ApplicationError, match="darf keine Dokumente prüfen"):
        bulk.document_bulk_assign(user=reviewer, ids=[document.id], assignee_id=str(owner.id))
    with pytest.raises(bulk.ApplicationError, match="Unbekannte"):
        bulk.document_bulk_assign(user=reviewer, ids=[document.id], assignee_id=str(uuid.uuid4()))
