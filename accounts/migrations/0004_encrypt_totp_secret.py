"""TOTP secrets encrypted at rest (system.crypto); existing plain-text secrets are encrypted."""

from django.db import migrations

import system.crypto

forwards, backwards = system.crypto.migration_encrypt_plaintext("accounts", "User", "totp_secret")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_seed_auditor_role_team_scoped_reviewers")]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="totp_secret",
            field=system.crypto.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.RunPython(forwards, backwards),
    ]
