from monitoring.models import AuditLog


def audit_log_record(*, actor, action: str, obj, changes: dict | None = None, message: str = "", ip_address=None):
    """Append one audit entry for ``obj``. Call inside the transaction that makes the change."""
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        changes=changes or {},
        message=message,
        ip_address=ip_address,
    )
