"""Configuration keys of the processing pipeline (preprocessing switches, retry, archive copy, backend)."""

from django.db import migrations

OCR_OPTIONS = [
    ("ocr.preprocess.deskew", "bool", True, {}, "Schräglage gescannter Seiten vor der Texterkennung korrigieren."),
    ("ocr.preprocess.contrast", "bool", False, {}, "Lokale Kontrastanhebung (CLAHE) vor der Texterkennung."),
    ("ocr.preprocess.binarise", "bool", False, {}, "Seiten vor der Texterkennung in Schwarz-Weiß umwandeln."),
    ("ocr.preprocess.denoise", "string", "auto", {"choices": ["off", "auto", "always"]},
     "Entrauschen (teuer): off, auto (nur wenn die Komplexitätsanalyse Rauschen meldet) oder always."),
    ("ocr.preprocess.normalise_resolution", "bool", True, {},
     "Scans unter 240 dpi vor der Texterkennung auf 300 dpi hochrechnen."),
    ("ocr.retry_below_confidence", "float", 0.75, {"min": 0, "max": 1},
     "Seiten mit geringerer mittlerer Wortsicherheit werden ein zweites Mal mit anderer Vorverarbeitung "
     "oder anderem Verfahren gelesen."),
    ("ocr.searchable_pdf", "bool", True, {}, "Durchsuchbares PDF (Textebene über den Scans) als Archivkopie erzeugen."),
    ("ocr.backend", "string", "auto", {"choices": ["auto", "tesseract", "surya"]},
     "Texterkennung: auto (nach Komplexität und Verfügbarkeit), tesseract oder surya."),
]


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for key, value_type, value, rules, description in OCR_OPTIONS:
        SystemConfig.objects.get_or_create(
            key=key,
            defaults={"value_type": value_type, "value": value, "validation_rules": rules, "category": "ocr",
                      "description": description},
        )


def unseed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key__in=[entry[0] for entry in OCR_OPTIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0002_seed_defaults")]
    operations = [migrations.RunPython(seed, unseed)]
