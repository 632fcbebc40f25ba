"""Rules in the database: editing with versions, usage statistics, and their part in processing a document."""

import re

import pytest

from ablage.errors import ApplicationError
from documents import services as document_services
from documents.models import Document, ExtractedField
from extraction.models import ExtractionRule, ExtractionRuleVersion
from extraction.rules import RuleUsage
from extraction.selectors import rule_spec
from extraction.services import rule_create, rule_delete, rule_update, rules_record_usage
from monitoring.models import AuditLog
from suppliers.models import Supplier, SupplierTemplate

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _rule(user=None, **values):
    values = {
        "name": "Belegnummer",
        "field_name": "invoice_number",
        "rule_type": "regex",
        "rule_config": {"pattern": r"Rechnung\s+(\S+)"},
        **values,
    }
    return rule_create(user=user, **values)


# --- editing -------------------------------------------------------------------------------------


def test_it_creates_a_rule_at_version_one_with_its_history_and_audit(owner):
    rule = _rule(owner)

    assert (rule.version, rule.created_by) == (1, owner)
    assert list(rule.versions.values_list("version", "rule_config")) == [(1, {"pattern": r"Rechnung\s+(\S+)"})]
    assert AuditLog.objects.filter(action="extraction_rule.created", object_id=str(rule.id)).exists()


def test_it_refuses_an_invalid_rule_with_german_messages_per_field():
    with pytest.raises(ApplicationError) as refused:
        _rule(rule_config={"pattern": "(["}, field_name="lieblingsfarbe", validation_regex="(")

    fields = refused.value.extra["fields"]
    assert refused.value.code == "invalid_rule"
    assert "„pattern“ ist kein gültiger regulärer Ausdruck" in fields["rule_config"][0]
    assert fields["field_name"][0].startswith("Unbekanntes Feld „lieblingsfarbe“")
    assert fields["validation_regex"][0].startswith("Kein gültiger regulärer Ausdruck")
    assert not ExtractionRule.objects.exists()


def test_it_starts_a_new_version_with_fresh_statistics_when_the_config_changes(owner):
    rule = _rule(owner)
    rules_record_usage(usage=[RuleUsage(rule_spec(rule), True, 0.9), RuleUsage(rule_spec(rule), False)])

    rule_update(rule=rule, user=owner, notes="Auch mit Doppelpunkt", rule_config={"pattern": r"Rechnung:?\s+(\S+)"})

    rule.refresh_from_db()
    assert (rule.version, rule.usage_count, rule.success_count, rule.success_rate) == (2, 0, 0, None)
    latest = rule.versions.get(version=2)
    assert latest.notes == "Auch mit Doppelpunkt"
    assert latest.performance_delta == {
        "previous_version": 1,
        "usage_count": 2,
        "success_count": 1,
        "success_rate": 0.5,
        "avg_confidence": 0.9,
    }
    assert rule.versions.get(version=1).rule_config == {"pattern": r"Rechnung\s+(\S+)"}  # history kept


def test_it_keeps_the_version_when_only_priority_or_state_change(owner):
    rule = _rule(owner)

    rule_update(rule=rule, user=owner, priority=5, is_active=False)

    rule.refresh_from_db()
    assert (rule.version, rule.priority, rule.is_active) == (1, 5, False)
    assert rule.versions.count() == 1
    entry = AuditLog.objects.get(action="extraction_rule.updated")
    assert entry.changes == {"priority": [0, 5], "is_active": [True, False]}


def test_it_deletes_a_rule_with_an_audit_entry(owner):
    rule = _rule(owner)
    rule_delete(rule=rule, user=owner)

    assert not ExtractionRule.objects.exists() and not ExtractionRuleVersion.objects.exists()
    assert AuditLog.objects.filter(action="extraction_rule.deleted").exists()


# --- usage statistics ----------------------------------------------------------------------------


def test_it_counts_runs_hits_confidence_and_the_last_error_per_rule_and_version():
    rule = _rule()
    spec = rule_spec(rule)

    rules_record_usage(
        usage=[
            RuleUsage(spec, True, 0.8),
            RuleUsage(spec, True, 0.6),
            RuleUsage(spec, False, error="Regulärer Ausdruck nach 0,25 s abgebrochen"),
        ]
    )

    rule.refresh_from_db()
    assert (rule.usage_count, rule.success_count) == (3, 2)
    assert rule.success_rate == pytest.approx(2 / 3)
    assert rule.avg_confidence == pytest.approx(0.7)
    assert rule.last_used_at is not None and rule.last_error_at is not None
    assert rule.last_error.startswith("Regulärer Ausdruck nach")
    version = rule.versions.get()
    assert (version.usage_count, version.success_count, version.avg_confidence) == (3, 2, pytest.approx(0.7))


def test_it_does_not_count_a_run_of_a_replaced_version_on_the_new_one():
    rule = _rule()
    old_spec = rule_spec(rule)
    rule_update(rule=rule, user=None, rule_config={"pattern": r"Nr\.\s*(\S+)"})

    rules_record_usage(usage=[RuleUsage(old_spec, True, 0.9)])

    rule.refresh_from_db()
    assert rule.usage_count == 0
    assert rule.versions.get(version=1).usage_count == 1


# --- in processing -------------------------------------------------------------------------------


def _process(owner, data):
    document = document_services.document_ingest(owner=owner, filename="rechnung.pdf", data=data)
    document_services.job_run(job_id=document.jobs.get().id)
    document.refresh_from_db()
    return document


def _checks(document) -> dict:
    return {check["rule"]: check for check in document.validation}


@pytest.fixture
def supplier(invoice_spec):
    return Supplier.objects.create(
        name="Lieferant laut Stammdaten", vat_id=invoice_spec.ground_truth()["supplier_vat_id"]
    )


def test_it_applies_a_supplier_rule_in_processing_and_records_it_as_evidence(
    owner, born_digital_pdf, invoice_spec, supplier
):
    number = invoice_spec.ground_truth()["invoice_number"]
    rule = _rule(supplier=supplier, rule_config={"pattern": f"({re.escape(number)})"})

    document = _process(owner, born_digital_pdf)

    field = ExtractedField.objects.get(document=document, name="invoice_number")
    assert field.normalized_value == number
    assert field.rule == f"regel:{rule.id}@v1"
    assert field.page == 1 and field.bbox is not None
    rule.refresh_from_db()
    assert (rule.usage_count, rule.success_count) == (1, 1) and rule.last_used_at is not None
    assert _checks(document)["duplicate_invoice_number"]["ok"] is True


def test_it_finishes_processing_when_a_rule_times_out_and_reports_it(owner, born_digital_pdf, supplier):
    rule = _rule(field_name="order_number", priority=9, rule_config={"pattern": r"(.*\s?)*\d{40}", "flags": "s"})

    document = _process(owner, born_digital_pdf)

    rule.refresh_from_db()
    assert document.status == Document.Status.REVIEW
    check = _checks(document)["extraction_rule_error"]
    assert check["ok"] is False and "Belegnummer" in check["message"]
    assert rule.last_error != "" and rule.usage_count == 1 and rule.success_count == 0


def test_it_sends_a_second_invoice_with_a_known_number_to_review(owner, born_digital_pdf, invoice_spec, supplier):
    number = invoice_spec.ground_truth()["invoice_number"]
    Document.objects.create(
        owner=owner,
        supplier=supplier,
        title="Erste Erfassung",
        original_filename="erste.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key="originals/erste.pdf",
        document_number=number.lower().replace("-", "-"),
        status=Document.Status.APPROVED,
    )

    document = _process(owner, born_digital_pdf)

    assert document.status == Document.Status.REVIEW
    check = _checks(document)["duplicate_invoice_number"]
    assert check["ok"] is False and "„Erste Erfassung“" in check["message"]
    assert "Mögliche Doppelerfassung" in document.decision_reason


def test_it_applies_the_supplier_templates_validation_rules(owner, born_digital_pdf, supplier):
    SupplierTemplate.objects.create(
        supplier=supplier,
        name="Standard",
        document_type="invoice",
        validation_rules={"custom_checks": [{"field": "total_amount", "condition": "less_than", "value": 1}]},
    )

    document = _process(owner, born_digital_pdf)

    assert document.status == Document.Status.REVIEW
    check = _checks(document)["template_custom_check"]
    assert check["ok"] is False and check["message"].startswith("Vorlage Standard: Gesamtbetrag")


def test_it_versions_a_rule_edited_in_admin(admin_client, admin_user):
    from django.urls import reverse

    rule = _rule(admin_user)
    response = admin_client.post(
        reverse("admin:extraction_extractionrule_change", args=[rule.pk]),
        {
            "name": rule.name,
            "field_name": "invoice_number",
            "rule_type": "anchor",
            "rule_config": '{"label": "Rechnung", "direction": "right"}',
            "document_type": "",
            "priority": "0",
            "is_active": "on",
            "versions-TOTAL_FORMS": "1",
            "versions-INITIAL_FORMS": "1",
            "versions-0-id": str(rule.versions.get().pk),
            "versions-0-rule": str(rule.pk),
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert (rule.version, rule.rule_type) == (2, "anchor")
    assert list(rule.versions.order_by("version").values_list("version", flat=True)) == [1, 2]
