"""Celery application. Queues: default, ocr_cpu, ocr_gpu, extraction, notifications."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ablage.settings")
# Tesseract spawns one thread per core by default; with one worker process per core that
# oversubscribes the CPU and is slower than single-threaded OCR.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

app = Celery("ablage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
def _announce_worker(sender, **kwargs):
    """Readiness (/health/ready) sees a worker by its heartbeat row."""
    from monitoring import heartbeat

    queues = sorted(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    heartbeat.start(heartbeat.worker_name(sender), queues)


@signals.worker_shutting_down.connect
def _worker_stopping(sender, **kwargs):
    from monitoring import heartbeat

    heartbeat.stopping(str(sender))


@signals.task_failure.connect
def _record_task_failure(sender=None, **kwargs):
    from monitoring.errors import on_task_failure

    on_task_failure(sender=sender, **kwargs)


@signals.task_prerun.connect
def _log_context(task_id=None, task=None, args=None, **kwargs):
    """Worker log lines carry the task id (and the job id of a pipeline run)."""
    from ablage.logs import correlation_id, job_context

    correlation_id.set(task_id or "")
    job_context.set(
        {"job_id": args[0]} if task is not None and task.name == "documents.tasks.process_document" and args else {}
    )


@signals.beat_init.connect
def _sync_schedules(sender=None, **kwargs):
    """Beat starts from the admin-editable ScheduledTask rows (``system.scheduling``)."""
    from system.scheduling import scheduled_tasks_sync

    scheduled_tasks_sync()
