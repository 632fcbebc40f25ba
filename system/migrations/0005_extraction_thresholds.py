"""Confidence thresholds per document type and the share of approvals sampled for quality control."""

from django.db import migrations

EXTRACTION_OPTIONS = [
    ("extraction.threshold.invoice", 0.85,
     "Ab dieser Gesamtkonfidenz wird eine gültige Rechnung ohne Prüfung freigegeben."),
    ("extraction.threshold.credit_note", 0.9,
     "Ab dieser Gesamtkonfidenz wird eine gültige Gutschrift ohne Prüfung freigegeben."),
    ("extraction.threshold.receipt", 0.8,
     "Ab dieser Gesamtkonfidenz wird ein gültiger Kassenbeleg ohne Prüfung freigegeben."),
    ("extraction.threshold.delivery_note", 0.8,
     "Ab dieser Gesamtkonfidenz wird ein gültiger Lieferschein ohne Prüfung freigegeben."),
    ("extraction.quality_sample_rate", 0.05,
     "Anteil der automatisch freigebbaren Dokumente, der trotzdem zur Stichprobe in die Prüfung geht "
     "(0,05 = 5 %; 0 schaltet die Stichprobe ab)."),
]  # fmt: skip


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for key, value, description in EXTRACTION_OPTIONS:
        SystemConfig.objects.get_or_create(
            key=key,
            defaults={"value_type": "float", "value": value, "validation_rules": {"min": 0, "max": 1},
                      "category": "extraction", "description": description},
        )  # fmt: skip


def unseed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key__in=[entry[0] for entry in EXTRACTION_OPTIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0003_seed_ocr_options")]
    operations = [migrations.RunPython(seed, unseed)]
