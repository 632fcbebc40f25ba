"""Celery application. Queues: default, ocr_cpu, ocr_gpu, extraction, notifications."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ablage.settings")
# Tesseract spawns one thread per core by default; with one worker process per core that
# oversubscribes the CPU and is slower than single-threaded OCR.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

app = Celery("ablage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
