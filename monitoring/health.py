"""Readiness probes: database, Redis (when configured), storage, and a worker per queue.

Each probe returns a ``Probe``; ``/health/ready`` is 200 only when every probe is healthy.
Workers report themselves through ``WorkerHeartbeat`` rows (``monitoring.heartbeat``), so
readiness works with any broker, the embedded file-system one included.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from monitoring.models import HealthCheck, WorkerHeartbeat

WORKER_SEEN_WITHIN = timedelta(seconds=120)


@dataclass
class Probe:
    component: str
    status: str = HealthCheck.Status.HEALTHY
    response_time_ms: int = 0
    error: str = ""
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == HealthCheck.Status.HEALTHY

    def as_json(self) -> dict:
        data = {"status": self.status, "response_time_ms": self.response_time_ms}
        if self.error:
            data["error"] = self.error
        if self.details:
            data["details"] = self.details
        return data


def _timed(component: str, check) -> Probe:
    started = time.monotonic()
    probe = Probe(component)
    try:
        probe.details = check() or {}
    except Exception as error:  # a probe reports any failure; it must never raise
        probe.status = HealthCheck.Status.DOWN
        probe.error = f"{error.__class__.__name__}: {error}"[:500]
    probe.response_time_ms = int((time.monotonic() - started) * 1000)
    return probe


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def _storage():
    # A real round trip (write, read back, delete): listing alone passes on a read-only bucket.
    key = f"health/{uuid.uuid4().hex}.txt"
    payload = b"ablage health probe"
    saved = default_storage.save(key, ContentFile(payload))
    try:
        with default_storage.open(saved, "rb") as handle:
            if handle.read() != payload:
                raise OSError("read back differs from what was written")
    finally:
        default_storage.delete(saved)
    return {"backend": default_storage.__class__.__name__}


def _workers():
    since = timezone.now() - WORKER_SEEN_WITHIN
    seen = WorkerHeartbeat.objects.filter(last_seen_at__gte=since, stopping=False)
    covered = {queue for worker in seen for queue in worker.queues}
    missing = [queue for queue in settings.ABLAGE_REQUIRED_QUEUES if queue not in covered]
    if missing:
        raise RuntimeError(
            f"no worker seen in the last {int(WORKER_SEEN_WITHIN.total_seconds())} s for: {', '.join(missing)}"
        )
    return {"workers": sorted(worker.hostname for worker in seen), "queues": sorted(covered)}


def readiness_probes() -> list[Probe]:
    probes = [_timed("database", _database)]
    if settings.REDIS_URL:
        probes.append(_timed("redis", _redis))
    probes.append(_timed("storage", _storage))
    probes.append(_timed("workers", _workers))
    return probes


def probes_record(probes: list[Probe]) -> None:
    """Keep the result (scheduled check): the admin's status history."""
    HealthCheck.objects.bulk_create(
        HealthCheck(
            component=probe.component,
            status=probe.status,
            response_time_ms=probe.response_time_ms,
            details=probe.details,
            error_message=probe.error,
        )
        for probe in probes
    )
