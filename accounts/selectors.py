"""Who holds a permission: the one query behind reviewer pickers and administrator alerts."""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

# System alerts (critical errors, archive findings, accuracy drift) go to whoever may resolve
# recorded errors: superusers and the admin role, also when an admin is not a superuser.
ALERT_PERMISSION = "monitoring.change_errorlog"


def users_with_permission(permission: str) -> QuerySet:
    """Active users holding ``permission`` ("app_label.codename") directly, through a group, or as superuser."""
    app_label, codename = permission.split(".", 1)
    held = Q(content_type__app_label=app_label, codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__in=_permissions(held))
            | Q(groups__permissions__in=_permissions(held))
        )
        .distinct()
    )


def alert_recipients() -> QuerySet:
    return users_with_permission(ALERT_PERMISSION)


def _permissions(held: Q) -> QuerySet:
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(held).values("id")
