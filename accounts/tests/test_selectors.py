"""System alerts reach the admin role, not only superusers; nobody else gets them."""

from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.selectors import alert_recipients, users_with_permission
from documents.models import Document
from documents.retention_services import retention_proposals_notify
from monitoring.errors import error_record
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    def member(email, role):
        user = django_user_model.objects.create_user(email, "Passwort-12345")
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return {
        "root": django_user_model.objects.create_superuser("root@example.com", "x"),
        "admin": member("admin@example.com", "admin"),
        "clerk": member("clerk@example.com", "clerk"),
        "reviewer": member("reviewer@example.com", "reviewer"),
        "former": member("former@example.com", "admin"),
    }


def _emails(queryset) -> set[str]:
    return set(queryset.values_list("email", flat=True))


def test_it_finds_holders_through_roles_and_superusers_but_not_inactive_ones(people):
    people["former"].is_active = False
    people["former"].save()

    assert _emails(alert_recipients()) == {"root@example.com", "admin@example.com"}
    assert _emails(users_with_permission("documents.review_document")) == {
        "root@example.com",
        "admin@example.com",
        "reviewer@example.com",
    }


def test_a_critical_error_alerts_the_admin_role(people):
    error_record(OSError("Speicher nicht erreichbar"))

    alerted = {n.user.email for n in Notification.objects.filter(type=Notification.Type.SYSTEM_ALERT)}
    assert alerted == {"root@example.com", "admin@example.com", "former@example.com"}


def test_retention_proposals_go_to_archive_administrators(people, owner):
    key = default_storage.save("originals/sel/alt.pdf", ContentFile(b"%PDF alt"))
    Document.objects.create(
        owner=owner, title="Altbeleg", original_filename="alt.pdf", mime_type="application/pdf", file_size=8,
        sha256="0" * 64, storage_key=key, document_date=date(2012, 1, 5), document_type="invoice",
    )  # fmt: skip

    assert retention_proposals_notify() == 1

    alerted = {n.user.email for n in Notification.objects.filter(type=Notification.Type.SYSTEM_ALERT)}
    assert alerted == {"root@example.com", "admin@example.com", "former@example.com"}
