"""Roles for teams and tax audits, and the sign-in options.

- ``auditor``: reads everything (every ``view_*`` permission, all documents, the audit log)
  and may change nothing; for a Betriebsprüfung (GoBD: read access for the tax auditor).
- ``reviewer`` no longer sees every document: with teams, reviewers work the review queue of
  their own teams (accounts.Team); a reviewer who must see everything gets
  ``accounts.view_all_documents`` individually.
- API keys that existed before scopes keep what they could do: read and write.
- Sign-in options in SystemConfig: lockout threshold and duration, roles that must use TOTP.

Reversible: the auditor role and the option keys are removed, reviewers regain the permission.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

AUDITOR_ROLE = "auditor"

AUTH_OPTIONS = [
    {
        "key": "auth.login_max_failures",
        "value_type": "int",
        "value": 5,
        "validation_rules": {"min": 1, "max": 100},
        "category": "auth",
        "description": "Nach so vielen fehlgeschlagenen Anmeldungen (je Konto und je IP-Adresse) wird gesperrt.",
    },
    {
        "key": "auth.lockout_minutes",
        "value_type": "int",
        "value": 15,
        "validation_rules": {"min": 1, "max": 1440},
        "category": "auth",
        "description": "So lange bleiben Konto bzw. IP-Adresse nach zu vielen Fehlversuchen gesperrt (Minuten).",
    },
    {
        "key": "auth.two_factor_roles",
        "value_type": "string",
        "value": "",
        "validation_rules": {"regex": r"([a-z_]+(,[a-z_]+)*)?"},
        "category": "auth",
        "description": "Rollen, die Zwei-Faktor-Anmeldung (TOTP) nutzen müssen, durch Kommas getrennt, "
        "z. B. „admin,reviewer“. Leer: für niemanden Pflicht.",
    },
]


def seed(apps, schema_editor):
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    APIKey = apps.get_model("accounts", "APIKey")
    SystemConfig = apps.get_model("system", "SystemConfig")

    auditor, _ = Group.objects.get_or_create(name=AUDITOR_ROLE)
    auditor.permissions.add(
        *Permission.objects.filter(codename__startswith="view_"),
    )
    view_all = Permission.objects.get(content_type__app_label="accounts", codename="view_all_documents")
    reviewer = Group.objects.filter(name="reviewer").first()
    if reviewer is not None:
        reviewer.permissions.remove(view_all)
    # The admin role had every permission that existed when it was seeded; keep it complete.
    admin = Group.objects.filter(name="admin").first()
    if admin is not None:
        admin.permissions.add(*Permission.objects.all())

    APIKey.objects.all().update(scopes=["read", "write"])
    for entry in AUTH_OPTIONS:
        SystemConfig.objects.get_or_create(key=entry["key"], defaults={k: v for k, v in entry.items() if k != "key"})


def unseed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    SystemConfig = apps.get_model("system", "SystemConfig")
    Group.objects.filter(name=AUDITOR_ROLE).delete()
    reviewer = Group.objects.filter(name="reviewer").first()
    if reviewer is not None:
        reviewer.permissions.add(
            Permission.objects.get(content_type__app_label="accounts", codename="view_all_documents")
        )
    SystemConfig.objects.filter(key__in=[entry["key"] for entry in AUTH_OPTIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_teams_api_key_limits_two_factor"),
        ("system", "0002_seed_defaults"),
        # The admin role is completed below with every permission, DocumentNote's included.
        ("documents", "0014_document_team"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
