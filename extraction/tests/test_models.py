import datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from documents.models import Document
from extraction.models import (
    MODEL_PERFORMANCE_RATE_FIELDS,
    ClassifierModel,
    ExtractionRule,
    ExtractionRuleVersion,
    ModelPerformance,
    TrainingData,
)
from suppliers.models import Supplier, SupplierTemplate

INVOICE_NUMBER_CONFIG = {"pattern": r"Rechnungsnummer:?\s*([A-Z0-9-]+)", "group": 1}
DAY = datetime.date(2025, 3, 14)


@pytest.fixture
def ctx(django_user_model):
    owner = django_user_model.objects.create_user("sachbearbeitung@example.com", "pw-123456789")
    document = Document.objects.create(
        owner=owner,
        title="Rechnung RE-2025-001",
        original_filename="rechnung.pdf",
        mime_type="application/pdf",
        file_size=2048,
        sha256="a" * 64,
        storage_key="originals/rechnung.pdf",
    )
    supplier = Supplier.objects.create(name="Stadtwerke Musterstadt GmbH")
    return SimpleNamespace(owner=owner, document=document, supplier=supplier)


def rule(supplier=None, **extra):
    values = {
        "name": "Rechnungsnummer nach Stichwort",
        "field_name": "invoice_number",
        "rule_type": ExtractionRule.RuleType.REGEX,
        "rule_config": INVOICE_NUMBER_CONFIG,
        **extra,
    }
    return ExtractionRule.objects.create(supplier=supplier, **values)


def rule_version(rule_obj, **extra):
    return ExtractionRuleVersion.objects.create(rule=rule_obj, **{"version": 1, "rule_config": {}, **extra})


def training(document, **extra):
    values = {"field_name": "invoice_number", "expected_value": "RE-2025-001", **extra}
    return TrainingData.objects.create(document=document, **values)


def performance(**extra):
    values = {"model_name": "invoice_fields", "model_version": "1.0", "metric_date": DAY, **extra}
    return ModelPerformance.objects.create(**values)


def classifier_model(**extra):
    values = {"name": "document_type_classifier", "version": 1, "parameters": {}, "trained_examples": 1, **extra}
    return ClassifierModel.objects.create(**values)


def rate_above_one(rate):
    return lambda c: performance(**{rate: 1.01})


# Each entry writes a row that breaks exactly the named constraint (earlier rows are valid).
BAD_ROWS = {
    "extraction_rule_name_unique_per_supplier": lambda c: (rule(c.supplier), rule(c.supplier)),
    "extraction_rule_name_unique_global": lambda c: (rule(), rule()),
    "extraction_rule_template_iff_template_type": lambda c: rule(rule_type="template", rule_config={}),
    "extraction_rule_version_positive": lambda c: rule(version=0),
    "extraction_rule_success_count_within_usage": lambda c: rule(usage_count=1, success_count=2),
    "extraction_rule_success_rate_range": lambda c: rule(success_rate=1.2),
    "extraction_rule_avg_confidence_range": lambda c: rule(avg_confidence=-0.5),
    "extraction_rule_version_unique_per_rule": lambda c: (lambda r: (rule_version(r), rule_version(r)))(rule()),
    "extraction_rule_version_number_positive": lambda c: rule_version(rule(), version=0),
    "extraction_rule_version_success_within_usage": lambda c: rule_version(rule(), usage_count=0, success_count=1),
    "training_data_unique_field_per_document": lambda c: (training(c.document), training(c.document)),
    "training_data_validator_has_timestamp": lambda c: training(c.document, validated_by=c.owner),
    "training_data_used_has_batch": lambda c: training(c.document, used_for_training=True),
    "model_performance_unique_day": lambda c: (performance(), performance()),
    "model_performance_unique_hour": lambda c: (performance(hour_of_day=9), performance(hour_of_day=9)),
    "model_performance_hour_range": lambda c: performance(hour_of_day=24),
    "model_performance_correct_within_total": lambda c: performance(total_predictions=3, correct_predictions=5),
    **{f"model_performance_{rate}_range": rate_above_one(rate) for rate in MODEL_PERFORMANCE_RATE_FIELDS},
    "extraction_rule_learned_from_non_negative": lambda c: rule(learned_from=-1),
    "classifier_model_version_unique": lambda c: (classifier_model(), classifier_model(is_active=False)),
    "classifier_model_one_active_per_name": lambda c: (classifier_model(), classifier_model(version=2)),
    "classifier_model_accuracy_range": lambda c: classifier_model(accuracy=1.5),
}


@pytest.mark.django_db
@pytest.mark.parametrize("constraint", BAD_ROWS)
def test_it_rejects_a_row_that_breaks_the_named_constraint(constraint, ctx):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        BAD_ROWS[constraint](ctx)


def test_it_has_a_bad_row_test_for_every_named_constraint():
    models = (ExtractionRule, ExtractionRuleVersion, TrainingData, ModelPerformance, ClassifierModel)
    names = {constraint.name for model in models for constraint in model._meta.constraints}
    assert names == set(BAD_ROWS)


@pytest.mark.django_db
def test_it_allows_the_same_rule_name_for_different_suppliers(ctx):
    rule(ctx.supplier)
    rule(Supplier.objects.create(name="Bürobedarf Schmidt KG"))
    rule()  # and once more as a global rule
    assert ExtractionRule.objects.filter(name="Rechnungsnummer nach Stichwort").count() == 3


@pytest.mark.django_db
def test_it_keeps_a_day_row_beside_hour_rows_of_the_same_date():
    performance()
    performance(hour_of_day=0)
    performance(hour_of_day=23)
    assert ModelPerformance.objects.filter(metric_date=DAY).count() == 3


@pytest.mark.django_db
def test_it_lets_a_template_rule_point_at_its_template(ctx):
    supplier_template = SupplierTemplate.objects.create(supplier=ctx.supplier, name="Rechnung", document_type="invoice")
    template_rule = rule(ctx.supplier, rule_type="template", rule_config={}, template=supplier_template)
    template_rule.full_clean()
    assert supplier_template.extraction_rules.get() == template_rule


@pytest.mark.django_db
def test_it_keeps_a_validation_when_the_validating_clerk_is_deleted(ctx, django_user_model):
    clerk = django_user_model.objects.create_user("pruefer@example.com", "pw-123456789")
    row = training(ctx.document, validated_by=clerk, validated_at=timezone.now(), was_correct=True)
    clerk.delete()
    row.refresh_from_db()
    assert row.validated_by is None
    assert row.validated_at is not None
    assert row.was_correct is True


# --- clean(): errors a rule editor sees in the form ------------------------------------------


def rule_errors(**values) -> dict:
    candidate = ExtractionRule(
        **{"name": "Test", "field_name": "invoice_number", "rule_type": "regex", "rule_config": {}, **values}
    )
    with pytest.raises(ValidationError) as excinfo:
        candidate.full_clean()
    return excinfo.value.message_dict


@pytest.mark.django_db
def test_it_explains_that_a_regex_rule_needs_a_pattern():
    assert "pattern" in " ".join(rule_errors(rule_config={"group": 1})["rule_config"])


@pytest.mark.django_db
def test_it_refuses_a_regex_rule_whose_pattern_does_not_compile():
    errors = rule_errors(rule_config={"pattern": r"Rechnung\s*(["})
    assert "kein gültiger regulärer Ausdruck" in " ".join(errors["rule_config"])


@pytest.mark.django_db
def test_it_refuses_a_regex_group_the_pattern_does_not_have():
    errors = rule_errors(rule_config={"pattern": r"Rechnung\s*([0-9]+)", "group": 2})
    assert "zwischen 0 und 1" in " ".join(errors["rule_config"])


@pytest.mark.django_db
def test_it_refuses_position_coordinates_outside_the_page():
    errors = rule_errors(rule_type="position", rule_config={"x": 450, "y": 0.1, "width": 0.2, "height": 0.05})
    assert "„x“" in " ".join(errors["rule_config"])


@pytest.mark.django_db
def test_it_refuses_a_broken_validation_regex():
    errors = rule_errors(rule_config=INVOICE_NUMBER_CONFIG, validation_regex="^RE-[0-9+$(")
    assert "validation_regex" in errors


@pytest.mark.django_db
def test_it_asks_for_a_template_on_a_template_rule():
    errors = rule_errors(rule_type="template", rule_config={"field_mapping": {}})
    assert "template" in errors


@pytest.mark.django_db
def test_it_accepts_a_complete_regex_rule():
    ExtractionRule(
        name="Test", field_name="invoice_number", rule_type="regex", rule_config={**INVOICE_NUMBER_CONFIG, "flags": "i"}
    ).full_clean()


# --- admin ---------------------------------------------------------------------------------

ADMIN_MODELS = [ExtractionRule, ExtractionRuleVersion, TrainingData, ModelPerformance]


@pytest.fixture
def populated(ctx):
    rule_version(rule(ctx.supplier), rule_config=INVOICE_NUMBER_CONFIG, notes="Erste Fassung")
    training(ctx.document, extracted_value="RE-2025-00I", was_correct=False)
    performance(accuracy=0.93, total_predictions=100, correct_predictions=93)
    return ctx


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_it_renders_the_admin_changelist_with_rows(admin_client, populated, model):
    response = admin_client.get(reverse(f"admin:extraction_{model._meta.model_name}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize("model", [ExtractionRule, TrainingData, ModelPerformance], ids=lambda m: m.__name__)
def test_it_renders_the_admin_add_page(admin_client, model):
    response = admin_client.get(reverse(f"admin:extraction_{model._meta.model_name}_add"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_keeps_rule_versions_read_only_in_admin(admin_client, populated):
    version = ExtractionRuleVersion.objects.get()
    assert admin_client.get(reverse("admin:extraction_extractionruleversion_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:extraction_extractionruleversion_change", args=[version.pk]), {"notes": "geändert"}
    )
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.notes == "Erste Fassung"


@pytest.mark.django_db
def test_it_shows_a_rules_versions_on_its_admin_page(admin_client, populated):
    stored_rule = ExtractionRule.objects.get()
    response = admin_client.get(reverse("admin:extraction_extractionrule_change", args=[stored_rule.pk]))
    assert response.status_code == 200
    assert "Erste Fassung" in response.content.decode()


@pytest.mark.django_db
def test_it_records_who_created_a_rule_in_admin(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:extraction_extractionrule_add"),
        {
            "name": "Kundennummer",
            "field_name": "customer_number",
            "rule_type": "regex",
            "rule_config": '{"pattern": "Kundennummer:?\\\\s*(\\\\d+)"}',
            "document_type": "",
            "priority": "0",
            "is_active": "on",
            "version": "1",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ExtractionRule.objects.get(name="Kundennummer").created_by == admin_user


@pytest.mark.django_db
def test_it_shows_the_config_error_in_the_admin_form(admin_client):
    response = admin_client.post(
        reverse("admin:extraction_extractionrule_add"),
        {
            "name": "Kaputt",
            "field_name": "customer_number",
            "rule_type": "regex",
            "rule_config": '{"pattern": "(["}',
            "document_type": "",
            "priority": "0",
            "version": "1",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "kein gültiger regulärer Ausdruck" in str(response.context["adminform"].form.errors["rule_config"])
    assert not ExtractionRule.objects.exists()
