from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from ablage.errors import ApplicationError
from documents import retention_services
from documents.models import Document, ExtractedField
from documents.retention import deletion_refusal, retention_until
from monitoring.models import AuditLog

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "x")


def make(owner, title="Rechnung 1", *, day=date(2026, 3, 1), document_type="invoice"):
    key = default_storage.save(f"originals/ret/{title}.pdf", ContentFile(b"%PDF " + title.encode()))
    return Document.objects.create(
        owner=owner, title=title, original_filename=f"{title}.pdf", mime_type="application/pdf", file_size=5,
        sha256="0" * 64, storage_key=key, document_date=day, document_type=document_type,
    )  # fmt: skip


def test_it_counts_retention_from_the_end_of_the_year():
    assert retention_until(Document(document_date=date(2026, 3, 1), document_type="invoice")) == date(2034, 12, 31)
    assert retention_until(Document(document_date=date(2026, 3, 1), document_type="letter")) == date(2032, 12, 31)
    assert retention_until(Document(document_date=date(2026, 3, 1), document_type="contract")) == date(2036, 12, 31)


def test_it_refuses_removal_at_model_level_while_retained(owner):
    document = make(owner)
    with pytest.raises(ApplicationError, match=r"bis 31\.12\.2034 aufzubewahren"):
        document.delete()
    with pytest.raises(ApplicationError, match="aufzubewahren"):
        Document.objects.filter(pk=document.pk).delete()
    with pytest.raises(ApplicationError, match="aufzubewahren"):
        Document.all_objects.all().delete()
    assert Document.all_objects.filter(pk=document.pk).exists()


def test_it_trashes_with_a_reason_and_restores(owner):
    document = make(owner)
    with pytest.raises(ApplicationError, match="Grund"):
        retention_services.document_trash(document=document, user=owner, reason=" ")
    retention_services.document_trash(document=document, user=owner, reason="Doppelt hochgeladen")
    assert not Document.objects.filter(pk=document.pk).exists()
    assert Document.all_objects.get(pk=document.pk).deletion_reason == "Doppelt hochgeladen"
    retention_services.document_restore(document=document, user=owner)
    assert Document.objects.filter(pk=document.pk).exists()
    assert list(
        AuditLog.objects.filter(object_id=str(document.pk)).values_list("action", flat=True).order_by("sequence")
    ) == [
        "document.trashed",
        "document.restored",
    ]


def test_it_purges_only_after_expiry_without_hold_and_on_confirmation(
    owner, admin_user, django_capture_on_commit_callbacks
):
    old = make(owner, "Altbeleg 2015", day=date(2015, 6, 30))
    ExtractedField.objects.create(document=old, name="invoice_number", value="A-1")
    young = make(owner, "Neu")
    assert [document.pk for document in retention_services.documents_retention_expired()] == [old.pk]
    with pytest.raises(ApplicationError, match="Titel"):
        retention_services.document_purge(document=old, user=admin_user, confirmation="falsch")
    with pytest.raises(ApplicationError, match="Administratoren"):
        retention_services.document_purge(document=old, user=owner, confirmation=old.title)
    retention_services.legal_hold_set(document=old, user=admin_user, reason="Betriebsprüfung 2026")
    old.refresh_from_db()
    assert "Legal Hold" in deletion_refusal(old)
    with pytest.raises(ApplicationError, match="Aufbewahrungssperre"):
        retention_services.document_purge(document=old, user=admin_user, confirmation=old.title)
    retention_services.legal_hold_release(document=old, user=admin_user, reason="Prüfung abgeschlossen")
    key = old.storage_key
    with pytest.raises(ApplicationError, match="aufzubewahren"):
        retention_services.document_purge(document=young, user=admin_user, confirmation=young.title)
    with django_capture_on_commit_callbacks(execute=True):
        retention_services.document_purge(document=old, user=admin_user, confirmation=old.title)
    assert not Document.all_objects.filter(pk=old.pk).exists()
    assert not default_storage.exists(key)
    assert AuditLog.objects.filter(action="document.purged", object_id=str(old.pk)).exists()


def test_it_handles_an_erasure_request_within_the_law(owner, admin_user):
    old = make(owner, "Brief an max.mustermann@example.com", day=date(2012, 1, 5), document_type="letter")
    kept = make(owner, "Rechnung max.mustermann@example.com")
    outcome = retention_services.erasure_request_process(subject="max.mustermann@example.com", user=admin_user)
    assert [entry["id"] for entry in outcome["purged"]] == [str(old.pk)]
    assert outcome["kept"] == [{"id": str(kept.pk), "title": kept.title, "until": "2034-12-31"}]
    entry = AuditLog.objects.get(action="gdpr.erasure_request")
    assert "mustermann" not in str(entry.changes["subject_hash"])


def test_it_offers_retention_over_the_api_through_the_access_path(client, owner, outsider, admin_user):
    document = make(owner)
    client.force_login(outsider)
    assert client.get(reverse("api-v1:document-retention", args=[document.pk])).status_code == 404
    assert client.post(reverse("api-v1:document-trash", args=[document.pk]), {"reason": "x"}).status_code == 404
    client.force_login(owner)
    state = client.get(reverse("api-v1:document-retention", args=[document.pk])).json()
    assert state["retention_until"] == "2034-12-31" and state["may_be_purged"] is False
    assert client.post(reverse("api-v1:document-legal-hold", args=[document.pk]), {"reason": "x"}).status_code == 403
    assert client.post(reverse("api-v1:document-trash", args=[document.pk]), {"reason": "Fehlscan"}).status_code == 204
    assert client.get(reverse("api-v1:document-retention", args=[document.pk])).json()["deleted"] is True
    assert client.post(reverse("api-v1:document-restore", args=[document.pk])).status_code == 204


def test_it_offers_no_plain_delete_in_admin_and_purges_only_expired(client, owner, admin_user):
    document = make(owner)
    client.force_login(admin_user)
    changelist = reverse("admin:documents_document_changelist")
    assert client.get(reverse("admin:documents_document_delete", args=[document.pk])).status_code == 403
    response = client.post(
        changelist, {"action": "purge_selected", "_selected_action": [str(document.pk)]}, follow=True
    )
    assert "aufzubewahren" in response.content.decode()
    assert Document.all_objects.filter(pk=document.pk).exists()
    client.post(changelist, {"action": "trash_selected", "_selected_action": [str(document.pk)]})
    assert Document.all_objects.get(pk=document.pk).deleted_at is not None


def test_it_proposes_expired_documents_to_admins_once_a_month(owner, admin_user):
    from notifications.models import Notification

    make(owner, "Altbeleg 2014", day=date(2014, 2, 1))
    make(owner, "Neu")
    assert retention_services.retention_proposals_notify(today=date(2026, 11, 23)) == 1
    assert retention_services.retention_proposals_notify(today=date(2026, 11, 30)) == 0  # same month
    alert = Notification.objects.get(user=admin_user)
    assert alert.title.startswith("Aufbewahrung abgelaufen: 1 Dokument") and "Altbeleg 2014" in alert.message
