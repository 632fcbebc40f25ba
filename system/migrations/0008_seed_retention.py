"""Retention periods per document type (GoBD, §147 AO: Buchungsbelege 8 years since 2025)."""

from django.db import migrations

YEARS = {
    "invoice": 8, "credit_note": 8, "receipt": 8, "contract": 10, "form": 10, "unknown": 10,
    "letter": 6, "order": 6, "delivery_note": 6, "reminder": 6,
}  # fmt: skip


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.get_or_create(
        key="archive.retention_years",
        defaults={
            "value_type": "json",
            "value": YEARS,
            "category": "archive",
            "description": "Aufbewahrungsfrist in Jahren je Dokumenttyp, ab Ende des Kalenderjahres des Belegdatums.",
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("system", "SystemConfig").objects.filter(key="archive.retention_years").delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0007_seed_datev")]
    operations = [migrations.RunPython(seed, unseed)]
