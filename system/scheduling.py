"""Scheduled tasks: ``ScheduledTask`` rows are the admin-editable truth; django-celery-beat
runs them.

Each enabled row becomes one ``PeriodicTask`` (crontab in the row's time zone) that calls
``system.tasks.run_scheduled(name)``; that wrapper checks the row is still enabled and inside
its execution window, records the run (start, duration, success or the error) on the row,
and calls the real task in the same process. Defaults live in ``settings.ABLAGE_SCHEDULE``
and are created as rows by ``scheduled_tasks_sync`` (run by ``manage.py sync_schedules``, which
``make run`` calls before beat starts, and after each admin change).
"""

from __future__ import annotations

import importlib
import json
import logging
import time
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from system.models import ScheduledTask

logger = logging.getLogger(__name__)
PERIODIC_PREFIX = "ablage:"


def scheduled_tasks_sync() -> int:
    """Create missing default rows, then make django-celery-beat match the rows. Returns entries."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    for name, default in settings.ABLAGE_SCHEDULE.items():
        ScheduledTask.objects.get_or_create(
            name=name,
            defaults={
                "task": default["task"],
                "cron_expression": default["cron"],
                "description": default.get("description", ""),
                "kwargs": default.get("kwargs", {}),
            },
        )
    wanted = {}
    with transaction.atomic():
        for row in ScheduledTask.objects.filter(enabled=True):
            minute, hour, day_of_month, month_of_year, day_of_week = row.cron_expression.split()
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month_of_year,
                day_of_week=day_of_week,
                timezone=zoneinfo.ZoneInfo(row.timezone),
            )
            name = f"{PERIODIC_PREFIX}{row.name}"
            wanted[name] = row
            PeriodicTask.objects.update_or_create(
                name=name,
                defaults={
                    "task": "system.tasks.run_scheduled",
                    "args": json.dumps([row.name]),
                    "crontab": crontab,
                    "interval": None,
                    "enabled": True,
                    "description": row.description[:200],
                },
            )
        PeriodicTask.objects.filter(name__startswith=PERIODIC_PREFIX).exclude(name__in=wanted).delete()
    return len(wanted)


def scheduled_task_run(name: str) -> str:
    """Run one scheduled task now, recording the outcome on its row. Returns the status."""
    row = ScheduledTask.objects.filter(name=name).first()
    if row is None or not row.enabled:
        return "skipped"
    local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(row.timezone)).time()
    if not row.in_window(local):
        logger.info("scheduled task %s outside its window (%s–%s)", name, row.window_start, row.window_end)
        return "skipped"
    started = timezone.now()
    ScheduledTask.objects.filter(pk=row.pk).update(
        last_run_at=started, last_run_status=ScheduledTask.RunStatus.RUNNING, last_error=""
    )
    clock = time.monotonic()
    try:
        module, _, attribute = row.task.rpartition(".")
        task = getattr(importlib.import_module(module), attribute)
        task.apply(kwargs=row.kwargs or {}, throw=True)
    except Exception as error:
        ScheduledTask.objects.filter(pk=row.pk).update(
            last_run_status=ScheduledTask.RunStatus.FAILED,
            last_run_duration_ms=int((time.monotonic() - clock) * 1000),
            last_error=f"{error.__class__.__name__}: {error}"[:5000],
        )
        raise
    ScheduledTask.objects.filter(pk=row.pk).update(
        last_run_status=ScheduledTask.RunStatus.SUCCEEDED,
        last_run_duration_ms=int((time.monotonic() - clock) * 1000),
    )
    return "succeeded"
