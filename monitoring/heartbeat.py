"""Celery workers announce themselves: a row per worker, refreshed every 30 seconds.

Readiness (``/health/ready``) asks "is some worker consuming each required queue?" from
these rows, which works for every broker. Hooked up in ``ablage/celery.py``.
"""

import logging
import os
import socket
import threading

from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 30
_stop = threading.Event()


def _beat(hostname: str, queues: list[str]) -> None:
    from monitoring.models import WorkerHeartbeat

    close_old_connections()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={"queues": queues, "pid": os.getpid(), "last_seen_at": timezone.now(), "stopping": False},
    )


def start(hostname: str, queues: list[str]) -> None:
    def loop():
        while not _stop.is_set():
            try:
                _beat(hostname, queues)
            except Exception:  # the database may be away for a moment; the next beat retries
                logger.warning("worker heartbeat failed", exc_info=True)
            _stop.wait(INTERVAL_SECONDS)

    threading.Thread(target=loop, name="ablage-heartbeat", daemon=True).start()


def stopping(hostname: str) -> None:
    from monitoring.models import WorkerHeartbeat

    _stop.set()
    try:
        close_old_connections()
        WorkerHeartbeat.objects.filter(hostname=hostname).update(stopping=True, last_seen_at=timezone.now())
    except Exception:
        logger.warning("could not mark worker %s as stopping", hostname, exc_info=True)


def worker_name(sender) -> str:
    return getattr(sender, "hostname", None) or socket.gethostname()
