"""Seed data: default roles, configuration keys, German e-mail templates and categories.

Reversible: going back removes exactly the rows identified by the names, keys and slugs
below (roles by name, config keys, template keys, categories by slug path); anything else
created meanwhile stays.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "reviewer": [
        "documents.view_document",
        "documents.change_document",
        "documents.review_document",
        # Reviewers work the review queue for everybody's documents, not only their own.
        "accounts.view_all_documents",
        "documents.view_extractedfield",
        "documents.change_extractedfield",
        "suppliers.view_supplier",
    ],
    "clerk": [
        "documents.add_document",
        "documents.view_document",
        "suppliers.view_supplier",
    ],
    "viewer": [
        "documents.view_document",
        "suppliers.view_supplier",
    ],
}
ADMIN_ROLE = "admin"

CONFIG_DEFAULTS = [
    {
        "key": "extraction.auto_approve_threshold",
        "value_type": "float",
        "value": 0.85,
        "validation_rules": {"min": 0.0, "max": 1.0},
        "category": "extraction",
        "description": "Ab dieser Gesamtkonfidenz wird ein gültiger Beleg ohne Prüfung freigegeben.",
    },
    {
        "key": "review.sla_hours.invoice",
        "value_type": "int",
        "value": 48,
        "validation_rules": {"min": 1, "max": 720},
        "category": "review",
        "description": "Innerhalb so vieler Stunden soll eine Rechnung geprüft sein (Prüf-SLA).",
    },
    {
        "key": "review.sla_hours.default",
        "value_type": "int",
        "value": 72,
        "validation_rules": {"min": 1, "max": 720},
        "category": "review",
        "description": "Prüf-SLA in Stunden für alle Dokumenttypen ohne eigenen Wert.",
    },
    {
        "key": "upload.max_pages",
        "value_type": "int",
        "value": 100,
        "validation_rules": {"min": 1, "max": 5000},
        "category": "upload",
        "description": "Dokumente mit mehr Seiten werden beim Hochladen abgelehnt.",
    },
    {
        "key": "upload.max_file_size_mb",
        "value_type": "int",
        "value": 100,
        "validation_rules": {"min": 1, "max": 2048},
        "category": "upload",
        "description": "Größte erlaubte Datei beim Hochladen, in MB.",
    },
    {
        "key": "ocr.languages",
        "value_type": "string",
        "value": "deu+eng",
        "validation_rules": {"regex": r"[a-z_]{3,}(\+[a-z_]{3,})*"},
        "category": "ocr",
        "description": "Tesseract-Sprachen, mit + verbunden (z. B. deu+eng).",
    },
    {
        "key": "ocr.render_dpi",
        "value_type": "int",
        "value": 300,
        "validation_rules": {"min": 72, "max": 600},
        "category": "ocr",
        "description": "Auflösung, mit der PDF-Seiten für die Texterkennung gerastert werden.",
    },
    {
        "key": "notifications.digest_hour",
        "value_type": "int",
        "value": 8,
        "validation_rules": {"min": 0, "max": 23},
        "category": "notifications",
        "description": "Stunde (Ortszeit), zu der die tägliche Zusammenfassung verschickt wird.",
    },
]

_SIGNATURE_TEXT = "\n\n-- \nAblage – automatische Nachricht, bitte nicht antworten."
_SIGNATURE_HTML = '<p style="color:#666;font-size:12px">Ablage – automatische Nachricht, bitte nicht antworten.</p>'

EMAIL_TEMPLATES = [
    {
        "key": "document_processed",
        "name": "Dokument verarbeitet",
        "variables": ["user_name", "document", "document_url"],
        "subject_template": "Verarbeitet: {{ document.title }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "das Dokument „{{ document.title }}“ ({{ document.original_filename }}) wurde verarbeitet "
            "und freigegeben.\n\nZum Dokument: {{ document_url }}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>das Dokument „{{ document.title }}“ ({{ document.original_filename }}) wurde verarbeitet "
            "und freigegeben.</p>\n"
            '<p><a href="{{ document_url }}">Dokument öffnen</a></p>\n' + _SIGNATURE_HTML
        ),
    },
    {
        "key": "review_required",
        "name": "Prüfung erforderlich",
        "variables": ["user_name", "document", "document_url", "reason"],
        "subject_template": "Bitte prüfen: {{ document.title }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "das Dokument „{{ document.title }}“ braucht eine Prüfung.\n"
            "Grund: {{ reason }}\n\nZur Prüfung: {{ document_url }}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>das Dokument „{{ document.title }}“ braucht eine Prüfung.</p>\n"
            "<p>Grund: {{ reason }}</p>\n"
            '<p><a href="{{ document_url }}">Jetzt prüfen</a></p>\n' + _SIGNATURE_HTML
        ),
    },
    {
        "key": "processing_failed",
        "name": "Verarbeitung fehlgeschlagen",
        "variables": ["user_name", "document", "document_url", "error"],
        "subject_template": "Verarbeitung fehlgeschlagen: {{ document.title }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "das Dokument „{{ document.title }}“ ({{ document.original_filename }}) konnte nicht verarbeitet "
            "werden.\nFehler: {{ error }}\n\nDetails: {{ document_url }}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>das Dokument „{{ document.title }}“ ({{ document.original_filename }}) konnte nicht "
            "verarbeitet werden.</p>\n"
            "<p>Fehler: {{ error }}</p>\n"
            '<p><a href="{{ document_url }}">Details ansehen</a></p>\n' + _SIGNATURE_HTML
        ),
    },
    {
        "key": "review_completed",
        "name": "Prüfung abgeschlossen",
        "variables": ["user_name", "document", "document_url", "decision", "reviewer_name"],
        "subject_template": "Geprüft: {{ document.title }} – {{ decision }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "{{ reviewer_name }} hat das Dokument „{{ document.title }}“ geprüft: {{ decision }}.\n\n"
            "Zum Dokument: {{ document_url }}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>{{ reviewer_name }} hat das Dokument „{{ document.title }}“ geprüft: "
            "<strong>{{ decision }}</strong>.</p>\n"
            '<p><a href="{{ document_url }}">Dokument öffnen</a></p>\n' + _SIGNATURE_HTML
        ),
    },
]

CATEGORIES = [
    ("Eingangsrechnungen", "eingangsrechnungen", "Rechnungen von Lieferanten"),
    ("Ausgangsrechnungen", "ausgangsrechnungen", "Eigene Rechnungen an Kunden"),
    ("Gutschriften", "gutschriften", "Gutschriften und Rechnungskorrekturen"),
    ("Lieferscheine", "lieferscheine", "Lieferscheine und Warenbegleitpapiere"),
    ("Verträge", "vertraege", "Verträge, Vereinbarungen und Kündigungen"),
    ("Korrespondenz", "korrespondenz", "Briefe und sonstiger Schriftverkehr"),
    ("Sonstiges", "sonstiges", "Alles, was in keine andere Kategorie passt"),
]


def _permission(Permission, dotted):
    app_label, codename = dotted.split(".")
    # .get() on purpose: a missing permission means a renamed model, and the seed must fail loudly.
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def seed_roles(apps, schema_editor):
    # Permissions are normally created by post_migrate, i.e. after *all* migrations; a fresh
    # database has none yet at this point, so create them for every app in this state now.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin_group, _ = Group.objects.get_or_create(name=ADMIN_ROLE)
    admin_group.permissions.add(*Permission.objects.all())
    for role, dotted_permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*[_permission(Permission, dotted) for dotted in dotted_permissions])


def unseed_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[ADMIN_ROLE, *ROLE_PERMISSIONS]).delete()


def seed_config(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for entry in CONFIG_DEFAULTS:
        # get_or_create: a value an admin already set (e.g. restored backup) wins over the default.
        SystemConfig.objects.get_or_create(key=entry["key"], defaults={k: v for k, v in entry.items() if k != "key"})


def unseed_config(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key__in=[entry["key"] for entry in CONFIG_DEFAULTS]).delete()


def seed_email_templates(apps, schema_editor):
    EmailTemplate = apps.get_model("notifications", "EmailTemplate")
    for entry in EMAIL_TEMPLATES:
        EmailTemplate.objects.get_or_create(
            key=entry["key"], defaults={"language": "de", **{k: v for k, v in entry.items() if k != "key"}}
        )


def unseed_email_templates(apps, schema_editor):
    EmailTemplate = apps.get_model("notifications", "EmailTemplate")
    EmailTemplate.objects.filter(key__in=[entry["key"] for entry in EMAIL_TEMPLATES]).delete()


def seed_categories(apps, schema_editor):
    Category = apps.get_model("documents", "Category")
    for position, (name, slug, description) in enumerate(CATEGORIES, start=1):
        # Top-level categories: the slug path is the slug itself.
        Category.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "path": slug, "description": description, "sort_order": position * 10},
        )


def unseed_categories(apps, schema_editor):
    Category = apps.get_model("documents", "Category")
    # A seeded category that meanwhile holds subcategories or documents is someone's data now;
    # deleting it would cascade to the subcategories and unfile the documents, so it stays.
    Category.objects.filter(
        parent__isnull=True,
        slug__in=[slug for _name, slug, _description in CATEGORIES],
        children__isnull=True,
        documents__isnull=True,
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("documents", "0001_initial"),
        ("suppliers", "0001_initial"),
        ("monitoring", "0002_metrics_errors_health"),
        ("notifications", "0001_initial"),
        ("system", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed_roles, unseed_roles),
        migrations.RunPython(seed_config, unseed_config),
        migrations.RunPython(seed_email_templates, unseed_email_templates),
        migrations.RunPython(seed_categories, unseed_categories),
    ]
