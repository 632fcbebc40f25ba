"""Default German e-mail templates for the remaining notification kinds, digests and password reset.

Templates seeded by ``system`` 0002 stay; "document_processed" gets the status in its text
(a processed document may be waiting for review), but only where nobody edited it yet.
Reversible: going back removes exactly the keys below.
"""

from django.db import migrations

_SIGNATURE_TEXT = "\n\n-- \nAblage – automatische Nachricht, bitte nicht antworten."
_SIGNATURE_HTML = '<p style="color:#666;font-size:12px">Ablage – automatische Nachricht, bitte nicht antworten.</p>'

TEMPLATES = [
    {
        "key": "document_rejected",
        "name": "Dokument abgewiesen",
        "variables": ["user_name", "document", "document_url", "reason"],
        "subject_template": "Abgewiesen: {{ document.title }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "das Dokument „{{ document.title }}“ ({{ document.original_filename }}) wurde nicht angenommen.\n"
            "Grund: {{ reason }}\n\nDetails: {{ document_url }}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>das Dokument „{{ document.title }}“ ({{ document.original_filename }}) wurde nicht angenommen.</p>\n"
            "<p>Grund: {{ reason }}</p>\n"
            '<p><a href="{{ document_url }}">Details ansehen</a></p>\n' + _SIGNATURE_HTML
        ),
    },
    {
        "key": "workflow_failed",
        "name": "Workflow fehlgeschlagen",
        "variables": ["user_name", "document", "document_url", "workflow_name", "error"],
        "subject_template": "Workflow fehlgeschlagen: {{ workflow_name }} – {{ document.title }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "der Workflow „{{ workflow_name }}“ für das Dokument „{{ document.title }}“ ist fehlgeschlagen.\n"
            "Fehler: {{ error }}\n\nZum Dokument: {{ document_url }}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>der Workflow „{{ workflow_name }}“ für das Dokument „{{ document.title }}“ ist fehlgeschlagen.</p>\n"
            "<p>Fehler: {{ error }}</p>\n"
            '<p><a href="{{ document_url }}">Dokument öffnen</a></p>\n' + _SIGNATURE_HTML
        ),
    },
    {
        "key": "daily_digest",
        "name": "Zusammenfassung",
        "variables": ["user_name", "period", "entries"],
        "subject_template": "{{ period }}: {{ entries|length }} Benachrichtigung{{ 'en' if entries|length != 1 else '' }}",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "{{ period }} Ihrer Benachrichtigungen:\n\n"
            "{% for entry in entries %}- {{ entry.title }}{% if entry.message %}: {{ entry.message }}{% endif %}"
            "{% if entry.url %}\n  {{ entry.url }}{% endif %}\n{% endfor %}" + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>{{ period }} Ihrer Benachrichtigungen:</p>\n<ul>\n"
            "{% for entry in entries %}<li>{% if entry.url %}<a href=\"{{ entry.url }}\">{{ entry.title }}</a>"
            "{% else %}{{ entry.title }}{% endif %}{% if entry.message %}: {{ entry.message }}{% endif %}</li>\n"
            "{% endfor %}</ul>\n" + _SIGNATURE_HTML
        ),
    },
    {
        "key": "password_reset",
        "name": "Passwort zurücksetzen",
        "variables": ["user_name", "reset_url", "valid_hours"],
        "subject_template": "Ablage: Passwort zurücksetzen",
        "text_template": (
            "Hallo {{ user_name }},\n\n"
            "für Ihr Konto wurde ein neues Passwort angefordert. Über diesen Link legen Sie es fest "
            "(gültig {{ valid_hours }} Stunden):\n\n{{ reset_url }}\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Nachricht; Ihr Passwort bleibt unverändert."
            + _SIGNATURE_TEXT
        ),
        "html_template": (
            "<p>Hallo {{ user_name }},</p>\n"
            "<p>für Ihr Konto wurde ein neues Passwort angefordert. Über diesen Link legen Sie es fest "
            "(gültig {{ valid_hours }} Stunden):</p>\n"
            '<p><a href="{{ reset_url }}">Neues Passwort festlegen</a></p>\n'
            "<p>Wenn Sie das nicht waren, ignorieren Sie diese Nachricht; Ihr Passwort bleibt unverändert.</p>\n"
            + _SIGNATURE_HTML
        ),
    },
]



def seed(apps, schema_editor):
    EmailTemplate = apps.get_model("notifications", "EmailTemplate")
    for entry in TEMPLATES:
        EmailTemplate.objects.get_or_create(
            key=entry["key"], defaults={"language": "de", **{k: v for k, v in entry.items() if k != "key"}}
        )
    processed = EmailTemplate.objects.filter(key="document_processed").first()
    if processed is not None and "und freigegeben." in processed.text_template:
        processed.text_template = processed.text_template.replace(
            "wurde verarbeitet und freigegeben.", "wurde verarbeitet. Status: {{ document.status }}."
        )
        processed.html_template = processed.html_template.replace(
            "wurde verarbeitet und freigegeben.", "wurde verarbeitet. Status: {{ document.status }}."
        )
        processed.save(update_fields=["text_template", "html_template"])


    completed = EmailTemplate.objects.filter(key="review_completed").first()
    if completed is not None and "reason" not in completed.variables:
        # A rejection without its reason makes people ask back; add it where nobody edited the template.
        completed.variables = [*completed.variables, "reason"]
        completed.text_template = completed.text_template.replace(
            "geprüft: {{ decision }}.\n", "geprüft: {{ decision }}.\n{% if reason %}Grund: {{ reason }}\n{% endif %}"
        )
        completed.html_template = completed.html_template.replace(
            "<strong>{{ decision }}</strong>.</p>\n",
            "<strong>{{ decision }}</strong>.</p>\n{% if reason %}<p>Grund: {{ reason }}</p>\n{% endif %}",
        )
        completed.save(update_fields=["variables", "text_template", "html_template"])


def unseed(apps, schema_editor):
    EmailTemplate = apps.get_model("notifications", "EmailTemplate")
    EmailTemplate.objects.filter(key__in=[entry["key"] for entry in TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_dispatch"),
        ("system", "0002_seed_defaults"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
