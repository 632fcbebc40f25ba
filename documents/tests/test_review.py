from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from ablage.errors import ApplicationError
from documents import review, services
from documents.models import Document, DocumentPage, DocumentRelation, ProcessingJob
from documents.review_queue import review_claim_open, review_release_expired
from documents.selectors import document_etag
from documents.tests.factories import make_document
from extraction.models import TrainingData
from monitoring.models import AuditLog
from system.models import SystemConfig
from system.selectors import config_cache_invalidate

pytestmark = [pytest.mark.django_db]

AMOUNTS = {
    "net_amount": ("100,00", "100.00"),
    "vat_amount": ("19,00", "19.00"),
    "total_amount": ("119,00", "119.00"),
}


@pytest.fixture(autouse=True)
def _fresh_config():
    config_cache_invalidate()
    yield
    config_cache_invalidate()


@pytest.fixture
def second_reviewer(django_user_model, reviewer):
    user = django_user_model.objects.create_user("zweite@example.com", "Passwort-12345", display_name="Zoe Zweite")
    user.groups.add(Group.objects.get(name="test-reviewers"))
    return user


# Claims


def test_it_claims_the_document_a_reviewer_opens_and_shows_it_locked_to_the_next(
    client, reviewer, second_reviewer, owner
):
    document = make_document(owner)
    client.force_login(reviewer)
    client.get(reverse("documents:review", args=[document.id]))
    document.refresh_from_db()
    assert document.claimed_by == reviewer

    client.force_login(second_reviewer)
    body = client.get(reverse("documents:review", args=[document.id])).content.decode()

    assert "Rita Reviewer bearbeitet dieses Dokument" in body
    assert 'value="approve"' not in body


def test_it_refuses_a_decision_by_anyone_but_the_claimant(reviewer, second_reviewer, owner):
    document = make_document(owner)
    assert review_claim_open(document=document, user=reviewer)

    with pytest.raises(ApplicationError) as refusal:
        services.document_approve(document=document, user=second_reviewer)
    assert refusal.value.code == "claimed_by_other" and refusal.value.status_code == 409
    with pytest.raises(ApplicationError):
        services.document_update_fields(document=document, user=second_reviewer, values={"invoice_number": "X"})
    with pytest.raises(ApplicationError):
        services.document_reject(document=document, user=second_reviewer, reason="nein")

    services.document_approve(document=document, user=reviewer)
    document.refresh_from_db()
    assert document.status == Document.Status.APPROVED and document.claimed_by is None


def test_it_lets_an_admin_decide_over_a_claim(reviewer, django_user_model, owner):
    admin = django_user_model.objects.create_superuser("admin@example.com", "Passwort-12345")
    document = make_document(owner)
    review_claim_open(document=document, user=reviewer)

    services.document_reject(document=document, user=admin, reason="Dublette")

    document.refresh_from_db()
    assert document.status == Document.Status.REJECTED


def test_it_lets_a_claim_expire_after_the_configured_inactivity(reviewer, second_reviewer, owner):
    SystemConfig.objects.update_or_create(
        key="review.claim_minutes", defaults={"value": 5, "value_type": SystemConfig.ValueType.INT}
    )
    document = make_document(owner)
    start = timezone.now()
    review_claim_open(document=document, user=reviewer, now=start)
    document.refresh_from_db()
    assert document.claimed_until == start + timedelta(minutes=5)

    assert review_release_expired(now=start + timedelta(minutes=4)) == 0
    assert review_release_expired(now=start + timedelta(minutes=6)) == 1
    document.refresh_from_db()
    assert document.claimed_by is None
    services.document_approve(document=document, user=second_reviewer)


def test_it_extends_the_claim_on_each_validation_round_trip(client, reviewer, owner):
    document = make_document(owner)
    client.force_login(reviewer)
    client.get(reverse("documents:review", args=[document.id]))
    Document.objects.filter(id=document.id).update(claimed_until=timezone.now() + timedelta(seconds=30))

    client.post(reverse("documents:review-validate", args=[document.id]), {"field_invoice_number": "R-1"})

    document.refresh_from_db()
    assert document.claimed_until > timezone.now() + timedelta(minutes=10)


# Corrections


def test_it_records_a_correction_as_audit_and_training_data(reviewer, owner):
    document = make_document(owner, fields={"total_amount": ("119,00", "119.00")})

    services.document_update_fields(document=document, user=reviewer, values={"total_amount": "1.190,00"})

    example = TrainingData.objects.get(document=document, field_name="total_amount")
    assert (example.expected_value, example.extracted_value, example.was_correct) == ("1190.00", "119.00", False)
    assert example.validated_by == reviewer and example.extraction_method == "test"
    entry = AuditLog.objects.get(action="document.fields_corrected", object_id=str(document.id))
    assert entry.changes == {"total_amount": {"from": "119,00", "to": "1.190,00"}}
    field = document.fields.get(name="total_amount")
    assert field.locked and field.normalized_value == "1190.00"


def test_it_saves_the_edited_line_items_and_refuses_a_non_number(client, reviewer, owner):
    document = make_document(owner, line_items=[{"position": "1", "description": "Alt", "line_total": "10.00"}])
    client.force_login(reviewer)
    url = reverse("documents:review-submit", args=[document.id])

    client.post(
        url,
        {
            "action": "save",
            "etag": document_etag(document),
            "line_items": "2",
            "line_0_position": "1",
            "line_0_description": "Beratung",
            "line_0_quantity": "2,5",
            "line_0_unit_price": "1.000,00",
            "line_0_line_total": "2.500,00",
        },
    )
    document.refresh_from_db()
    assert document.line_items == [
        {
            "position": "1",
            "description": "Beratung",
            "quantity": "2.5",
            "unit": "",
            "unit_price": "1000.00",
            "vat_rate": "",
            "line_total": "2500.00",
        }
    ]

    response = client.post(
        url, {"action": "save", "etag": document_etag(document), "line_items": "1", "line_0_line_total": "viel"}
    )
    assert response.status_code == 400 and "„viel“ ist keine Zahl" in response.content.decode()


# Optimistic concurrency: a save based on an older version is refused


def test_it_refuses_a_write_based_on_a_stale_version_and_names_what_changed(reviewer, owner):
    document = make_document(owner, fields={"invoice_number": ("RE-1", "RE-1")})
    seen_in_first_tab = document_etag(document)
    with transaction.atomic():
        review.document_lock_unchanged(document=document, etag=seen_in_first_tab)
        services.document_update_fields(document=document, user=reviewer, values={"invoice_number": "RE-2"})

    with pytest.raises(ApplicationError) as refusal, transaction.atomic():
        review.document_lock_unchanged(document=document, etag=seen_in_first_tab)

    assert refusal.value.status_code == 412 and refusal.value.code == "precondition_failed"
    [change] = refusal.value.extra["changes"]
    assert change.startswith("Rita Reviewer um ") and change.endswith("Rechnungsnummer „RE-1“ → „RE-2“")
    assert refusal.value.extra["etag"] == document_etag(document)
    with transaction.atomic():
        assert review.document_lock_unchanged(document=document, etag=refusal.value.extra["etag"]).id == document.id
        assert review.document_lock_unchanged(document=document, etag="*").id == document.id


def test_it_notices_unaudited_changes_by_the_pipeline(reviewer, owner):
    document = make_document(owner, fields={"invoice_number": ("RE-1", "RE-1")})
    etag = document_etag(document)
    document.fields.filter(name="invoice_number").update(value="RE-9", normalized_value="RE-9")

    with pytest.raises(ApplicationError) as refusal, transaction.atomic():
        review.document_lock_unchanged(document=document, etag=etag)

    assert refusal.value.extra["changes"] == ["Das Dokument wurde durch die Verarbeitung geändert."]


def test_it_counts_line_items_and_type_as_part_of_the_version(reviewer, owner):
    document = make_document(owner)
    etag = document_etag(document)
    review.document_update_line_items(document=document, user=reviewer, items=[{"description": "Neu"}])
    after_items = document_etag(document)
    review.document_set_type(document=document, user=reviewer, document_type=Document.DocumentType.RECEIPT)

    assert len({etag, after_items, document_etag(document)}) == 3
    with pytest.raises(ApplicationError) as refusal, transaction.atomic():
        review.document_lock_unchanged(document=document, etag=etag)
    assert [line.split(": ", 1)[1] for line in refusal.value.extra["changes"]] == [
        "Positionen geändert",
        "Dokumenttyp Rechnung → Quittung / Beleg",
    ]


def test_it_requires_the_version_a_write_is_based_on(owner):
    document = make_document(owner)

    with pytest.raises(ApplicationError) as refusal, transaction.atomic():
        review.document_lock_unchanged(document=document, etag="")

    assert refusal.value.status_code == 428


def test_it_keeps_the_clerks_input_when_the_review_form_is_stale(client, reviewer, owner):
    document = make_document(owner, fields={"invoice_number": ("RE-1", "RE-1")})
    client.force_login(reviewer)
    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    etag = document_etag(document)
    assert f'name="etag" value="{escape(etag)}"' in page
    # Meanwhile the same clerk, in a second tab, corrects the number.
    services.document_update_fields(document=document, user=reviewer, values={"invoice_number": "RE-2"})
    url = reverse("documents:review-submit", args=[document.id])

    stale = client.post(
        url,
        {"action": "approve", "etag": etag, "field_invoice_number": "RE-1", "field_due_date": "31.12.2026"},
    )

    body = stale.content.decode()
    assert stale.status_code == 409
    assert "Das Dokument wurde geändert, seit Sie es geöffnet haben" in body
    assert "Rechnungsnummer „RE-1“ → „RE-2“" in body
    assert 'value="31.12.2026"' in body  # the clerk's input is still in the form
    assert 'id="field_invoice_number" value="RE-2"' in body  # the stale value it merely showed is not
    document.refresh_from_db()
    assert document.status == Document.Status.REVIEW
    assert not document.fields.filter(name="due_date").exists()
    assert f'name="etag" value="{escape(document_etag(document))}"' in body

    saved = client.post(url, {"action": "save", "etag": document_etag(document), "field_due_date": "31.12.2026"})
    assert saved.status_code == 302
    assert document.fields.get(name="due_date").normalized_value == "2026-12-31"
    assert client.post(url, {"action": "save", "field_due_date": "1.1.2027"}).status_code == 409


# Inline validation


def test_it_reports_the_sum_mismatch_while_typing_and_clears_it_when_fixed(client, reviewer, owner):
    document = make_document(owner, fields=AMOUNTS)
    client.force_login(reviewer)
    url = reverse("documents:review-validate", args=[document.id])

    wrong = client.post(url, {"field_total_amount": "119,50"}).content.decode()
    right = client.post(url, {"field_total_amount": "119,00"}).content.decode()

    assert "Netto + USt ≠ Brutto (Differenz 0,50 €)" in wrong
    assert 'data-fields="net_amount vat_amount total_amount"' in wrong
    assert "≠" not in right and "Netto + USt ergibt den Gesamtbetrag." in right


def test_it_names_a_field_that_cannot_be_read(client, reviewer, owner):
    document = make_document(owner)
    client.force_login(reviewer)

    body = client.post(
        reverse("documents:review-validate", args=[document.id]), {"field_invoice_date": "31.02.2026"}
    ).content.decode()

    assert 'data-fields="invoice_date"' in body and "Rechnungsdatum: Kein gültiges Datum" in body


def test_it_does_not_validate_a_foreign_document(client, outsider, owner):
    document = make_document(owner)
    client.force_login(outsider)

    assert client.post(reverse("documents:review-validate", args=[document.id])).status_code == 404


# Side actions


def test_it_sets_type_tags_notes_and_relations_from_the_review_screen(client, reviewer, owner):
    document = make_document(owner)
    invoice = make_document(owner, title="Rechnung 7", document_number="RE-7", status=Document.Status.APPROVED)
    client.force_login(reviewer)

    client.post(
        reverse("documents:review-type", args=[document.id]),
        {"document_type": "credit_note", "etag": document_etag(document)},
    )
    client.post(
        reverse("documents:review-tags", args=[document.id]),
        {"tags": "Strom, strom, 2026", "etag": document_etag(document)},
    )
    client.post(reverse("documents:review-note", args=[document.id]), {"note": "<b>Rückfrage</b> beim Lieferanten"})
    client.post(
        reverse("documents:review-relation", args=[document.id]),
        {"relation_type": "credit_note_for", "target": "RE-7"},
    )

    document.refresh_from_db()
    assert document.document_type == "credit_note" and document.document_type_locked
    assert sorted(document.tags.values_list("name", flat=True)) == ["2026", "Strom"]
    assert DocumentRelation.objects.filter(source=document, target=invoice, relation_type="credit_note_for").exists()
    body = client.get(reverse("documents:review", args=[document.id])).content.decode()
    assert "&lt;b&gt;Rückfrage&lt;/b&gt;" in body and "Gutschrift zu" in body and "Rechnung 7" in body
    assert "document.type_set" in body  # the history's audit table


def test_it_refuses_a_side_action_from_a_stale_page_and_keeps_the_colleagues_change(
    client, reviewer, owner, django_user_model
):
    from django.contrib.auth.models import Permission

    from suppliers.models import Supplier

    document = make_document(owner)
    colleague = django_user_model.objects.create_user("kollegin@example.com", "pw-kollegin-123")
    colleague.user_permissions.add(Permission.objects.get(codename="review_document"))
    supplier = Supplier.objects.create(name="Stadtwerke Musterhausen")
    client.force_login(reviewer)
    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    seen = document_etag(document)
    assert f'name="etag" value="{escape(seen)}"' in page
    # The colleague tags the document after this clerk opened it.
    review.document_set_tags(document=document, user=colleague, names=["Strom"])

    stale = [
        ("documents:review-tags", {"tags": "Wasser"}),
        ("documents:review-type", {"document_type": "credit_note"}),
        ("documents:review-supplier", {"supplier": str(supplier.id)}),
    ]
    for name, data in stale:
        response = client.post(reverse(name, args=[document.id]), {**data, "etag": seen})
        assert response.status_code == 409, name
        assert "kollegin@example.com" in response.content.decode()  # what changed, and by whom

    document.refresh_from_db()
    assert list(document.tags.values_list("name", flat=True)) == ["Strom"]
    assert document.document_type == "invoice" and document.supplier_id is None
    # Reloaded, the page's current tag lets the same change through.
    response = client.post(
        reverse("documents:review-tags", args=[document.id]), {"tags": "Strom, Wasser", "etag": document_etag(document)}
    )
    assert response.status_code == 302
    assert sorted(document.tags.values_list("name", flat=True)) == ["Strom", "Wasser"]


def test_it_refuses_a_side_action_without_a_version_but_takes_notes(client, reviewer, owner):
    document = make_document(owner)
    client.force_login(reviewer)

    response = client.post(reverse("documents:review-type", args=[document.id]), {"document_type": "credit_note"})
    note = client.post(reverse("documents:review-note", args=[document.id]), {"note": "Rückfrage"})

    document.refresh_from_db()
    assert response.status_code == 409 and document.document_type == "invoice"
    assert note.status_code == 302 and document.notes.filter(text="Rückfrage").exists()


def test_it_hands_the_pages_version_to_the_supplier_hits(client, reviewer, owner):
    from suppliers.models import Supplier

    document = make_document(owner)
    Supplier.objects.create(name="Stadtwerke Musterhausen")
    client.force_login(reviewer)
    etag = document_etag(document)

    body = client.get(
        reverse("documents:review-supplier-search", args=[document.id]), {"q": "Stadtwerke", "etag": etag}
    ).content.decode()

    assert f'name="etag" value="{escape(etag)}"' in body


def test_it_cannot_relate_to_a_document_the_user_cannot_see(client, owner, outsider, django_user_model):
    from django.contrib.auth.models import Permission

    for user in (owner, outsider):
        user.user_permissions.add(Permission.objects.get(codename="review_document"))
    document = make_document(owner)
    make_document(outsider, title="Geheim", document_number="G-1")
    client.force_login(owner)

    response = client.post(
        reverse("documents:review-relation", args=[document.id]),
        {"relation_type": "references", "target": "G-1"},
        follow=True,
    )

    assert "Kein eindeutiges Dokument" in response.content.decode()
    assert not DocumentRelation.objects.exists()


def test_it_refuses_an_empty_note(reviewer, owner):
    with pytest.raises(ApplicationError, match="leer"):
        review.document_add_note(document=make_document(owner), user=reviewer, text="   ")


def test_it_finds_suppliers_by_name_for_the_picker(client, reviewer, owner):
    from suppliers.models import Supplier

    Supplier.objects.create(name="Stadtwerke Musterstadt")
    document = make_document(owner)
    client.force_login(reviewer)

    body = client.get(reverse("documents:review-supplier-search", args=[document.id]) + "?q=stadtw").content.decode()

    assert "Stadtwerke Musterstadt" in body


def test_it_sends_a_document_back_for_reprocessing(reviewer, owner, monkeypatch):
    sent = []
    monkeypatch.setattr("documents.services._enqueue", sent.append)
    document = make_document(owner)

    with pytest.raises(ApplicationError):
        review.document_reprocess(document=make_document(owner, status=Document.Status.PROCESSING), user=reviewer)
    job = review.document_reprocess(document=document, user=reviewer)

    document.refresh_from_db()
    assert document.status == Document.Status.QUEUED
    assert job.status == ProcessingJob.Status.PENDING
    assert AuditLog.objects.filter(action="document.reprocess_requested", object_id=str(document.id)).exists()


def test_it_keeps_corrected_fields_and_the_chosen_type_through_reprocessing(reviewer, owner, born_digital_pdf):
    document = services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
    services.job_run(job_id=document.jobs.get().id)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)
    document.refresh_from_db()
    services.document_update_fields(document=document, user=reviewer, values={"invoice_number": "KORRIGIERT-1"})
    review.document_set_type(document=document, user=reviewer, document_type="receipt")

    job = review.document_reprocess(document=document, user=reviewer)
    services.job_run(job_id=job.id)

    document.refresh_from_db()
    assert document.fields.get(name="invoice_number").value == "KORRIGIERT-1"
    assert document.document_type == "receipt"
    assert document.document_number == "KORRIGIERT-1"


# Page viewer and escaping


def test_it_renders_clickable_words_escaped(client, reviewer, owner):
    document = make_document(owner)
    DocumentPage.objects.create(
        document=document,
        page_number=1,
        image_key="x.jpg",
        width_px=100,
        height_px=100,
        dpi=150,
        text_source="ocr",
        words=[{"text": '"><script>alert(1)</script>', "bbox": [0.1, 0.1, 0.2, 0.2], "confidence": 0.9}],
    )
    client.force_login(reviewer)

    body = client.get(reverse("documents:review", args=[document.id])).content.decode()

    assert "<script>alert(1)" not in body
    assert 'data-text="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in body


def test_it_sends_a_content_security_policy_without_inline_scripts(client, reviewer, owner):
    client.force_login(reviewer)
    document = make_document(owner)

    for url in (reverse("documents:list"), reverse("documents:review", args=[document.id])):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        body = client.get(url).content.decode()
        assert "<script>" not in body and ' style="' not in body


def test_it_keeps_my_claim_when_i_look_at_a_document_someone_else_holds(reviewer, second_reviewer, owner):
    mine, theirs = make_document(owner, title="Meins"), make_document(owner, title="Seins")
    review_claim_open(document=mine, user=reviewer)
    review_claim_open(document=theirs, user=second_reviewer)

    assert not review_claim_open(document=theirs, user=reviewer)

    mine.refresh_from_db()
    assert mine.claimed_by == reviewer
