"""DATEV export settings (Beraternummer, Mandantennummer, accounts, BU keys)."""

from django.db import migrations

DATEV = [
    ("datev.consultant_number", "int", 0, {"min": 0, "max": 9999999},
     "Beraternummer der Steuerkanzlei (1001–9999999); 0 = noch nicht eingerichtet."),
    ("datev.client_number", "int", 0, {"min": 0, "max": 99999}, "Mandantennummer (1–99999)."),
    ("datev.fiscal_year_start_month", "int", 1, {"min": 1, "max": 12}, "Monat, in dem das Wirtschaftsjahr beginnt."),
    ("datev.account_length", "int", 4, {"min": 4, "max": 8}, "Sachkontenlänge."),
    ("datev.chart", "string", "03", {"choices": ["03", "04"]}, "Kontenrahmen (SKR 03 oder SKR 04)."),
    ("datev.default_creditor_account", "string", "70000", {"regex": r"^\d{5,9}$"},
     "Sammelkreditor für Lieferanten ohne eigenes Kreditorenkonto."),
    ("datev.default_expense_account", "string", "4980", {"regex": r"^\d{4,8}$"},
     "Aufwandskonto für Lieferanten ohne eigenes Aufwandskonto (SKR03 4980 Betriebsbedarf)."),
    ("datev.bu_keys", "json", {"19": "9", "7": "8", "0": ""}, {},
     "BU-Schlüssel je Steuersatz (SKR03: 9 = 19 % Vorsteuer, 8 = 7 % Vorsteuer)."),
]  # fmt: skip


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for key, value_type, value, rules, description in DATEV:
        SystemConfig.objects.get_or_create(
            key=key,
            defaults={"value_type": value_type, "value": value, "validation_rules": rules, "category": "datev",
                      "description": description},
        )  # fmt: skip


def unseed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key__in=[entry[0] for entry in DATEV]).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0006_feature_flag_window")]
    operations = [migrations.RunPython(seed, unseed)]
