"""How many reviewed documents of a supplier learning waits for before it derives rules."""

from django.db import migrations

KEY = "extraction.learning.min_reviewed_documents"


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.get_or_create(
        key=KEY,
        defaults={
            "value_type": "int",
            "value": 2,
            "validation_rules": {"min": 1, "max": 100},
            "category": "extraction",
            "description": "Ab so vielen geprüften Dokumenten eines Lieferanten (je Dokumenttyp) lernt Ablage "
            "Lieferantenregeln aus den Korrekturen.",
        },
    )


def unseed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key=KEY).delete()


class Migration(migrations.Migration):
    dependencies = [("extraction", "0003_learning"), ("system", "0005_extraction_thresholds")]
    operations = [migrations.RunPython(seed, unseed)]
