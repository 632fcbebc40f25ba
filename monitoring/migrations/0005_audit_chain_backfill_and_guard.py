"""Put existing audit entries into the hash chain, and make the table append-only on PostgreSQL.

The guard is a trigger, not a REVOKE: the application usually connects as the table's owner,
and an owner can grant itself back what was revoked, while a trigger stops UPDATE and DELETE
for every role that cannot disable triggers (only a superuser can). To correct a real mistake
an administrator adds a new entry; nothing rewrites history. To see the guard:

    UPDATE monitoring_auditlog SET message = 'x';
    -- ERROR:  audit log is append-only (GoBD): UPDATE refused

SQLite (the embedded default) has no such guard; the hash chain still detects any change.
"""

import hashlib
import json

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION monitoring_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only (GoBD): % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS monitoring_auditlog_append_only ON monitoring_auditlog;
CREATE TRIGGER monitoring_auditlog_append_only
    BEFORE UPDATE OR DELETE ON monitoring_auditlog
    FOR EACH ROW EXECUTE FUNCTION monitoring_auditlog_append_only();
"""
UNGUARD = """
DROP TRIGGER IF EXISTS monitoring_auditlog_append_only ON monitoring_auditlog;
DROP FUNCTION IF EXISTS monitoring_auditlog_append_only();
"""


def _digest(entry, sequence, previous):
    # Same canonical form as monitoring.audit.entry_digest at the time of this migration.
    content = {
        "sequence": sequence,
        "previous_hash": previous,
        "created_at": entry.created_at.isoformat(),
        "actor": str(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "changes": entry.changes,
        "message": entry.message,
        "ip_address": entry.ip_address,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def backfill(apps, schema_editor):
    AuditLog = apps.get_model("monitoring", "AuditLog")
    previous = ""
    for sequence, entry in enumerate(AuditLog.objects.order_by("created_at", "id"), start=1):
        entry_hash = _digest(entry, sequence, previous)
        AuditLog.objects.filter(pk=entry.pk).update(sequence=sequence, previous_hash=previous, entry_hash=entry_hash)
        previous = entry_hash


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_audit_chain")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(guard, unguard),
    ]
