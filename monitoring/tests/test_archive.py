import itertools

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from documents import services as document_services
from monitoring.audit import audit_chain_verify
from monitoring.models import AuditLog, HealthCheck
from monitoring.services import archive_verify_and_report, audit_log_record
from notifications.models import Notification

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def entries(owner):
    for number in range(5):
        audit_log_record(
            actor=owner,
            action="test.entry",
            obj=owner,
            changes={"n": number, "betrag": "12,50"},
            ip_address="::ffff:10.0.0.1",
        )
    return list(AuditLog.objects.order_by("sequence"))


def _tamper(sql: str, params):
    """What an attacker with SQL access (but not superuser) would try; the trigger must be bypassed
    for the chain check to have something to find, which only a superuser can do."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.embedded
def test_it_chains_entries_without_gaps(entries):
    assert [entry.sequence for entry in entries][-5:] == list(range(entries[-5].sequence, entries[-5].sequence + 5))
    assert all(entry.previous_hash == before.entry_hash for before, entry in itertools.pairwise(entries))
    checked, problems = audit_chain_verify()
    assert problems == [] and checked == len(entries)
    call_command("audit_verify")


@pytest.mark.embedded
def test_it_detects_an_altered_a_removed_and_an_inserted_entry(entries):
    _tamper("UPDATE monitoring_auditlog SET message = %s WHERE sequence = %s", ["harmlos", entries[1].sequence])
    _tamper("DELETE FROM monitoring_auditlog WHERE sequence = %s", [entries[3].sequence])
    kinds = {(problem.sequence, problem.kind) for problem in audit_chain_verify()[1]}
    assert (entries[1].sequence, "altered") in kinds
    assert (entries[4].sequence, "gap") in kinds and (entries[4].sequence, "broken_link") in kinds
    with pytest.raises(CommandError, match="Audit-Protokoll beschädigt"):
        call_command("audit_verify")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_it_refuses_update_and_delete_of_audit_rows_in_postgresql(entries):
    for statement in ("UPDATE monitoring_auditlog SET message = 'x'", "DELETE FROM monitoring_auditlog"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=entries[0].pk).update(message="x")


def test_it_reports_a_changed_original_and_a_broken_chain_to_admins(owner, born_digital_pdf, django_user_model):
    admin = django_user_model.objects.create_superuser("admin@example.com", "x")
    document = document_services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
    assert archive_verify_and_report() == []
    default_storage.delete(document.storage_key)
    default_storage.save(document.storage_key, ContentFile(born_digital_pdf + b"% nachtraeglich geaendert"))
    findings = archive_verify_and_report()
    assert len(findings) == 1 and "rechnung" in findings[0] and "SHA-256" in findings[0]
    assert HealthCheck.objects.filter(component="archive_files", status="down").exists()
    assert Notification.objects.get(user=admin).title == "Archivprüfung: 1 Befund(e)"
    with pytest.raises(CommandError, match="1 Befund"):
        call_command("archive_verify")
