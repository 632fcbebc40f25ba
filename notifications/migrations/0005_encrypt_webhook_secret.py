"""Webhook signing secrets encrypted at rest (system.crypto); existing secrets are encrypted."""

from django.db import migrations

import notifications.models
import system.crypto

forwards, backwards = system.crypto.migration_encrypt_plaintext("notifications", "WebhookEndpoint", "secret")


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_workflow_messages")]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=system.crypto.EncryptedTextField(
                default=notifications.models._new_webhook_secret, verbose_name="Signaturschlüssel"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
