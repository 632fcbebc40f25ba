"""The admin site: every registered model's pages render, and the rules our admins add hold."""

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import APIKey, hash_api_key
from documents.models import Category, Document, DocumentPage, ExtractedField, ProcessingJob
from monitoring.models import AuditLog, ErrorLog
from monitoring.services import audit_log_record

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("chef@example.com", "Passwort-12345")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def document(superuser):
    document = Document.objects.create(
        owner=superuser,
        title="Rechnung Stadtwerke 2025-03",
        original_filename="stadtwerke.pdf",
        mime_type="application/pdf",
        file_size=1234,
        sha256="ab" * 32,
        storage_key="originals/ab/stadtwerke.pdf",
        document_number="RE-2025-0042",
    )
    DocumentPage.objects.create(
        document=document,
        page_number=1,
        image_key="pages/1.png",
        width_px=2480,
        height_px=3508,
        dpi=300,
        text_source=DocumentPage.TextSource.OCR,
    )
    ExtractedField.objects.create(document=document, name="invoice_number", value="RE-2025-0042", confidence=0.9)
    ProcessingJob.objects.create(document=document)
    return document


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED])
def test_it_renders_every_changelist_and_add_page(admin_client, rf, superuser, model, model_admin):
    assert admin_client.get(_url(model, "changelist")).status_code == 200
    assert admin_client.get(_url(model, "changelist"), {"q": "x"}).status_code == 200
    request = rf.get("/")
    request.user = superuser
    expected = 200 if model_admin.has_add_permission(request) else 403
    assert admin_client.get(_url(model, "add")).status_code == expected


@pytest.mark.django_db
def test_it_renders_a_document_with_its_pages_fields_and_jobs(admin_client, document):
    response = admin_client.get(_url(Document, "change", document.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Rechnung Stadtwerke 2025-03" in content
    assert "invoice_number" in content
    assert response.context["inline_admin_formsets"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["Stadtwerke", "stadtwerke.pdf", "ab" * 32, "RE-2025-0042"])
def test_it_finds_documents_by_title_filename_hash_and_number(admin_client, document, query):
    response = admin_client.get(_url(Document, "changelist"), {"q": query})
    assert list(response.context["cl"].result_list) == [document]


@pytest.mark.django_db
def test_it_lists_soft_deleted_documents_only_under_the_deleted_filter(admin_client, document):
    Document.all_objects.filter(pk=document.pk).update(deleted_at=document.created_at)
    shown = admin_client.get(_url(Document, "changelist"), {"geloescht": "ja"}).context["cl"].result_list
    hidden = admin_client.get(_url(Document, "changelist"), {"geloescht": "nein"}).context["cl"].result_list
    assert list(shown) == [document]
    assert list(hidden) == []


@pytest.mark.django_db
def test_it_shows_the_audit_log_but_forbids_changing_or_deleting_it(admin_client, superuser, document):
    entry = audit_log_record(actor=superuser, action="document.approve", obj=document)
    assert admin_client.get(_url(AuditLog, "change", entry.pk)).status_code == 200
    response = admin_client.post(_url(AuditLog, "change", entry.pk), {"action": "manipuliert"})
    assert response.status_code == 403
    assert admin_client.post(_url(AuditLog, "delete", entry.pk), {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        _url(AuditLog, "changelist"), {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.action == "document.approve"
    assert AuditLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_it_shows_a_new_api_key_once_and_stores_only_its_hash(admin_client, superuser):
    response = admin_client.post(_url(APIKey, "add"), {"user": superuser.pk, "name": "ERP-Anbindung"}, follow=True)
    assert response.status_code == 200
    key = APIKey.objects.get(name="ERP-Anbindung")
    shown = [str(message) for message in get_messages(response.wsgi_request)] or [
        str(message) for message in response.context["messages"]
    ]
    raw_key = next(word for text in shown for word in text.split() if word.startswith("abl_"))
    assert raw_key.startswith(f"abl_{key.prefix}_")
    assert key.key_hash == hash_api_key(raw_key)
    assert raw_key not in admin_client.get(_url(APIKey, "change", key.pk)).content.decode()


@pytest.mark.django_db
def test_it_creates_users_with_a_lower_cased_email(admin_client, django_user_model):
    response = admin_client.post(
        _url(django_user_model, "add"),
        {
            "email": "Neu.Kollege@Example.com",
            "display_name": "Neu",
            "usable_password": "true",
            "password1": "Sicheres-Passwort-4711",
            "password2": "Sicheres-Passwort-4711",
        },
    )
    assert response.status_code == 302
    user = django_user_model.objects.get(email="neu.kollege@example.com")
    assert user.check_password("Sicheres-Passwort-4711")


@pytest.mark.django_db
def test_it_refuses_a_second_user_with_the_same_email_in_other_case(admin_client, superuser, django_user_model):
    response = admin_client.post(
        _url(django_user_model, "add"),
        {"email": "CHEF@example.com", "usable_password": "false"},
    )
    assert response.status_code == 200
    assert "existiert bereits" in response.content.decode()


@pytest.mark.django_db
def test_it_computes_category_paths_and_moves_subtrees(admin_client):
    incoming = Category.objects.get(slug="eingangsrechnungen")
    data = {"name": "Energie", "slug": "energie", "parent": incoming.pk, "sort_order": 0}
    assert admin_client.post(_url(Category, "add"), data).status_code == 302
    energy = Category.objects.get(slug="energie")
    assert energy.path == "eingangsrechnungen/energie"
    admin_client.post(_url(Category, "add"), {"name": "Strom", "slug": "strom", "parent": energy.pk, "sort_order": 0})
    other = Category.objects.get(slug="sonstiges")
    moved = admin_client.post(_url(Category, "change", energy.pk), {**data, "parent": other.pk})
    assert moved.status_code == 302
    assert Category.objects.get(slug="strom").path == "sonstiges/energie/strom"


@pytest.mark.django_db
def test_it_refuses_to_hang_a_category_below_its_own_child(admin_client):
    parent = Category.objects.create(name="A", slug="a", path="a")
    child = Category.objects.create(name="B", slug="b", path="a/b", parent=parent)
    response = admin_client.post(
        _url(Category, "change", parent.pk), {"name": "A", "slug": "a", "parent": child.pk, "sort_order": 0}
    )
    assert response.status_code == 200
    assert "unter sich selbst" in response.content.decode()
    parent.refresh_from_db()
    assert parent.parent is None


@pytest.mark.django_db
def test_it_resolves_errors_once_from_the_admin(admin_client, superuser):
    error = ErrorLog.objects.create(error_type="OCRTimeout", message="zu langsam", fingerprint="f" * 64)
    admin_client.post(_url(ErrorLog, "changelist"), {"action": "mark_resolved", "_selected_action": [error.pk]})
    error.refresh_from_db()
    assert error.resolved_at is not None
    assert error.resolved_by == superuser
