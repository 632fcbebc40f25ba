"""The document API beyond upload: files, pages, ETag/If-Match, tags, notes, relations, history,
reprocess and jobs, the review queue, configuration, health, audit log, profile, pagination."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches
from rest_framework.test import APIClient

from ablage.testing.factories import TINY_PDF, stored_document
from accounts.models import Team
from documents.models import Document, ProcessingJob
from monitoring.models import AuditLog
from system.selectors import config_get

pytestmark = pytest.mark.django_db

BASE = "/api/v1/documents/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    caches["throttle"].clear()


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _refresh(user):
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def document(owner):
    return stored_document(owner)


def test_it_streams_original_archive_thumbnail_and_page_images(owner, document):
    api = _client(owner)

    original = api.get(f"{BASE}{document.id}/original/")
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == TINY_PDF
    assert original["Content-Type"] == "application/pdf"
    assert api.get(f"{BASE}{document.id}/archive/").status_code == 200
    thumbnail = api.get(f"{BASE}{document.id}/thumbnail/", {"w": "200"})
    assert thumbnail["Content-Type"] == "image/jpeg"
    [page] = api.get(f"{BASE}{document.id}/pages/").json()
    assert page["page_number"] == 1
    assert page["text"] == "Rechnung 4711"
    image = api.get(page["image_url"])
    assert image.status_code == 200
    assert b"".join(image.streaming_content)[:2] == b"\xff\xd8"
    assert api.get(f"{BASE}{document.id}/pages/2/image/").status_code == 404


def test_it_hides_files_of_documents_the_caller_may_not_see(outsider, document):
    api = _client(outsider)

    for suffix in ("original/", "archive/", "thumbnail/", "pages/", "pages/1/image/", "history/", "jobs/"):
        assert api.get(f"{BASE}{document.id}/{suffix}").status_code == 404, suffix


def test_it_hands_out_an_etag_and_requires_it_for_field_updates(reviewer, document):
    api = _client(reviewer)
    etag = api.get(f"{BASE}{document.id}/")["ETag"]

    missing = api.patch(f"{BASE}{document.id}/fields/", {"fields": {"invoice_number": "4712"}}, format="json")
    assert missing.status_code == 428
    assert missing.json()["error"]["code"] == "precondition_required"

    updated = api.patch(
        f"{BASE}{document.id}/fields/", {"fields": {"invoice_number": "4712"}}, format="json", HTTP_IF_MATCH=etag
    )
    assert updated.status_code == 200
    assert updated["ETag"] != etag
    assert updated["ETag"] == api.get(f"{BASE}{document.id}/")["ETag"]


def test_it_refuses_field_names_outside_the_document_types_schema_and_changes_nothing(reviewer, document):
    api = _client(reviewer)
    etag = api.get(f"{BASE}{document.id}/")["ETag"]

    response = api.patch(
        f"{BASE}{document.id}/fields/",
        {"fields": {"invoice_number": "4712", "is_staff": "1", "lieblingsfarbe": "blau"}},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field"
    assert "is_staff" in error["message"] and "lieblingsfarbe" in error["message"]
    assert set(error["fields"]) == {"is_staff", "lieblingsfarbe"}
    assert document.fields.get(name="invoice_number").value == "4711"  # the valid part is not applied either
    assert not document.fields.filter(name__in=["is_staff", "lieblingsfarbe"]).exists()
    assert api.get(f"{BASE}{document.id}/")["ETag"] == etag


def test_it_refuses_amounts_on_a_delivery_note_but_takes_its_order_number(reviewer, document):
    Document.objects.filter(id=document.id).update(document_type=Document.DocumentType.DELIVERY_NOTE)
    api = _client(reviewer)
    etag = api.get(f"{BASE}{document.id}/")["ETag"]

    refused = api.patch(
        f"{BASE}{document.id}/fields/", {"fields": {"total_amount": "119,00"}}, format="json", HTTP_IF_MATCH=etag
    )
    accepted = api.patch(
        f"{BASE}{document.id}/fields/", {"fields": {"order_number": "B-77"}}, format="json", HTTP_IF_MATCH=etag
    )

    assert refused.status_code == 400
    assert "total_amount" in refused.json()["error"]["message"]
    assert "Lieferschein" in refused.json()["error"]["message"]
    assert accepted.status_code == 200
    assert document.fields.get(name="order_number").value == "B-77"


def test_it_lets_a_clerk_correct_a_field_extraction_reported_outside_the_schema(reviewer, document):
    document.fields.create(name="buyer_reference", value="991-0000-00", normalized_value="991-0000-00")
    api = _client(reviewer)
    etag = api.get(f"{BASE}{document.id}/")["ETag"]

    response = api.patch(
        f"{BASE}{document.id}/fields/",
        {"fields": {"buyer_reference": "991-1234-56"}},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 200
    assert document.fields.get(name="buyer_reference").value == "991-1234-56"


def test_it_refuses_a_second_clerk_working_from_a_stale_copy(reviewer, document, django_user_model):
    first = _client(reviewer)
    colleague = django_user_model.objects.create_user("kollegin@example.com", "Passwort-12345")
    colleague.groups.add(*reviewer.groups.all())
    second = _client(colleague)
    etag = first.get(f"{BASE}{document.id}/")["ETag"]
    assert second.get(f"{BASE}{document.id}/")["ETag"] == etag

    first.patch(
        f"{BASE}{document.id}/fields/", {"fields": {"invoice_number": "A-1"}}, format="json", HTTP_IF_MATCH=etag
    )
    stale = second.patch(
        f"{BASE}{document.id}/fields/", {"fields": {"invoice_number": "B-2"}}, format="json", HTTP_IF_MATCH=etag
    )

    assert stale.status_code == 412
    error = stale.json()["error"]
    assert error["code"] == "precondition_failed"
    [change] = error["changes"]
    assert str(reviewer) in change and "Rechnungsnummer" in change and change.endswith("→ „A-1“")
    assert error["etag"] == second.get(f"{BASE}{document.id}/")["ETag"]
    assert document.fields.get(name="invoice_number").value == "A-1"


def test_it_refuses_an_approval_sent_with_a_stale_etag(reviewer, document):
    api = _client(reviewer)
    etag = api.get(f"{BASE}{document.id}/")["ETag"]
    api.patch(f"{BASE}{document.id}/fields/", {"fields": {"invoice_number": "4712"}}, format="json", HTTP_IF_MATCH=etag)

    refused = api.post(f"{BASE}{document.id}/approve/", HTTP_IF_MATCH=etag)

    assert refused.status_code == 412
    document.refresh_from_db()
    assert document.status == Document.Status.REVIEW
    fresh = api.get(f"{BASE}{document.id}/")["ETag"]
    assert api.post(f"{BASE}{document.id}/approve/", HTTP_IF_MATCH=fresh).status_code == 200


def test_it_replaces_tags_and_creates_missing_ones(owner, document):
    api = _client(owner)

    response = api.put(
        f"{BASE}{document.id}/tags/", {"tags": ["Steuer 2026", "steuer 2026", " Einkauf "]}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"tags": ["Einkauf", "Steuer 2026"]}
    assert api.get(f"{BASE}{document.id}/").json()["tags"] == ["Einkauf", "Steuer 2026"]


def test_it_refuses_tag_changes_by_a_read_only_role(owner, document, django_user_model):
    auditor = django_user_model.objects.create_user("pruefer@example.com", "Passwort-12345")
    auditor.groups.add(Group.objects.get(name="auditor"))
    api = _client(_refresh(auditor))

    response = api.put(f"{BASE}{document.id}/tags/", {"tags": ["x"]}, format="json")

    assert response.status_code == 403
    assert document.tags.count() == 0


def test_it_keeps_notes_and_lets_only_the_author_delete_them(owner, document, django_user_model):
    teammate = django_user_model.objects.create_user("team@example.com", "Passwort-12345")
    teammate.user_permissions.add(*owner.user_permissions.all())
    team = Team.objects.create(name="Buchhaltung")
    team.members.add(owner, teammate)
    Document.objects.filter(pk=document.pk).update(team=team)
    api = _client(owner)

    created = api.post(f"{BASE}{document.id}/notes/", {"text": "Skonto mit Lieferant geklärt"}, format="json")
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert [note["text"] for note in api.get(f"{BASE}{document.id}/notes/").json()] == ["Skonto mit Lieferant geklärt"]
    assert _client(_refresh(teammate)).delete(f"{BASE}{document.id}/notes/{note_id}/").status_code == 403
    assert api.delete(f"{BASE}{document.id}/notes/{note_id}/").status_code == 204
    assert api.get(f"{BASE}{document.id}/notes/").json() == []


def test_it_links_documents_and_refuses_links_to_foreign_ones(owner, outsider, document):
    credit_note = stored_document(owner, title="Gutschrift")
    foreign = stored_document(outsider, title="Fremd")
    api = _client(owner)

    created = api.post(
        f"{BASE}{credit_note.id}/relations/",
        {"target": str(document.id), "relation_type": "credit_note_for"},
        format="json",
    )
    foreign_link = api.post(
        f"{BASE}{document.id}/relations/", {"target": str(foreign.id), "relation_type": "references"}, format="json"
    )
    duplicate = api.post(
        f"{BASE}{credit_note.id}/relations/",
        {"target": str(document.id), "relation_type": "credit_note_for"},
        format="json",
    )

    assert created.status_code == 201
    assert foreign_link.status_code == 404
    assert duplicate.status_code == 409
    [relation] = api.get(f"{BASE}{document.id}/relations/").json()
    assert relation["source"] == str(credit_note.id)
    assert api.delete(f"{BASE}{document.id}/relations/{relation['id']}/").status_code == 204


def test_it_shows_the_history_of_changes(reviewer, document):
    api = _client(reviewer)
    etag = api.get(f"{BASE}{document.id}/")["ETag"]
    api.patch(f"{BASE}{document.id}/fields/", {"fields": {"invoice_number": "4712"}}, format="json", HTTP_IF_MATCH=etag)
    api.post(f"{BASE}{document.id}/approve/")

    actions = [entry["action"] for entry in api.get(f"{BASE}{document.id}/history/").json()]

    assert "fields_corrected" in actions
    assert "document.fields_corrected" in actions
    assert any(action.startswith("document.approve") for action in actions)


def test_it_reprocesses_a_dead_document_as_a_new_job(owner, django_capture_on_commit_callbacks):
    document = stored_document(owner, status=Document.Status.DEAD, job_status=ProcessingJob.Status.FAILED)
    api = _client(owner)
    failed_job = document.jobs.get()

    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(f"{BASE}{document.id}/reprocess/")

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    document.refresh_from_db()
    assert document.status == Document.Status.QUEUED
    assert api.post(f"{BASE}{document.id}/reprocess/").status_code == 409
    assert api.post(f"/api/v1/jobs/{failed_job.id}/retry/").status_code == 409  # no longer the latest job


def test_it_retries_the_latest_failed_job(owner, django_capture_on_commit_callbacks):
    document = stored_document(owner, status=Document.Status.DEAD, job_status=ProcessingJob.Status.FAILED)
    api = _client(owner)
    job = document.jobs.get()

    assert api.get(f"/api/v1/jobs/{job.id}/").json()["status"] == "failed"
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(f"/api/v1/jobs/{job.id}/retry/")

    assert response.status_code == 202
    assert document.jobs.count() == 2
    assert AuditLog.objects.filter(action="document.reprocess", object_id=str(document.id)).exists()


def test_it_refuses_to_reprocess_a_document_in_review(owner, document):
    response = _client(owner).post(f"{BASE}{document.id}/reprocess/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_reprocessable"


def test_it_hides_other_peoples_jobs(outsider, document):
    assert _client(outsider).get(f"/api/v1/jobs/{document.jobs.get().id}/").status_code == 404


def test_it_lets_reviewers_claim_and_release_from_the_queue(reviewer, owner, document):
    api = _client(reviewer)

    assert [item["id"] for item in api.get("/api/v1/review/queue/").json()] == [str(document.id)]
    claimed = api.post("/api/v1/review/claim-next/").json()
    assert claimed["document"]["id"] == str(document.id)
    assert api.post(f"/api/v1/review/{document.id}/release/").status_code == 204
    assert api.post(f"/api/v1/review/{document.id}/release/").status_code == 409
    assert _client(owner).post("/api/v1/review/claim-next/").status_code == 403


def test_it_pages_the_document_list_with_a_cursor(owner):
    for number in range(3):
        stored_document(owner, title=f"R{number}")
    api = _client(owner)

    first = api.get(BASE, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [d["title"] for d in first["results"]] == ["R2", "R1"]
    assert [d["title"] for d in second["results"]] == ["R0"]
    assert second["next"] is None


def test_it_lets_admins_read_and_change_configuration(django_user_model, owner):
    admin = django_user_model.objects.create_superuser("chef@example.com", "Passwort-12345")
    api = _client(admin)

    keys = [entry["key"] for entry in api.get("/api/v1/config/").json()]
    changed = api.put("/api/v1/config/auth.lockout_minutes/", {"value": 30}, format="json")
    refused = api.put("/api/v1/config/auth.lockout_minutes/", {"value": "viel"}, format="json")

    assert "auth.lockout_minutes" in keys
    assert changed.status_code == 200
    assert config_get("auth.lockout_minutes") == 30
    assert refused.status_code == 400
    assert _client(owner).get("/api/v1/config/").status_code == 403
    assert api.get("/api/v1/config/gibt.es.nicht/").status_code == 404


def test_it_reports_health_without_authentication():
    response = APIClient().get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["checks"]["database"] == "healthy"


def test_it_shows_the_audit_log_to_auditors_only(owner, document, django_user_model):
    AuditLog.objects.create(action="document.approved", object_type="documents.document", object_id=str(document.id))
    auditor = django_user_model.objects.create_user("pruefer@example.com", "Passwort-12345")
    auditor.groups.add(Group.objects.get(name="auditor"))

    entries = _client(_refresh(auditor)).get("/api/v1/audit-log/", {"object_id": str(document.id)}).json()["results"]

    assert [entry["action"] for entry in entries] == ["document.approved"]
    assert _client(owner).get("/api/v1/audit-log/").status_code == 403


def test_it_lets_people_change_their_profile_but_not_their_rights(owner):
    api = _client(owner)

    fine = api.patch("/api/v1/me/", {"display_name": "Olga O.", "timezone": "Europe/Vienna"}, format="json")
    escalation = api.patch(
        "/api/v1/me/", {"display_name": "Chefin", "is_staff": True, "is_superuser": True}, format="json"
    )

    assert fine.status_code == 200
    assert escalation.status_code == 400
    assert set(escalation.json()["error"]["fields"]) == {"is_staff", "is_superuser"}
    owner.refresh_from_db()
    assert (owner.display_name, owner.timezone, owner.is_staff, owner.is_superuser) == (
        "Olga O.",
        "Europe/Vienna",
        False,
        False,
    )
