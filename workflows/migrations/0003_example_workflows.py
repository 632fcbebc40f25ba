"""The three example workflows of the design (seed 001), shipped inactive.

Admins activate and adapt them (roles, amounts, export target) in the admin; they are
system workflows, so they can be deactivated but not deleted.
"""

from django.db import migrations

EXAMPLES = [
    {
        "name": "Hohe Rechnungsbeträge: Geschäftsführung prüft",
        "description": "Rechnungen über 10.000 € werden der Geschäftsführung (Rolle admin) zugewiesen, "
        "mit hoher Priorität und einer Benachrichtigung.",
        "trigger_type": "document_processed",
        "trigger_config": {"document_types": ["invoice"]},
        "conditions": {
            "and": [
                {"==": [{"var": "document.type"}, "invoice"]},
                {">": [{"var": "document.total_amount"}, 10000]},
            ]
        },
        "steps": [
            {
                "name": "Geschäftsführung benachrichtigen",
                "step_type": "send_notification",
                "step_config": {
                    "role": "admin",
                    "title": "Hoher Rechnungsbetrag: {{ document.title }}",
                    "message": "{{ document.supplier_name }} – {{ document.total_amount }} {{ document.currency }}",
                },
                "on_error": "continue",
            },
            {
                "name": "Der Geschäftsführung zuweisen",
                "step_type": "assign_user",
                "step_config": {"role": "admin", "strategy": "least_loaded"},
            },
            {"name": "Priorität hoch", "step_type": "update_field", "step_config": {"field": "priority", "value": "10"}},
        ],
    },
    {
        "name": "Niedrige Konfidenz: gezielt prüfen",
        "description": "Dokumente unter 80 % Konfidenz gehen an den am wenigsten ausgelasteten Prüfer; "
        "unter 60 % zusätzlich mit hoher Priorität.",
        "trigger_type": "confidence_below_threshold",
        "trigger_config": {"threshold": 0.8},
        "conditions": None,
        "steps": [
            {
                "name": "Sehr niedrig?",
                "step_type": "conditional",
                "step_config": {"condition": {"<": [{"var": "document.confidence"}, 0.6]}, "true_step": 2, "false_step": 3},
            },
            {"name": "Priorität hoch", "step_type": "update_field", "step_config": {"field": "priority", "value": "9"}},
            {
                "name": "Prüfer zuweisen",
                "step_type": "assign_user",
                "step_config": {"role": "reviewer", "strategy": "least_loaded"},
            },
            {
                "name": "Prüfer benachrichtigen",
                "step_type": "send_notification",
                "step_config": {
                    "assigned": True,
                    "title": "Bitte prüfen: {{ document.title }}",
                    "message": "Konfidenz {{ (document.confidence * 100) | round | int }} %",
                },
                "on_error": "continue",
            },
        ],
    },
    {
        "name": "Rechnungen automatisch verarbeiten",
        "description": "Felder erneut auslesen und prüfen; gültige Rechnungen markieren und für die Buchhaltung "
        "exportieren, ungültige der Buchhaltung (Rolle clerk) zuweisen.",
        "trigger_type": "document_processed",
        "trigger_config": {"document_types": ["invoice"]},
        "conditions": None,
        "steps": [
            {
                "name": "Rechnungsdaten auslesen",
                "step_type": "extract_data",
                "step_config": {
                    "fields": [
                        "invoice_number",
                        "invoice_date",
                        "due_date",
                        "supplier_name",
                        "total_amount",
                        "net_amount",
                        "vat_amount",
                    ],
                    "apply": True,
                },
                "on_error": "retry",
                "max_retries": 2,
            },
            {
                "name": "Daten prüfen",
                "step_type": "validate_data",
                "step_config": {
                    "rules": [
                        {"type": "required", "fields": ["invoice_number", "total_amount", "invoice_date"]},
                        {"type": "pattern", "field": "invoice_number", "regex": "^[A-Za-z0-9][A-Za-z0-9/._-]*$"},
                        {"type": "range", "field": "total_amount", "min": 0},
                        {"type": "sum", "parts": ["net_amount", "vat_amount"], "total": "total_amount"},
                    ],
                    "fail_on_error": False,
                },
                "on_error": "continue",
            },
            {
                "name": "Gültig?",
                "step_type": "conditional",
                "step_config": {"condition": {"==": [{"var": "steps.2.valid"}, True]}, "true_step": 4, "false_step": 6},
            },
            {
                "name": "Als geprüft markieren",
                "step_type": "update_field",
                "step_config": {"field": "tags_add", "value": "automatisch geprüft"},
            },
            {
                "name": "Für die Buchhaltung exportieren",
                "step_type": "export_document",
                "step_config": {"target": "buchhaltung", "format": "json", "include_original": True},
            },
            {
                "name": "Buchhaltung prüft",
                "step_type": "assign_user",
                "step_config": {"role": "clerk", "strategy": "least_loaded"},
                "conditions": {"!": [{"var": "steps.2.valid"}]},
            },
        ],
    },
]


def create_examples(apps, schema_editor):
    Workflow = apps.get_model("workflows", "Workflow")
    WorkflowStep = apps.get_model("workflows", "WorkflowStep")
    for example in EXAMPLES:
        steps = example["steps"]
        fields = {key: value for key, value in example.items() if key != "steps"}
        workflow, created = Workflow.objects.get_or_create(
            name=fields.pop("name"), defaults={**fields, "is_active": False, "is_system": True}
        )
        if not created:
            continue
        for order, step in enumerate(steps, start=1):
            WorkflowStep.objects.create(workflow=workflow, step_order=order, **step)


def remove_examples(apps, schema_editor):
    Workflow = apps.get_model("workflows", "Workflow")
    Workflow.objects.filter(name__in=[example["name"] for example in EXAMPLES], is_system=True).delete()


class Migration(migrations.Migration):
    dependencies = [("workflows", "0002_engine_state")]

    operations = [migrations.RunPython(create_examples, remove_examples)]
