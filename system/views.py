"""The settings screen: configuration values, feature flags and scheduled tasks, for admins.

Every change goes through the same services as the admin (validation, audit, cache
invalidation), so a value changed here is in effect in every process within the config
cache's lifetime (``system.selectors.CONFIG_CACHE_SECONDS``).
"""

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from monitoring.services import audit_log_record
from system.models import FeatureFlag, ScheduledTask, SystemConfig
from system.scheduling import scheduled_tasks_sync
from system.selectors import config_decode
from system.services import config_set


def _require_settings_admin(user) -> None:
    if not (user.is_superuser or user.has_perm("system.change_systemconfig")):
        raise PermissionDenied


def _shown(config: SystemConfig) -> str:
    if config.is_secret:
        return ""
    value = config_decode(config.value_type, config.value) if config.value is not None else ""
    if config.value_type == SystemConfig.ValueType.BOOL:
        return "true" if value else "false"
    if config.value_type == SystemConfig.ValueType.JSON:
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


@login_required
def settings_page(request):
    _require_settings_admin(request.user)
    groups = defaultdict(list)
    for config in SystemConfig.objects.order_by("category", "key"):
        groups[config.category or _("Allgemein")].append({"config": config, "shown": _shown(config)})
    return render(
        request,
        "system/settings.html",
        {
            "groups": dict(groups),
            "flags": FeatureFlag.objects.order_by("key"),
            "tasks": ScheduledTask.objects.order_by("name"),
            "errors": {},
        },
    )


@login_required
@require_POST
def config_update(request, key):
    _require_settings_admin(request.user)
    config = get_object_or_404(SystemConfig, key=key)
    raw = request.POST.get("value", "")
    if config.is_secret and raw == "":
        messages.info(request, _("„%(key)s“ unverändert (geheimer Wert).") % {"key": key})
        return redirect("system:settings")
    if config.value_type == SystemConfig.ValueType.JSON:
        import json

        try:
            raw = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError as error:
            messages.error(request, _("„%(key)s“: kein gültiges JSON (%(error)s).") % {"key": key, "error": error.msg})
            return redirect("system:settings")
    try:
        with transaction.atomic():
            config_set(key=key, value=raw, user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("„%(key)s“ gespeichert.") % {"key": key})
    return redirect("system:settings")


@login_required
@require_POST
def flag_update(request, key):
    _require_settings_admin(request.user)
    flag = get_object_or_404(FeatureFlag, key=key)
    try:
        percentage = int(request.POST.get("rollout_percentage", flag.rollout_percentage))
    except ValueError:
        percentage = -1
    if not 0 <= percentage <= 100:
        messages.error(request, _("Der Anteil muss zwischen 0 und 100 liegen."))
        return redirect("system:settings")
    before = {"enabled": flag.enabled, "rollout_percentage": flag.rollout_percentage}
    with transaction.atomic():
        FeatureFlag.objects.filter(pk=flag.pk).update(
            enabled=request.POST.get("enabled") == "on", rollout_percentage=percentage, updated_by=request.user
        )
        flag.refresh_from_db()
        after = {"enabled": flag.enabled, "rollout_percentage": flag.rollout_percentage}
        audit_log_record(
            actor=request.user, action="feature_flag.changed", obj=flag, changes={"old": before, "new": after}
        )
    messages.success(request, _("Schalter „%(key)s“ gespeichert.") % {"key": key})
    return redirect("system:settings")


@login_required
@require_POST
def task_toggle(request, name):
    _require_settings_admin(request.user)
    task = get_object_or_404(ScheduledTask, name=name)
    with transaction.atomic():
        ScheduledTask.objects.filter(pk=task.pk).update(enabled=not task.enabled)
        audit_log_record(
            actor=request.user,
            action="scheduled_task.toggled",
            obj=task,
            changes={"enabled": [task.enabled, not task.enabled]},
        )
    scheduled_tasks_sync()
    messages.success(request, _("Aufgabe „%(name)s“ gespeichert.") % {"name": name})
    return redirect("system:settings")
