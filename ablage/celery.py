"""Celery application. Queues: default, ocr_cpu, ocr_gpu, extraction, notifications."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ablage.settings")
# Tesseract spawns one thread per core by default; with one worker process per core that
# oversubscribes the CPU and is slower than single-threaded OCR.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

app = Celery("ablage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _ensure_broker_folders(**_kwargs):
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for key in ("data_folder_in", "processed_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)
