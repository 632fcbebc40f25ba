"""Migration system 0005: thresholds per document type and the quality sample rate as system settings."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from ablage.errors import ApplicationError
from accounts.models import User
from extraction.decision import decide
from extraction.types import ExtractionResult, FieldValue, ValidationCheck
from system.models import SystemConfig
from system.selectors import config_cache_invalidate, config_get
from system.services import config_set

migration = importlib.import_module("system.migrations.0005_extraction_thresholds")

SEEDED = {
    "extraction.threshold.invoice": 0.85,
    "extraction.threshold.credit_note": 0.9,
    "extraction.threshold.receipt": 0.8,
    "extraction.threshold.delivery_note": 0.8,
    "extraction.quality_sample_rate": 0.05,
}


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config_cache_invalidate()
    yield
    config_cache_invalidate()


def _run(function):
    function(apps, SimpleNamespace(connection=connection))


@pytest.mark.django_db
def test_it_seeds_thresholds_and_sample_rate_as_floats_between_zero_and_one():
    for key, expected in SEEDED.items():
        assert config_get(key) == expected
        assert type(config_get(key)) is float
        row = SystemConfig.objects.get(key=key)
        assert (row.category, row.value_type, row.validation_rules) == ("extraction", "float", {"min": 0, "max": 1})
        assert row.description


@pytest.mark.django_db
def test_it_refuses_a_sample_rate_above_one():
    admin = User.objects.create_user(email="admin@example.com", password="x")

    with pytest.raises(ApplicationError):
        config_set(key="extraction.quality_sample_rate", value=5.0, user=admin)
    config_set(key="extraction.quality_sample_rate", value=0.1, user=admin)

    assert config_get("extraction.quality_sample_rate") == 0.1


@pytest.mark.django_db
def test_it_keeps_a_changed_value_when_seeding_again_and_reverses_only_its_keys():
    SystemConfig.objects.filter(key="extraction.threshold.invoice").update(value=0.95)

    _run(migration.seed)

    assert SystemConfig.objects.get(key="extraction.threshold.invoice").value == 0.95
    _run(migration.unseed)
    assert not SystemConfig.objects.filter(key__in=SEEDED).exists()
    assert SystemConfig.objects.filter(key="extraction.auto_approve_threshold").exists()
    _run(migration.seed)
    _run(migration.seed)
    assert SystemConfig.objects.filter(key__in=SEEDED).count() == len(SEEDED)


@pytest.mark.django_db
def test_it_decides_with_the_seeded_thresholds():
    thresholds = {key.rsplit(".", 1)[1]: config_get(key) for key in SEEDED if ".threshold." in key}
    fields = ("invoice_number", "invoice_date", "total_amount", "supplier_name", "net_amount", "vat_amount", "currency")
    credit_note = ExtractionResult(
        document_type="credit_note",
        document_type_confidence=0.9,
        fields={name: FieldValue(name, "x", "x", 0.9) for name in fields},
        validation=[ValidationCheck("amounts_sum", True, "")],
        overall_confidence=0.88,
    )

    assert decide(credit_note, threshold=config_get("extraction.auto_approve_threshold")) == "auto_approve"
    assert decide(credit_note, threshold=0.85, thresholds_by_type=thresholds) == "review"
