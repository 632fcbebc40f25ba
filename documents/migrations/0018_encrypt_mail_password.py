"""Mail passwords move into an encrypted field under the application key (system.crypto).

The column already held Fernet tokens under the key derived from SECRET_KEY; they are
re-encrypted under ABLAGE_FIELD_ENCRYPTION_KEY. A token no key opens is left as it was.
"""

from django.db import migrations

import system.crypto

forwards, backwards = system.crypto.migration_encrypt_plaintext(
    "documents", "MailAccount", "imap_password", held_tokens=True
)


class Migration(migrations.Migration):
    dependencies = [("documents", "0017_mail_documents_renditions_file_metadata")]

    operations = [
        migrations.RenameField("mailaccount", "password_encrypted", "imap_password"),
        migrations.AlterField(
            model_name="mailaccount",
            name="imap_password",
            field=system.crypto.EncryptedTextField(editable=False, verbose_name="Kennwort"),
        ),
        # Backwards would leave tokens under the new key, which the old code (SECRET_KEY-derived
        # key only) cannot open: such passwords have to be entered again after a downgrade.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
